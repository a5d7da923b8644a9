r"""The floor of docs/results.md: FID and KID between two disjoint halves of the real data.

  python tools/real_floor.py RUNS_DIR/real_stats [RUNS_DIR/real_stats/real_<...>.npz ...]

Each argument is a real-data cache of the evaluation job (sagan_tf/evaluation/real_stats.py:
the pool_3 features of N real images, in the evaluation's order) or a directory of them (its
real_*.npz, in name order: tools/score_results.sh writes RUNS_DIR/real_stats). Per file, one
markdown row: the network and N, then FID and KID between two halves of N // 2 images, a random
split (numpy's default_rng(SPLIT_SEED).permutation of the cache's order), so that each half is a
sample of the same distribution. The cache's own order is not: a folder is read class by class
in turn, each class's files in name order, so its first half can be one source's images and the
second another's (the emoji folders: Google's, then Twitter's). No model scores below this at
N/2 against N/2; FID's bias grows as N shrinks, so a run scored at N = 10,000 has a lower floor
than this number: read it as an upper estimate of the floor.
"""

import glob
import json
import os
import sys

from absl import app
import numpy as np

from sagan_tf.cli import quiet

with quiet.startup():  # TensorFlow's start-up noise silenced (the metrics import it)
  from sagan_tf.evaluation import metrics
  from sagan_tf.evaluation.classifier import POOL

HEADER = "| data | network | N real | halves | FID | KID |\n|---|---|---|---|---|---|"
SPLIT_SEED = 0


def floor_row(path):
  """The markdown row of one cache file; ValueError naming the file if it is not one."""
  try:
    with np.load(path, allow_pickle=False) as f:
      key = json.loads(str(f["key"]))
      features = f[POOL]
  except (OSError, KeyError, ValueError) as e:
    raise ValueError(f"{path} is not a real-data cache of sagan-evaluate with {POOL} "
                     f"features ({e}); pass RUNS_DIR/real_stats/real_*.npz.") from None
  half = len(features) // 2
  if half < 2:
    raise ValueError(f"{path} holds {len(features)} images; the halves need >= 4.")
  order = np.random.default_rng(SPLIT_SEED).permutation(len(features))
  a, b = features[order[:half]], features[order[half:2 * half]]
  fid = metrics.frechet_distance(a, b)
  kid, _ = metrics.kernel_distance(a, b)
  data = key["data"]
  name = data.get("data_dir") or data["dataset"]
  network = key["classifier"]["classifier"]
  return f"| {name} | {network} | {len(features)} | {half} + {half} | {fid:.3f} | {kid:.5f} |"


def cache_files(args):
  """The cache files the arguments name (a directory: its real_*.npz); ValueError if a
  directory holds none."""
  paths = []
  for arg in args:
    if os.path.isdir(arg):
      found = sorted(glob.glob(os.path.join(arg, "real_*.npz")))
      if not found:
        raise ValueError(f"{arg} holds no real-data cache (real_*.npz): give the real_stats "
                         "directory of a scored RUNS_DIR.")
      paths += found
    else:
      paths.append(arg)
  return paths


def main(argv):
  if len(argv) < 2:
    print("Error: give one or more real-data caches (RUNS_DIR/real_stats or its real_*.npz).",
          file=sys.stderr)
    return 1
  rows = []
  try:
    paths = cache_files(argv[1:])
  except ValueError as e:
    print(f"Error: {e}", file=sys.stderr)
    return 1
  for path in paths:
    try:
      rows.append(floor_row(path))
    except ValueError as e:
      print(f"Error: {e}", file=sys.stderr)
      return 1
  print(HEADER)
  print("\n".join(rows))
  return 0


if __name__ == "__main__":
  app.run(main)
