"""Data pipelines: synthetic, image folder, TFRecords, TFDS (mocked), preprocessing, errors."""

import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from sagan_tf import config as config_lib
from sagan_tf import data as data_lib
from sagan_tf.data import common
from sagan_tf.data import folder
from sagan_tf.data import pipeline
from sagan_tf import choices


def cfg(**overrides):
  c = config_lib.base_config()
  c.resolution = 16
  c.num_classes = 10
  c.shuffle_buffer = 64
  c.update(overrides)
  return c


def take(ds, n):
  """The first n batches as numpy (images, labels) concatenated."""
  images, labels = [], []
  for x, y in ds.take(n):
    images.append(x.numpy())
    labels.append(y.numpy())
  return np.concatenate(images), np.concatenate(labels)


def ctx(n, i):
  return tf.distribute.InputContext(num_input_pipelines=n, input_pipeline_id=i)


def rows(images):
  """Images as a list of hashable byte strings, for set comparisons."""
  return [np.round(x, 5).tobytes() for x in images]


# ---------------------------------------------------------------- synthetic


def test_synthetic_deterministic_symmetric_labels():
  x1, y1 = take(data_lib.build_dataset(cfg(), 8), 1)
  x2, y2 = take(data_lib.build_dataset(cfg(), 8), 1)
  x3, _ = take(data_lib.build_dataset(cfg(data_seed=1), 8), 1)
  assert x1.shape == (8, 16, 16, 3) and x1.dtype == np.float32 and y1.dtype == np.int32
  np.testing.assert_array_equal(x1, x2)
  np.testing.assert_array_equal(y1, y2)
  assert np.abs(x1 - x3).max() > 0.1
  assert x1.min() >= -1 and x1.max() <= 1
  assert np.all(data_lib.symmetry_error(x1).numpy() == 0.0)
  assert y1.min() >= 0 and y1.max() < 10
  _, y0 = take(data_lib.build_dataset(cfg(num_classes=0), 8), 1)
  assert np.all(y0 == 0)


def test_synthetic_class_names_say_shape_and_size():
  names = data_lib.class_names(cfg(num_classes=31))
  assert names[:10] == ["disk", "square", "ring", "diamond", "cross", "triangle", "hbar",
                        "vbar", "hollow_square", "x"]
  assert (names[10], names[19], names[25], names[30]) == (
      "small_disk", "small_x", "large_triangle", "disk_1")
  assert len(set(names)) == 31
  assert data_lib.class_names(cfg(num_classes=0)) is None


def test_symmetry_error_of_random_images():
  noise = tf.random.stateless_uniform([4, 16, 16, 3], [1, 2], -1.0, 1.0)
  assert np.all(data_lib.symmetry_error(noise).numpy() > 0.1)


def test_synthetic_sharding_and_resume():
  c = cfg()
  u, uy = take(data_lib.build_dataset(c, 8), 1)
  s0, _ = take(data_lib.build_dataset(c, 4, ctx(2, 0)), 1)
  s1, s1y = take(data_lib.build_dataset(c, 4, ctx(2, 1)), 1)
  np.testing.assert_array_equal(s0, u[0::2])  # shards interleave to the unsharded stream
  np.testing.assert_array_equal(s1, u[1::2])
  np.testing.assert_array_equal(s1y, uy[1::2])
  a, _ = take(data_lib.build_dataset(c, 4), 2)
  b, _ = take(data_lib.build_dataset(c, 4, start_index=4), 1)
  np.testing.assert_array_equal(b, a[4:])  # resume continues exactly
  r1, _ = take(data_lib.build_dataset(c, 2, ctx(2, 1), start_index=2), 1)
  np.testing.assert_array_equal(r1, s1[2:])


def test_synthetic_eval_is_finite_and_not_training_data():
  c = cfg()
  batches = list(data_lib.build_eval_dataset(c, 4, 10))
  assert [int(x.shape[0]) for x, _ in batches] == [4, 4, 2]
  ev = np.concatenate([x.numpy() for x, _ in batches])
  np.testing.assert_array_equal(data_lib.symmetry_error(ev).numpy(), 0.0)
  ev2 = np.concatenate([x.numpy() for x, _ in data_lib.build_eval_dataset(c, 3, 10)])
  np.testing.assert_array_equal(ev, ev2)
  for data_seed in (0, 1, 2):  # one real set for every run, never a training example of any
    c = cfg(data_seed=data_seed)
    ev_seed = np.concatenate([x.numpy() for x, _ in data_lib.build_eval_dataset(c, 10, 10)])
    np.testing.assert_array_equal(ev_seed, ev)
    train, _ = take(data_lib.build_dataset(c, 10), 1)
    dist = np.abs(ev[:, None] - train[None]).max(axis=(2, 3, 4))
    assert dist.min() > 0


