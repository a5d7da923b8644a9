r"""FID and KID of precomputed samples, scored exactly as sagan-evaluate scores a checkpoint.

  .venv/bin/python tools/score_samples.py --samples=/tmp/peer/s0/samples.npz \
      --config=experiments/emoji32.py --config.data_dir=/tmp/emoji \
      --classifier_path=/tmp/inception --config.eval_stats_dir=/tmp/runs/emoji/real_stats \
      --results=/tmp/peer/results.jsonl --name=studiogan_s0

--samples is an .npz with 'images' uint8 [N, R, R, 3] (R = config.resolution) and 'labels'
int [N] (the intended classes; class accuracy needs them), e.g. what tools/studiogan_peer.py
writes; 'iterations_per_sec' in it is recorded unless --iterations_per_sec gives one. The
config says which real data to compare with (the experiment file and its --config.KEY=VALUE
overrides, as sagan-train takes them): use the config the compared runs trained with, with the
same data_dir string, so that the real-data cache of their scoring is found and shared
(--config.eval_stats_dir: tools/score_results.sh's RUNS_DIR/real_stats; default: real_stats/
beside the --results file).

What is the evaluation's own (sagan_tf.evaluation): the networks (--classifier_path, the main
network for FID and KID, named 'inception' or 'standin' as there; --class_classifier_path, a
stand-in for class accuracy), their checks, the sample-size policy (N = the npz's images, or
its first --num_samples; N must exceed the main network's feature dimension unless
--config.eval_allow_small_n=true), the real statistics (N real images requested, as
sagan-evaluate --num_samples=N does, cached per network by the same key), the one pass of every
image through every network in batches of config.eval_batch_size (features.collect_outputs)
and the metrics (metrics.compute_metrics). The images go in as uint8 / 127.5 - 1, the [-1, 1]
floats whose sagan_tf.store.images.to_uint8 they are (the evaluation scores G's floats unrounded:
at most half a grey level apart).

Appends one JSON line to --results: name, source (the npz's absolute path) and its SHA-1, N,
num_real, fid, kid, kid_std (the main network's), metrics (every '<network>/<metric>'),
networks, classifier, class_classifier, iterations_per_sec (or null), data (dataset, data_dir,
split, resolution, num_classes), real_stats (the cache file per network), timestamp, unix_time,
eval_secs. Exit codes: 0 done; 1 an error, as one line `Error: ...` on stderr (nothing written).
"""

import datetime
import hashlib
import json
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

with quiet.startup():  # TensorFlow's start-up noise silenced
  from sagan_tf.evaluation import classifier as classifier_lib
  from sagan_tf.evaluation import evaluator as evaluator_lib
  from sagan_tf.evaluation import features
  from sagan_tf.evaluation import metrics as metrics_lib

cli_flags.define_config(required=True)
_SAMPLES = flags.DEFINE_string("samples", None, "The .npz of samples: 'images' uint8 "
                               "[N, R, R, 3], 'labels' int [N].")
_RESULTS = flags.DEFINE_string("results", None, "The JSONL file a result line is appended to.")
_NAME = flags.DEFINE_string("name", "", "A name for the result line (e.g. studiogan_s0).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "Score the first N images (default: "
                                    "all of them).")
_CLASSIFIER = flags.DEFINE_string("classifier_path", None, "Overrides config.classifier_path: "
                                  "the main network (FID, KID), as sagan-evaluate's.")
_CLASS_CLASSIFIER = flags.DEFINE_string(
    "class_classifier_path", None, "Overrides config.eval_class_classifier_path: a stand-in "
    "for class accuracy beside the main network, as sagan-evaluate's ('' = none).")
_SPEED = flags.DEFINE_float("iterations_per_sec", None, "Training speed to record with the "
                            "result (default: the npz's 'iterations_per_sec', if any).")
flags.mark_flags_as_required(["samples", "results"])
FLAGS = flags.FLAGS


def read_samples(path, resolution, num_classes, num_samples=None):
  """(images uint8 [N, R, R, 3], labels int32 [N], the npz's iterations_per_sec or None);
  ValueError naming what is wrong."""
  try:
    with np.load(path, allow_pickle=False) as f:
      images, labels = f["images"], f["labels"]
      speed = float(f["iterations_per_sec"]) if "iterations_per_sec" in f.files else None
  except (OSError, KeyError, ValueError) as e:
    raise ValueError(f"--samples={path} is not an .npz with 'images' and 'labels' ({e}).") from None
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"--samples={path}: 'images' must be uint8 [N, R, R, 3], got "
                     f"{images.dtype} {list(images.shape)}.")
  if images.shape[1:3] != (resolution, resolution):
    raise ValueError(f"--samples={path}: images are {images.shape[1]}x{images.shape[2]}, the "
                     f"config's real data {resolution}x{resolution} (config.resolution).")
  if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f"--samples={path}: 'labels' must be int [{len(images)}], got "
                     f"{labels.dtype} {list(labels.shape)}.")
  if num_classes and len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(f"--samples={path}: labels lie in [{labels.min()}, {labels.max()}], "
                     f"outside the config's {num_classes} classes.")
  if num_samples is not None:
    if not 1 <= num_samples <= len(images):
      raise ValueError(f"--num_samples={num_samples}: the npz holds {len(images)} images.")
    images, labels = images[:num_samples], labels[:num_samples]
  return images, labels.astype(np.int32), speed


