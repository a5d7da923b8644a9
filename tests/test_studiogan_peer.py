"""tools/studiogan_peer.py: its data reading equals sagan_tf's folder pipeline (class ids,
order, preprocessing), its uint8 conversion equals store.images.to_uint8, its real-batch stream
visits every image once per epoch; and, only where PyTorch and StudioGAN's src are given
(SAGAN_TORCH_PYTHON, STUDIOGAN_SRC), a smoke run: 3 iterations at batch 4, 16 samples.

The tool runs under a Python with PyTorch; the project's venv has none, so here it is imported
for its data helpers (numpy + Pillow) only."""

import importlib.util
import json
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sagan_tf.data import common
from sagan_tf.data import folder
from sagan_tf.store import images as images_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SPEC = importlib.util.spec_from_file_location(
    "studiogan_peer", os.path.join(REPO, "tools", "studiogan_peer.py"))
peer = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(peer)


def _folder(root):
  """Classes '10', '2', 'b' (natural order: 2, 10, b), a nested subfolder, hidden and non-image
  files, RGB / RGBA / grey PNGs and a BMP of several sizes (non-square, smaller than 32), and a
  corrupt file."""
  rng = np.random.default_rng(0)
  shapes = [(64, 64), (100, 70), (45, 45), (20, 20), (31, 47), (97, 97)]
  for c, name in enumerate(("10", "2", "b")):
    for i, (h, w) in enumerate(shapes):
      sub = root / name / ("nested" if i == 3 else "")
      sub.mkdir(parents=True, exist_ok=True)
      pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
      if i == 1:
        Image.fromarray(np.dstack([pixels, pixels[..., :1]])).save(sub / f"{i}.png")  # RGBA
      elif i == 2:
        Image.fromarray(pixels[..., 0]).save(sub / f"{i}.png")  # grey (L)
      elif i == 4 and c == 1:
        Image.fromarray(pixels).save(sub / f"{i}.bmp")
      else:
        Image.fromarray(pixels).save(sub / f"{i}.PNG" if i == 5 else sub / f"{i}.png")
  (root / "2" / ".hidden.png").write_bytes((root / "2" / "0.png").read_bytes())
  (root / "2" / "notes.txt").write_text("not an image")
  (root / "b" / "broken.png").write_bytes(b"not a png")
  (root / ".cache").mkdir()
  return str(root)


def test_reads_the_folder_as_the_pipeline_does(tmp_path):
  root = _folder(tmp_path / "data")
  paths, labels, classes = folder.list_images(root, 3)
  assert peer.list_images(root) == (paths, labels, classes)
  assert classes == ["2", "10", "b"]
  images, kept, names, skipped = peer.load_images(root, 32)
  assert names == classes and skipped == [os.path.join(root, "b", "broken.png")]
  good = [(p, l) for p, l in zip(paths, labels) if p not in skipped]
  assert kept.tolist() == [l for _, l in good] and images.shape == (len(good), 32, 32, 3)
  ours = np.stack([common.center_crop_resize(common.decode_image(tf.io.read_file(p)), 32)
                   for p, _ in good])
  # Pillow's antialiased bilinear in float32 is TensorFlow's to float rounding (observed
  # 6e-7; 5e-7 on the 3,812 emoji)
  np.testing.assert_allclose(images, ours, rtol=0, atol=1e-5)
  assert images.min() >= -1 and images.max() <= 1


def test_uint8_conversion_and_the_real_batch_stream():
  x = np.linspace(-1.2, 1.2, 2001, dtype=np.float32).reshape(-1, 1, 1, 3)[:666]
  np.testing.assert_array_equal(peer.to_uint8(x), images_lib.to_uint8(x).numpy())
  stream = peer.RealBatches(10, 4, seed=0)
  drawn = np.concatenate([stream.next_indices() for _ in range(5)])  # 2 epochs: 20 indices
  assert sorted(drawn[:10]) == list(range(10)) and sorted(drawn[10:]) == list(range(10))
  assert not np.array_equal(drawn[:10], drawn[10:])  # reshuffled every epoch


TORCH_PYTHON = os.environ.get("SAGAN_TORCH_PYTHON")
STUDIOGAN_SRC = os.environ.get("STUDIOGAN_SRC")


@pytest.mark.skipif(not (TORCH_PYTHON and STUDIOGAN_SRC),
                    reason="set SAGAN_TORCH_PYTHON (a Python with torch) and STUDIOGAN_SRC "
                    "(PyTorch-StudioGAN's src) to run the peer")
def test_peer_trains_and_samples(tmp_path):
  rng = np.random.default_rng(0)
  root = tmp_path / "data"
  for name in ("a", "b", "c"):
    (root / name).mkdir(parents=True)
    for i in range(4):
      Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
          root / name / f"{i}.png")
  out = tmp_path / "run"
  env = dict(os.environ)
  env.pop("PYTHONPATH", None)
  common_flags = [f"--studiogan_src={STUDIOGAN_SRC}", "--num_samples=16",
                  "--bn_stats_batches=2", "--bn_stats_batch_size=8"]
  train = subprocess.run(
      [TORCH_PYTHON, "tools/studiogan_peer.py", "train", *common_flags, f"--data_dir={root}",
       f"--out_dir={out}", "--num_steps=3", "--batch_size=4", "--warmup=1", "--log_every=1",
       "--ema_start_step=1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert train.returncode == 0, train.stderr[-3000:]
  summary = json.loads((out / "peer.json").read_text())
  assert summary["num_images"] == 12 and summary["num_classes"] == 3
  assert summary["iterations_per_sec"] > 0
  with np.load(out / "samples.npz") as f:
    images, labels = f["images"], f["labels"]
    assert float(f["iterations_per_sec"]) == summary["iterations_per_sec"]
  assert images.shape == (16, 32, 32, 3) and images.dtype == np.uint8
  assert labels.shape == (16,) and set(labels.tolist()) <= {0, 1, 2}
  again = out / "again.npz"  # the sample command on the checkpoint: the same samples
  sample = subprocess.run(
      [TORCH_PYTHON, "tools/studiogan_peer.py", "sample", *common_flags,
       f"--checkpoint={out / 'checkpoint.pt'}", f"--out={again}"], cwd=REPO, env=env,
      capture_output=True, text=True, timeout=600)
  assert sample.returncode == 0, sample.stderr[-3000:]
  with np.load(again) as f:
    np.testing.assert_array_equal(f["images"], images)
    np.testing.assert_array_equal(f["labels"], labels)