def test_which_evaluation_data_is_held_out():
  assert data_lib.eval_data_is_held_out(cfg())  # the synthetic evaluation stream
  tfds = cfg(dataset="tfds", split="train", eval_split="validation")
  assert data_lib.eval_data_is_held_out(tfds)
  assert not data_lib.eval_data_is_held_out(tfds, split="train")
  assert not data_lib.eval_data_is_held_out(cfg(dataset="tfds", split="train", eval_split="train"))
  for dataset in ("folder", "tfrecord"):  # no splits: the training files
    assert not data_lib.eval_data_is_held_out(cfg(dataset=dataset), split="test")


def test_evaluation_data_names_and_sizes_known_without_reading():
  assert data_lib.eval_data_name(cfg()) == "the synthetic held-out stream"
  assert data_lib.eval_data_size(cfg()) is None  # unbounded
  records = cfg(dataset="tfrecord", data_dir="/d/train-*.tfrecord")
  assert data_lib.eval_data_name(records) == "the TFRecords /d/train-*.tfrecord"
  assert data_lib.eval_data_size(records) is None  # not counted
  assert data_lib.eval_data_name(cfg(dataset="tfds", tfds_name="cifar10", eval_split="test"),
                                 split="train") == "TFDS cifar10 split 'train'"


def test_data_seed_must_not_be_the_held_out_stream():
  with pytest.raises(ValueError, match="data_seed=-1 must be >= 0"):
    config_lib.validate(cfg(data_seed=-1))


def test_dataset_names():
  assert pipeline.DATASETS == choices.DATASETS
  c = cfg(dataset="nope")
  for fn in (lambda: data_lib.check_config(c), lambda: data_lib.build_dataset(c, 2),
             lambda: data_lib.build_eval_dataset(c, 2, 4)):
    with pytest.raises(ValueError, match="nope"):
      fn()


# ---------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("shape,top,left", [((40, 20), 10, 0), ((41, 20), 10, 0),
                                            ((20, 40), 0, 10), ((20, 45), 0, 12)])
def test_center_crop_takes_the_largest_central_square(shape, top, left):
  h, w = shape
  rng = np.random.default_rng(0)
  image = np.full([h, w, 3], 250, np.uint8)
  square = rng.integers(0, 256, [20, 20, 3], dtype=np.uint8)
  image[top:top + 20, left:left + 20] = square
  same = common.center_crop_resize(tf.constant(image), 20).numpy()
  np.testing.assert_allclose(same, square / 127.5 - 1.0, atol=1e-6)
  image[top:top + 20, left:left + 20] = 60  # a constant square: resizing must keep it constant
  small = common.center_crop_resize(tf.constant(image), 8).numpy()
  assert small.shape == (8, 8, 3)
  np.testing.assert_allclose(small, 60 / 127.5 - 1.0, atol=1e-5)


# ---------------------------------------------------------------- folder


def _png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


