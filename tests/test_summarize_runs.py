"""tools/summarize_runs.py: per-setting mean, sample standard deviation and per-seed values of
the runs' results.jsonl, against numpy; the two-standard-error comparison."""

import json
import os
import subprocess
import sys

import numpy as np

from sagan_tf.store import results as results_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCURACY = {"attn16": [0.78, 0.87, 0.84], "noattn": [0.50, 0.55, 0.52]}
# The tool's own quiet start-up (TF_CPP_MIN_LOG_LEVEL, which conftest sets, shows TF's lines).
QUIET_BY_DEFAULT = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
FID = {"attn16": [30.0, 32.0, 31.0], "noattn": [29.0, 35.0, 31.0]}


def _record(step, accuracy, fid):
  return dict(format=2, step=step, checkpoint=f"ckpt-{step}", generator="ema",
              bn_stats=dict(mode="standing"), num_samples=10_000, classifier="/i",
              class_classifier="/c", metrics={"standin/class_accuracy": accuracy,
                                              "inception/fid": fid})


def _runs(tmp_path):
  for setting in ACCURACY:
    for seed, (acc, fid) in enumerate(zip(ACCURACY[setting], FID[setting])):
      path = results_lib.results_path(str(tmp_path / f"{setting}_s{seed}"))
      os.makedirs(os.path.dirname(path))
      with open(path, "w") as f:
        f.write(json.dumps(_record(2500, acc, fid)) + "\n")
  (tmp_path / "real_stats").mkdir()  # not a run: ignored
  return tmp_path


def _summarize(*args):
  return subprocess.run([sys.executable, "tools/summarize_runs.py", *args], cwd=REPO,
                        env=QUIET_BY_DEFAULT, capture_output=True, text=True, timeout=300)


def test_tables_mean_std_and_seeds_and_compares_at_two_standard_errors(tmp_path):
  result = _summarize(str(_runs(tmp_path)), "--compare=attn16,noattn", "--compare=noattn,x")
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.splitlines()
  row = next(line for line in lines if line.startswith("| attn16 |"))
  acc = np.array(ACCURACY["attn16"])
  assert f"{acc.mean():.3g} +- {acc.std(ddof=1):.3g} (0.78, 0.87, 0.84)" in row
  assert "| 2500 | ema | standing | 10000 | 0, 1, 2 |" in row
  verdicts = {line.split(":")[0]: line for line in lines if line.startswith("- step 2500")}
  se = np.sqrt(acc.var(ddof=1) / 3 + np.var(ACCURACY["noattn"], ddof=1) / 3)
  assert abs(acc.mean() - np.mean(ACCURACY["noattn"])) > 2 * se  # the fixture's premise
  assert verdicts["- step 2500 standin/class_accuracy"].endswith(": established")
  assert verdicts["- step 2500 inception/fid"].endswith(": not established")
  assert ": attn16 - noattn = -0.6667 (standard error " in verdicts["- step 2500 inception/fid"]
  assert lines[-1] == "- noattn - x: no metric with two or more seeds of each"
  bad = _summarize(str(tmp_path), "--compare=attn16")
  assert bad.returncode != 0 and "two settings A,B" in bad.stderr


def test_no_scored_runs_or_no_directory_is_one_line_and_exit_1(tmp_path):
  for path, message in ((tmp_path, "No scored runs"), (tmp_path / "missing", "not a directory")):
    result = _summarize(str(path))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