def _batches(images, labels, batch_size):
  for start in range(0, len(images), batch_size):
    chunk = images[start:start + batch_size].astype(np.float32) / 127.5 - 1.0
    yield chunk, labels[start:start + batch_size]


def score(config, images, labels, results_path, evaluator=None):
  """(metrics {'<network>/<metric>': value}, the Evaluator) of uint8 images [N, R, R, 3] with
  intended labels [N], by sagan_tf.evaluation's networks, real statistics and metrics, with
  config.eval_num_samples = N. The config's eval_stats_dir, if empty, becomes real_stats/
  beside results_path."""
  config = config.copy_and_resolve_references()
  config.eval_num_samples = int(len(images))
  if not config.get("eval_stats_dir", ""):
    config.eval_stats_dir = os.path.join(os.path.dirname(os.path.abspath(results_path)),
                                         "real_stats")
  evaluator = evaluator or evaluator_lib.Evaluator(config, os.path.dirname(
      os.path.abspath(results_path)))
  real = evaluator.real_stats
  generated = features.collect_outputs(
      _batches(images, labels, int(config.eval_batch_size)), evaluator.networks, len(images),
      "samples", with_symmetry=config.dataset == "synthetic")
  values = metrics_lib.compute_metrics({k: r.as_dict() for k, r in real.items()}, generated,
                                       config.num_classes, evaluator.main)
  return values, evaluator


def _sha1(path):
  digest = hashlib.sha1()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def append_line(path, record):
  """Appends one JSON line in a single write, then flush + fsync (as the evaluation's
  results.jsonl; a torn last line of an earlier writer is left on its own line)."""
  line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if os.path.exists(path) and os.path.getsize(path):
    with open(path, "rb") as f:
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b"\n":
        line = "\n" + line
  with open(path, "a", encoding="utf-8") as f:
    f.write(line)
    f.flush()
    os.fsync(f.fileno())


def run(config, samples, results, name="", num_samples=None, iterations_per_sec=None):
  """Scores the npz and appends its line to `results`; returns the record."""
  start = time.time()
  images, labels, npz_speed = read_samples(samples, int(config.resolution),
                                           int(config.num_classes), num_samples)
  values, evaluator = score(config, images, labels, results)
  main = evaluator.main
  speed = iterations_per_sec if iterations_per_sec is not None else npz_speed
  now = time.time()
  c = evaluator.config
  record = dict(
      name=name, source=os.path.abspath(samples), source_sha1=_sha1(samples),
      num_samples=int(len(images)), num_real=evaluator.real_stats[main].num_examples,
      fid=values.get(f"{main}/fid"), kid=values.get(f"{main}/kid"),
      kid_std=values.get(f"{main}/kid_std"), metrics=values,
      networks=evaluator.describe_networks(), classifier=evaluator.classifier.identity,
      class_classifier=(evaluator.networks[evaluator_lib.STANDIN].identity
                        if evaluator.roles.get(evaluator_lib.STANDIN) == "class" else None),
      iterations_per_sec=speed,
      data=dict(dataset=c.dataset, data_dir=c.data_dir, split=c.eval_split,
                resolution=int(c.resolution), num_classes=int(c.num_classes)),
      real_stats={k: r.path for k, r in evaluator.real_stats.items()},
      unix_time=now, eval_secs=round(now - start, 3),
      timestamp=datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
      .isoformat(timespec="seconds"))
  evaluator.close()
  append_line(results, record)
  return record


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    config = evaluator_lib.apply_overrides(FLAGS.config, classifier_path=_CLASSIFIER.value,
                                           class_classifier_path=_CLASS_CLASSIFIER.value)
    record = run(config, _SAMPLES.value, _RESULTS.value, _NAME.value, _NUM_SAMPLES.value,
                 _SPEED.value)
  except (ValueError, OSError, classifier_lib.ClassifierError) as e:
    logging.debug("Traceback of the error below.", exc_info=True)
    print(f"Error: {' '.join(str(e).split())}", file=sys.stderr)
    return 1
  speed, show = record["iterations_per_sec"], lambda v: "n/a" if v is None else f"{v:.6g}"
  print(f"{record['name'] or record['source']}: FID {show(record['fid'])}, KID "
        f"{show(record['kid'])} ({record['num_samples']} samples against {record['num_real']} "
        f"real images" + (f"; {speed:.3f} iterations/s" if speed is not None else "")
        + f") -> {_RESULTS.value}")
  return 0


if __name__ == "__main__":
  app.run(main, argv=cli_flags.check_overrides(sys.argv))
