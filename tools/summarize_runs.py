r"""Tables of the seeded runs behind docs/results.md: mean, standard deviation and per-seed values.

  python tools/summarize_runs.py RUNS_DIR [--metrics=standin/class_accuracy,inception/fid] \
      [--compare=attn16,noattn] [--compare=attn16_da,attn16 ...]

RUNS_DIR holds workdirs named <setting>_s<seed> (tools/run_results.sh writes them), each scored
by sagan-evaluate (WORKDIR/eval/results.jsonl). One markdown row per setting and evaluation
(step, generator, BN statistics, N, networks): the number of seeds, then per metric
mean +- sample standard deviation (ddof 1) and the per-seed values in seed order. Each
--compare=A,B adds a bullet per metric: the difference of the two settings' means, its standard
error sqrt(sA^2/nA + sB^2/nB), and whether it is beyond two standard errors ('established').
tools/gen_docs.py writes this output into docs/results.md for the published runs.
"""

import collections
import math
import os
import re
import statistics
import sys

from absl import app
from absl import flags

from sagan_tf.store import results as results_lib

_METRICS = flags.DEFINE_list("metrics", ["standin/class_accuracy", "inception/fid"],
                             "Metrics of results.jsonl to tabulate (absent ones show n/a).")
_COMPARE = flags.DEFINE_multi_string(
    "compare", [], "Two settings A,B whose means are compared; repeat for more pairs.")
_RUN = re.compile(r"^(?P<setting>.+)_s(?P<seed>\d+)$")


def _key(record):
  bn = record["bn_stats"]
  return (record["step"], record["generator"], bn["mode"], record["num_samples"],
          record["classifier"], record.get("class_classifier"))


def collect(runs_dir):
  """{(setting, evaluation key): {seed: metrics}} of every run's results."""
  found = collections.defaultdict(dict)
  for name in sorted(os.listdir(runs_dir)):
    match = _RUN.match(name)
    if not match or not os.path.isdir(os.path.join(runs_dir, name)):
      continue
    for record in results_lib.read_results(os.path.join(runs_dir, name)):
      found[(match["setting"], _key(record))][int(match["seed"])] = record["metrics"]
  return found


def summary(values):
  """(mean, sample std or None, n) of the non-None values."""
  values = [v for v in values if v is not None]
  if not values:
    return None, None, 0
  std = statistics.stdev(values) if len(values) > 1 else None
  return statistics.fmean(values), std, len(values)


def _fmt(x):
  return "n/a" if x is None else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def table(found, metrics):
  lines = ["| setting | step | G | BN | N | seeds | " + " | ".join(metrics) + " |",
           "|---" * (6 + len(metrics)) + "|"]
  for (setting, key), by_seed in sorted(found.items()):
    cells = []
    for metric in metrics:
      values = [by_seed[s].get(metric) for s in sorted(by_seed)]
      mean, std, n = summary(values)
      per_seed = ", ".join(_fmt(v) for v in values)
      cells.append(f"{_fmt(mean)} +- {_fmt(std)} ({per_seed})" if n else "n/a")
    step, generator, bn, num, _, _ = key
    lines.append(f"| {setting} | {step} | {generator} | {bn} | {num} | "
                 f"{', '.join(map(str, sorted(by_seed)))} | " + " | ".join(cells) + " |")
  return lines


def compare(found, a, b, metrics):
  lines = []
  for (setting, key), by_seed in sorted(found.items()):
    if setting != a or (b, key) not in found:
      continue
    other = found[(b, key)]
    for metric in metrics:
      ma, sa, na = summary([v.get(metric) for v in by_seed.values()])
      mb, sb, nb = summary([v.get(metric) for v in other.values()])
      if None in (ma, mb, sa, sb):
        continue
      se = math.sqrt(sa ** 2 / na + sb ** 2 / nb)
      verdict = "established" if abs(ma - mb) > 2 * se else "not established"
      lines.append(f"- step {key[0]} {metric}: {a} - {b} = {ma - mb:+.4g} (standard error "
                   f"{se:.3g}, {na} and {nb} seeds): {verdict}")
  return lines


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("Give RUNS_DIR.")
  pairs = [pair.split(",") for pair in _COMPARE.value]
  if any(len(pair) != 2 or not all(pair) for pair in pairs):
    raise app.UsageError(f"--compare takes two settings A,B (got {_COMPARE.value}).")
  if not os.path.isdir(argv[1]):
    print(f"Error: {argv[1]} is not a directory: give the RUNS_DIR of tools/run_results.sh.",
          file=sys.stderr)
    return 1
  found = collect(argv[1])
  if not found:
    print(f"No scored runs (<setting>_s<seed>/eval/results.jsonl) in {argv[1]}.",
          file=sys.stderr)
    return 1
  print("\n".join(table(found, _METRICS.value)))
  for a, b in pairs:
    print()
    print("\n".join(compare(found, a, b, _METRICS.value)
                    or [f"- {a} - {b}: no metric with two or more seeds of each"]))
  return 0


if __name__ == "__main__":
  app.run(main)
