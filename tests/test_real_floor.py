"""tools/real_floor.py: FID and KID between the halves of a real-data cache, against scipy and a
numpy KID; a file that is not a cache is one line."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from sagan_tf.evaluation import real_stats
from sagan_tf.evaluation.classifier import POOL

import inception_images

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SPEC = importlib.util.spec_from_file_location("real_floor",
                                               os.path.join(REPO, "tools", "real_floor.py"))
real_floor = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(real_floor)
QUIET_BY_DEFAULT = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def _kid(a, b):
  """Unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3 (Binkowski et al. 2018)."""
  d = a.shape[1]
  k = lambda x, y: (x @ y.T / d + 1) ** 3
  kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
  m = len(a)
  return ((kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
          - 2 * kab.mean())


def _floor(*paths):
  return subprocess.run([sys.executable, "tools/real_floor.py", *map(str, paths)], cwd=REPO,
                        env=QUIET_BY_DEFAULT, capture_output=True, text=True, timeout=300)


def test_halves_fid_and_kid_equal_the_references(tmp_path, capsys):
  rng = np.random.default_rng(0)
  features = rng.normal(size=(41, 6)).astype(np.float32)  # odd: the last image is left out
  features[20:] += 2.0  # a second source after the first, as in an emoji folder
  key = dict(version=real_stats.CACHE_VERSION, num_examples=41,
             data=dict(dataset="folder", split="train", resolution=32, num_classes=9,
                       data_dir="/data/emoji"),
             classifier=dict(classifier="/nets/inception", num_logits=0, feature_dim=6))
  path = tmp_path / "real.npz"
  real_stats._save(str(path), key, {POOL: features, "labels": np.zeros(41, np.int32),
                                    "symmetry": None})
  result = _floor(path)
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.strip().splitlines()
  assert lines[0] == "| data | network | N real | halves | FID | KID |"
  cells = [c.strip() for c in lines[2].strip("|").split("|")]
  assert cells[:4] == ["/data/emoji", "/nets/inception", "41", "20 + 20"]
  order = np.random.default_rng(0).permutation(41)  # the documented split: SPLIT_SEED 0
  assert real_floor.SPLIT_SEED == 0
  a, b = (features[order[:20]].astype(np.float64), features[order[20:40]].astype(np.float64))
  np.testing.assert_allclose(float(cells[4]), inception_images.frechet_distance(a, b),
                             rtol=1e-3)  # printed with 3 decimals
  np.testing.assert_allclose(float(cells[5]), _kid(a, b), rtol=1e-3, atol=1e-5)
  # the cache's order holds two sources one after the other: its first and second halves
  # would measure the sources' distance, the random halves one distribution's floor
  in_order = inception_images.frechet_distance(features[:20].astype(np.float64),
                                               features[20:40].astype(np.float64))
  assert float(cells[4]) < in_order / 5, (cells[4], in_order)
  (tmp_path / "real_other.npz").write_bytes(path.read_bytes())
  path.rename(tmp_path / "real_a.npz")  # a directory: each of its real_*.npz, in name order
  (tmp_path / "notes.txt").write_text("not a cache")
  assert real_floor.cache_files([str(tmp_path), "x.npz"]) == [
      str(tmp_path / "real_a.npz"), str(tmp_path / "real_other.npz"), "x.npz"]
  assert real_floor.main(["real_floor.py", str(tmp_path)]) == 0
  assert capsys.readouterr().out.strip().splitlines()[2:] == [lines[2], lines[2]]


def test_not_a_cache_is_one_line(tmp_path, capsys):
  bad = tmp_path / "notes.npz"
  bad.write_text("not an archive")
  result = _floor(bad)  # the binary: exit 1, one line, no traceback
  errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
  assert result.returncode == 1 and len(errors) == 1 and "Traceback" not in result.stderr
  assert "is not a real-data cache" in errors[0]
  assert real_floor.main(["real_floor.py"]) == 1  # nothing given
  assert capsys.readouterr().err.startswith("Error: give one or more real-data caches")
  with pytest.raises(ValueError, match="holds no real-data cache"):  # no real_*.npz in it
    real_floor.cache_files([str(tmp_path)])
