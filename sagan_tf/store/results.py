"""WORKDIR/eval/results.jsonl, the evaluation job's record, one JSON line per evaluated
checkpoint and setting (sagan_tf/evaluation/evaluator.py lists the fields). Written by the
evaluation job, read by it (to skip what it did) and by the tools that tabulate runs
(tools/summarize_runs.py). Plain Python: a reader needs no TensorFlow.

  eval_dir(workdir), results_path(workdir)   where the job writes
  read_results(workdir)                      the records, in format 2 (upgrade_record)
  append_result(workdir, record)             one line, one write, fsync
"""

import json
import os

from absl import logging

EVAL_SUBDIR = "eval"
RESULTS_FILE = "results.jsonl"
RESULT_FORMAT = 2
# The names of networks in metric names '<network>/<metric>':
INCEPTION = "inception"  # the main network when its logits are not the dataset's classes
STANDIN = "standin"      # a network whose logits are the dataset's classes
PIXEL_METRICS = ("symmetry_error", "real_symmetry_error")  # computed on pixels, no network


def eval_dir(workdir):
  return os.path.join(workdir, EVAL_SUBDIR)


def results_path(workdir):
  return os.path.join(eval_dir(workdir), RESULTS_FILE)


def upgrade_record(record):
  """A results.jsonl record in format 2. A line without "format" was written with one network
  and plain metric names ('fid', 'class_accuracy', ...): its metrics are renamed
  '<network>/<metric>' ('standin' when it had class accuracy, else 'inception'), and it gains
  "networks" and "class_classifier": null. The file is not rewritten."""
  if record.get("format", 1) >= RESULT_FORMAT:
    return record
  values = record.get("metrics", {})
  name = STANDIN if "class_accuracy" in values else INCEPTION
  return dict(record, format=RESULT_FORMAT, class_classifier=None,
              metrics={(k if k in PIXEL_METRICS else f"{name}/{k}"): v
                       for k, v in values.items()},
              networks={name: dict(role="main", classifier=record.get("classifier"))})


def read_results(workdir):
  """Returns the records of results.jsonl in format 2 (upgrade_record; malformed lines are
  skipped with a warning)."""
  path = results_path(workdir)
  if not os.path.exists(path):
    return []
  records = []
  with open(path) as f:
    for i, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        records.append(upgrade_record(json.loads(line)))
      except json.JSONDecodeError:
        logging.warning("Skipping malformed line %d of %s", i, path)
  return records


def append_result(workdir, record):
  """Appends one JSON line in a single write, then flush + fsync."""
  line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
  path = results_path(workdir)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  if os.path.exists(path) and os.path.getsize(path):
    with open(path, "rb") as f:
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b"\n":  # an earlier writer died mid-line: keep ours on its own line
        line = "\n" + line
  with open(path, "a") as f:
    f.write(line)
    f.flush()
    os.fsync(f.fileno())
