"""Pre-resized TFRecord shards (sagan_tf/data/prepare.py, sagan-prepare-tfrecords): they
decode to the images the on-the-fly pipeline makes from the originals (PNG within rounding,
JPEG within its loss), training reads them, and bad input fails before any writing."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from sagan_tf import config as config_lib
from sagan_tf import data as data_lib
from sagan_tf.store import images as images_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
R = 16


def _smooth_image(rng, h, w):
  """A photo-like uint8 [h, w, 3]: a bilinear upsampling of a random 4x4 colour grid + noise."""
  grid = rng.uniform(0, 255, [4, 4, 3])
  yy, xx = np.meshgrid(np.linspace(0, 3, h), np.linspace(0, 3, w), indexing="ij")
  y0, x0 = np.minimum(yy.astype(int), 2), np.minimum(xx.astype(int), 2)
  fy, fx = (yy - y0)[..., None], (xx - x0)[..., None]
  img = ((1 - fy) * (1 - fx) * grid[y0, x0] + (1 - fy) * fx * grid[y0, x0 + 1]
         + fy * (1 - fx) * grid[y0 + 1, x0] + fy * fx * grid[y0 + 1, x0 + 1])
  return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
  """root/<a|b|c>/: 7 JPEG 'photos' of assorted sizes (portrait, landscape, square) > R."""
  rng = np.random.default_rng(0)
  root = tmp_path_factory.mktemp("photos")
  sizes = [(45, 60), (60, 45), (50, 50), (33, 71), (40, 64), (64, 40), (37, 37)]
  for i, (h, w) in enumerate(sizes):
    os.makedirs(root / "abc"[i % 3], exist_ok=True)
    Image.fromarray(_smooth_image(rng, h, w)).save(str(root / "abc"[i % 3] / f"{i}.jpg"),
                                                    quality=90)
  return str(root)


def _cfg(**overrides):
  c = config_lib.base_config()
  c.update(resolution=R, num_classes=3, shuffle_buffer=16)
  c.update(overrides)
  return c


def _eval_images(c):
  batches = list(data_lib.build_eval_dataset(c, 4, 100))
  return (np.concatenate([x.numpy() for x, _ in batches]),
          np.concatenate([y.numpy() for _, y in batches]))


@pytest.mark.parametrize("image_format,max_tol,mean_tol", [
    ("png", 0.5 / 127.5 + 1e-6, 0.5 / 127.5),  # lossless: only the uint8 rounding
    ("jpeg", 0.4, 0.05)])                     # JPEG q95 (4:2:0 chroma) at 16 px: ~4 levels
def test_pre_resized_shards_decode_to_the_on_the_fly_images(photo_folder, tmp_path,
                                                           image_format, max_tol, mean_tol):
  source = _cfg(dataset="folder", data_dir=photo_folder)
  want, want_labels = _eval_images(source)  # full-size JPEG decoded and resized on the fly
  prefix = str(tmp_path / "out" / "train")
  count, paths = data_lib.write_resized_shards(source, prefix, num_shards=2,
                                               image_format=image_format)
  assert count == 7 and paths == [f"{prefix}-00000-of-00002.tfrecord",
                                  f"{prefix}-00001-of-00002.tfrecord"]
  resized = _cfg(dataset="tfrecord", data_dir=f"{prefix}-*.tfrecord")
  got, got_labels = _eval_images(resized)
  order = list(range(0, 7, 2)) + list(range(1, 7, 2))  # record i went to shard i % 2
  want, want_labels = want[order], want_labels[order]
  np.testing.assert_array_equal(got_labels, want_labels)
  err = np.abs(got - want)
  assert err.max() <= max_tol and err.mean() <= mean_tol, (err.max(), err.mean())
  if image_format == "png":  # exactly the quantized on-the-fly image
    np.testing.assert_allclose(got, images_lib.to_uint8(want).numpy() / 127.5 - 1.0, atol=1e-6)
  # Training reads the shards as any TFRecords.
  x, y = next(iter(data_lib.build_dataset(resized, 4)))
  assert x.shape == (4, R, R, 3) and set(y.numpy()) <= {0, 1, 2}


def test_max_examples_and_errors(photo_folder, tmp_path):
  source = _cfg(dataset="folder", data_dir=photo_folder)
  prefix = str(tmp_path / "few")
  assert data_lib.write_resized_shards(source, prefix, num_shards=3, max_examples=4)[0] == 4
  with pytest.raises(ValueError, match="already match .*few-\\*.tfrecord"):
    data_lib.write_resized_shards(source, prefix)
  with pytest.raises(ValueError, match="nothing to prepare"):
    data_lib.write_resized_shards(_cfg(), str(tmp_path / "syn"))
  with pytest.raises(ValueError, match="image_format='gif'"):
    data_lib.write_resized_shards(source, str(tmp_path / "g"), image_format="gif")
  with pytest.raises(FileNotFoundError, match="does not exist"):
    data_lib.write_resized_shards(_cfg(dataset="folder", data_dir=str(tmp_path / "none")),
                                  str(tmp_path / "n"))
  assert not list(tmp_path.glob("syn*")) + list(tmp_path.glob("g-*")) + list(
      tmp_path.glob("n-*"))


def test_tool_writes_shards_and_reports_bad_input_in_one_line(photo_folder, tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  tool = ["-m", "sagan_tf.cli.prepare_tfrecords"]
  common = ["--config=experiments/cpu_demo.py", f"--config.resolution={R * 2}",
            "--config.num_classes=3"]
  good = subprocess.Popen(
      [sys.executable, *tool, *common, "--config.dataset=folder",
       f"--config.data_dir={photo_folder}", f"--output={tmp_path}/p/train", "--num_shards=2",
       "--format=jpeg"], cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE)
  bad = subprocess.Popen([sys.executable, *tool, *common, f"--output={tmp_path}/q"], cwd=REPO,
                         env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  out, err = good.communicate(timeout=300)
  assert good.returncode == 0, err[-2000:]
  assert "Wrote 7 records (32x32 jpeg" in out
  assert f"--config.data_dir='{tmp_path}/p/train-*.tfrecord'" in out
  assert len(list((tmp_path / "p").glob("train-*-of-00002.tfrecord"))) == 2
  out, err = bad.communicate(timeout=300)
  assert bad.returncode != 0 and "Traceback" not in err
  assert err.strip().splitlines()[-1].startswith("prepare_tfrecords: dataset='synthetic'")
