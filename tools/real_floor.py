r"""The floor of docs/results.md: FID and KID between two disjoint halves of the real data.

  python tools/real_floor.py RUNS_DIR/real_stats/real_<...>.npz [...]

Each argument is a real-data cache of the evaluation job (sagan_tf/evaluation/real_stats.py:
the pool_3 features of N real images, in the evaluation's order). Per file, one markdown row:
the network and N, then FID and KID between its first and second halves (N/2 images each; the
evaluation's real order is balanced over classes for folders and random for the synthetic data,
so each half is a sample of the same distribution). No model scores below this at N/2 against
N/2; FID's bias grows as N shrinks, so a run scored at N = 10,000 has a lower floor than this
number: read it as an upper estimate of the floor.
"""

import json
import sys

from absl import app
import numpy as np

from sagan_tf.cli import quiet

with quiet.startup():  # TensorFlow's start-up noise silenced (the metrics import it)
  from sagan_tf.evaluation import metrics
  from sagan_tf.evaluation.classifier import POOL

HEADER = "| data | network | N real | halves | FID | KID |\n|---|---|---|---|---|---|"


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
  a, b = features[:half], features[half:2 * half]
  fid = metrics.frechet_distance(a, b)
  kid, _ = metrics.kernel_distance(a, b)
  data = key["data"]
  name = data.get("data_dir") or data["dataset"]
  network = key["classifier"]["classifier"]
  return f"| {name} | {network} | {len(features)} | {half} + {half} | {fid:.3f} | {kid:.5f} |"


def main(argv):
  if len(argv) < 2:
    print("Error: give one or more real-data caches (RUNS_DIR/real_stats/real_*.npz).",
          file=sys.stderr)
    return 1
  rows = []
  for path in argv[1:]:
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