@pytest.fixture
def image_folder(tmp_path):
  """root/cat: 3 PNG + 1 JPEG; root/dog: 2 PNG, a BMP, a 2-frame GIF, a corrupt PNG, a .txt."""
  rng = np.random.default_rng(1)
  root = tmp_path / "images"
  expected = []  # (uint8 image, label) of the losslessly stored files
  for i in range(3):
    a = rng.integers(0, 256, [12, 12, 3], dtype=np.uint8)
    _png(str(root / "cat" / f"c{i}.png"), a)
    expected.append((a, 0))
  Image.fromarray(rng.integers(0, 256, [12, 16, 3], dtype=np.uint8)).save(
      str(root / "cat" / "c3.JPG"), format="JPEG")
  for i in range(2):
    a = rng.integers(0, 256, [12, 12, 3], dtype=np.uint8)
    _png(str(root / "dog" / f"d{i}.png"), a)
    expected.append((a, 1))
  a = rng.integers(0, 256, [12, 12, 3], dtype=np.uint8)
  Image.fromarray(a).save(str(root / "dog" / "d2.bmp"))
  expected.append((a, 1))
  first = np.zeros([12, 12, 3], np.uint8)
  first[:, :6] = (255, 0, 0)
  first[:, 6:] = (0, 0, 255)
  second = np.full([12, 12, 3], (0, 255, 0), np.uint8)
  Image.fromarray(first).save(str(root / "dog" / "d3.gif"), save_all=True,
                              append_images=[Image.fromarray(second)])
  expected.append((first, 1))
  (root / "dog" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
  (root / "dog" / "notes.txt").write_text("ignored")
  return str(root), expected


def test_folder_reads_formats_and_skips_corrupt_files(image_folder):
  root, expected = image_folder
  c = cfg(dataset="folder", data_dir=root, num_classes=2, resolution=12)
  data_lib.check_config(c)
  batches = list(data_lib.build_eval_dataset(c, 3, 100))
  images = np.concatenate([x.numpy() for x, _ in batches])
  labels = np.concatenate([y.numpy() for _, y in batches])
  assert images.shape == (8, 12, 12, 3)  # 9 image files, the corrupt one skipped
  assert data_lib.eval_data_size(c) == 9  # counted without reading: the corrupt one too
  assert data_lib.eval_data_name(c) == f"the folder {root}"
  assert labels.dtype == np.int32 and sorted(labels) == [0] * 4 + [1] * 4
  # Class round-robin order over the sorted files (c0 bad c1 d0 c2 d1 c3 d2 d3), bad skipped.
  assert list(labels) == [0, 0, 1, 0, 1, 0, 1, 1]
  assert images.min() >= -1 and images.max() <= 1
  for array, label in expected:  # PNG, BMP and the GIF's first frame come back exactly
    want = array / 127.5 - 1.0
    assert any(np.allclose(img, want, atol=1e-6) and lab == label
               for img, lab in zip(images, labels)), label
  assert os.path.join(root, "dog", "bad.png") in folder.unreadable_files()
  assert not any(p.endswith("notes.txt") for p in folder.unreadable_files())
  # Training batches: only decodable images, deterministic per seed, fresh order on resume.
  x, y = take(data_lib.build_dataset(c, 8), 3)
  assert x.shape == (24, 12, 12, 3) and set(y) <= {0, 1}
  assert set(rows(x)) <= set(rows(images))
  assert len(set(rows(x[:8]))) == 8  # one epoch = each readable image once
  x2, _ = take(data_lib.build_dataset(c, 8), 3)
  np.testing.assert_array_equal(x, x2)
  x3, _ = take(data_lib.build_dataset(c, 8, start_index=24), 1)
  assert set(rows(x3)) == set(rows(x[:8])) and rows(x3) != rows(x[:8])


def test_folder_classes_are_in_natural_order(tmp_path):
  # Class ids follow the documented order: digit runs by number, so '1', '2', '10' (a string
  # sort gives '1', '10', '2'); each folder's images carry its id.
  for value, name in ((10, "1"), (20, "2"), (30, "10")):
    _png(str(tmp_path / "n" / name / "x.png"), np.full([4, 4, 3], value, np.uint8))
  (tmp_path / "n" / ".hidden").mkdir()
  paths, labels, names = folder.list_images(str(tmp_path / "n"), 3)
  assert names == ["1", "2", "10"]
  assert [(os.path.basename(os.path.dirname(p)), y) for p, y in zip(paths, labels)] == [
      ("1", 0), ("2", 1), ("10", 2)]
  assert data_lib.class_names(cfg(dataset="folder", data_dir=str(tmp_path / "n"),
                                  num_classes=3)) == ["1", "2", "10"]
  for name in ("img10", "img2", "dog", "cat", "1", "01", "b1c10", "b1c9"):
    (tmp_path / "m" / name).mkdir(parents=True)
  assert folder.class_names(str(tmp_path / "m")) == [
      "01", "1", "b1c9", "b1c10", "cat", "dog", "img2", "img10"]


def test_folder_sharding_is_disjoint(tmp_path):
  rng = np.random.default_rng(2)
  for cls in ("a", "b"):
    for i in range(3):
      _png(str(tmp_path / cls / f"{i}.png"), rng.integers(0, 256, [8, 8, 3], dtype=np.uint8))
  c = cfg(dataset="folder", data_dir=str(tmp_path), num_classes=2, resolution=8)
  s0, _ = take(data_lib.build_dataset(c, 3, ctx(2, 0)), 1)
  s1, _ = take(data_lib.build_dataset(c, 3, ctx(2, 1)), 1)
  everything = np.concatenate([x.numpy() for x, _ in data_lib.build_eval_dataset(c, 6, 6)])
  assert not set(rows(s0)) & set(rows(s1))
  assert set(rows(s0)) | set(rows(s1)) == set(rows(everything))


def test_folder_errors(tmp_path):
  def fails(exc, match, **kw):
    c = cfg(dataset="folder", **kw)
    with pytest.raises(exc, match=match):
      data_lib.check_config(c)
    with pytest.raises(exc, match=match):
      data_lib.build_dataset(c, 2)
  fails(FileNotFoundError, "does not exist", data_dir=str(tmp_path / "missing"))
  (tmp_path / "empty").mkdir()
  fails(ValueError, "no class subfolders", data_dir=str(tmp_path / "empty"), num_classes=2)
  fails(ValueError, "no images", data_dir=str(tmp_path / "empty"), num_classes=0)
  _png(str(tmp_path / "flat" / "x.png"), np.zeros([8, 8, 3], np.uint8))
  fails(ValueError, "no class subfolders", data_dir=str(tmp_path / "flat"), num_classes=2)
  for cls in ("a", "b"):
    _png(str(tmp_path / "two" / cls / "x.png"), np.zeros([8, 8, 3], np.uint8))
  fails(ValueError, "2 class subfolders but num_classes=3", data_dir=str(tmp_path / "two"),
        num_classes=3)
  (tmp_path / "bad" / "a").mkdir(parents=True)
  (tmp_path / "bad" / "a" / "x.jpg").write_bytes(b"nope")
  with pytest.raises(ValueError, match="could be decoded"):
    data_lib.check_config(cfg(dataset="folder", data_dir=str(tmp_path / "bad"), num_classes=1))
  # Unconditional: a flat folder works and labels are zeros.
  c = cfg(dataset="folder", data_dir=str(tmp_path / "flat"), num_classes=0, resolution=8)
  data_lib.check_config(c)
  x, y = take(data_lib.build_dataset(c, 2), 1)
  assert x.shape == (2, 8, 8, 3) and np.all(y == 0)


# ---------------------------------------------------------------- tfrecord


def test_tfrecord_roundtrip_sharding_and_errors(tmp_path):
  rng = np.random.default_rng(3)
  square = rng.integers(0, 256, [6, 12, 12, 3], dtype=np.uint8)
  tall = rng.integers(0, 256, [24, 12, 3], dtype=np.uint8)
  labels = [0, 1, 2, 0, 1, 2, 1]
  assert data_lib.write_tfrecords(square[:3], labels[:3], str(tmp_path / "r" / "a.tfrecord")) == 3
  data_lib.write_tfrecords(list(square[3:]) + [tall], labels[3:],
                           str(tmp_path / "r" / "b.tfrecord"))
  c = cfg(dataset="tfrecord", data_dir=str(tmp_path / "r" / "*.tfrecord"), num_classes=3,
          resolution=12)
  data_lib.check_config(c)
  batches = list(data_lib.build_eval_dataset(c, 4, 100))
  assert [int(x.shape[0]) for x, _ in batches] == [4, 3]
  x = np.concatenate([b[0].numpy() for b in batches])
  y = np.concatenate([b[1].numpy() for b in batches])
  want = np.concatenate([square, tall[None, 6:18]]) / 127.5 - 1.0
  np.testing.assert_allclose(x, want, atol=1e-6)
  assert y.dtype == np.int32 and list(y) == labels
  # Training: 2 pipelines shard the 2 files, 3 pipelines shard the records; epochs are disjoint.
  for n, sizes in ((2, (3, 4)), (3, (3, 2, 2))):
    seen = []
    for i in range(n):
      xi, yi = take(data_lib.build_dataset(c, 1, ctx(n, i)), sizes[i])
      assert set(yi) <= {0, 1, 2}
      seen += rows(xi)
    assert len(seen) == 7 and set(seen) == set(rows(x))
  _, y0 = take(data_lib.build_dataset(cfg(**{**c, "num_classes": 0}), 4), 1)
  assert np.all(y0 == 0)
  # A label outside [0, num_classes) stops the pipeline.
  data_lib.write_tfrecords(square[:2], [0, 5], str(tmp_path / "big.tfrecord"))
  c_big = cfg(dataset="tfrecord", data_dir=str(tmp_path / "big.tfrecord"), num_classes=3,
              resolution=12)
  with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=3"):
    take(data_lib.build_eval_dataset(c_big, 2, 2), 1)
  # No files match.
  c_none = cfg(dataset="tfrecord", data_dir=str(tmp_path / "nothing-*.tfrecord"))
  with pytest.raises(FileNotFoundError, match="No TFRecord files match"):
    data_lib.check_config(c_none)
  with pytest.raises(FileNotFoundError, match="No TFRecord files match"):
    data_lib.build_dataset(c_none, 2)


# ---------------------------------------------------------------- tfds


def test_tfds_mocked_cifar10(tmp_path):
  c = cfg(dataset="tfds", tfds_name="cifar10", data_dir=str(tmp_path), num_classes=10,
          resolution=32, eval_split="test")
  with tfds.testing.mock_data(num_examples=6):
    data_lib.check_config(c)
    raw = list(tfds.load("cifar10", split="test", data_dir=str(tmp_path), shuffle_files=False))
    batches = list(data_lib.build_eval_dataset(c, 4, 100))
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_allclose(x, np.stack([r["image"].numpy() for r in raw]) / 127.5 - 1.0,
                               atol=1e-6)
    assert y.dtype == np.int32 and list(y) == [int(r["label"]) for r in raw]
    xt, yt = take(data_lib.build_dataset(cfg(**{**c, "resolution": 16}), 4, ctx(2, 1)), 3)
    assert xt.shape == (12, 16, 16, 3) and xt.dtype == np.float32
    assert xt.min() >= -1 and xt.max() <= 1 and yt.min() >= 0 and yt.max() < 10
    _, y0 = take(data_lib.build_dataset(cfg(**{**c, "num_classes": 0}), 4), 1)
    assert np.all(y0 == 0)
    with pytest.raises(ValueError, match="10 classes but num_classes=5"):
      data_lib.check_config(cfg(**{**c, "num_classes": 5}))
    with pytest.raises(ValueError, match="10 classes but num_classes=5"):
      data_lib.build_dataset(cfg(**{**c, "num_classes": 5}), 2)


def test_tfds_missing_data_and_unknown_name(tmp_path):
  c = cfg(dataset="tfds", tfds_name="cifar10", data_dir=str(tmp_path), num_classes=10)
  for fn in (lambda: data_lib.check_config(c), lambda: data_lib.build_dataset(c, 2),
             lambda: data_lib.build_eval_dataset(c, 2, 4)):
    with pytest.raises(FileNotFoundError, match="tfds build cifar10") as e:
      fn()
    assert str(tmp_path) in str(e.value)
  with pytest.raises(ValueError, match="no dataset named"):
    data_lib.check_config(cfg(**{**c, "tfds_name": "no_such_dataset_xyz"}))


class SaganTfTestTinyImages(tfds.core.GeneratorBasedBuilder):
  """A real (not mocked) TFDS dataset prepared locally: 12 images of 10x14, 3 named classes."""
  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3)),
        "label": tfds.features.ClassLabel(names=["owl", "cat", "dog"])}))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {"train": self._generate_examples(12)}

  def _generate_examples(self, n):
    rng = np.random.default_rng(4)
    for i in range(n):
      yield i, {"image": rng.integers(0, 256, [10, 14, 3], dtype=np.uint8), "label": i % 3}


def test_tfds_prepared_dataset_sharding(tmp_path):
  builder = SaganTfTestTinyImages(data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(num_shards=3))
  c = cfg(dataset="tfds", tfds_name=builder.name, data_dir=str(tmp_path), num_classes=3,
          resolution=10, eval_split="train")
  data_lib.check_config(c)
  assert data_lib.class_names(c) == ["owl", "cat", "dog"]  # the ClassLabel's, in its order
  assert data_lib.eval_data_size(c) == 12  # the split's recorded size
  assert data_lib.eval_data_size(c, split="test") is None  # TFDS has no such split
  raw = list(builder.as_dataset(split="train", shuffle_files=False))
  x, y = take(data_lib.build_eval_dataset(c, 5, 100), 3)
  want = np.stack([r["image"].numpy()[:, 2:12] for r in raw]) / 127.5 - 1.0  # central 10x10
  np.testing.assert_allclose(x, want, atol=1e-6)
  assert list(y) == [int(r["label"]) for r in raw]
  # 2 pipelines shard the 3 files, 4 pipelines shard examples: disjoint, covering everything.
  for n in (2, 4):
    seen = [set(rows(take(data_lib.build_dataset(c, 1, ctx(n, i)), 24)[0])) for i in range(n)]
    assert sum(len(s) for s in seen) == 12 and set().union(*seen) == set(rows(x))
