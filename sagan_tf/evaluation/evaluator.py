"""The evaluation job: generate N images from a checkpoint, classify them, compute metrics,
write TensorBoard scalars and one JSON line per checkpoint.

Outputs in WORKDIR/eval/:
  results.jsonl  one line per evaluated checkpoint and setting: {"step", "checkpoint",
                 "metrics": {...}, "num_samples", "num_real", "generator": "ema"|"raw",
                 "truncation", "bn_stats": {"mode", "batches", "batch_size", "truncation",
                 "seed"} (sagan_tf.sampling.bn_stats.BNStats.identity), "classifier",
                 "timestamp", "unix_time", "eval_secs"}.
                 It is also the record of what was evaluated: a (step, generator, truncation,
                 bn_stats, num_samples, classifier) already present is skipped, so a restarted
                 job does not repeat work and never mixes settings. A line is appended only
                 when everything is computed, in one write followed by flush and fsync.
  events.*       TensorBoard scalars, tag "<generator>[_trunc<t>]_<bn>/<metric>" with <bn>
                 standing<K>x<B>, moving or batch, e.g. "ema_standing20x64/fid".
  real_stats/    the cached real-data classifier outputs (config.eval_stats_dir overrides).

Sampling (sagan_tf.sampling): sample i has z = row i of seeded_noise(config.seed, N, z_dim,
eval_truncation) (the z generate_from_seed gives for that seed) and label = row i of
seeded_labels(config.seed, N, num_classes), so every checkpoint is evaluated on the same
latents, whatever the batch size; G is the EMA copy when eval_use_ema, with the BN statistics
of config.sample_bn_stats (standing: re-estimated on a copy with standing_stats_batches passes
of standing_stats_batch_size latents truncated at eval_truncation).
"""

import datetime
import json
import os
import time

from absl import logging
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf import data as data_lib
from sagan_tf.evaluation import classifier as classifier_lib
from sagan_tf.evaluation import features
from sagan_tf.evaluation import metrics as metrics_lib
from sagan_tf.evaluation import real_stats as real_stats_lib
from sagan_tf.sampling import bn_stats as bn_stats_lib
from sagan_tf.sampling import noise
from sagan_tf.sampling import settings as settings_lib
from sagan_tf.store import checkpoints as ckpt_lib

EVAL_SUBDIR = "eval"
RESULTS_FILE = "results.jsonl"


def eval_dir(workdir):
  return os.path.join(workdir, EVAL_SUBDIR)


def results_path(workdir):
  return os.path.join(eval_dir(workdir), RESULTS_FILE)


def stats_dir(config, workdir):
  return config.get("eval_stats_dir", "") or os.path.join(eval_dir(workdir), "real_stats")


def apply_overrides(config, num_samples=None, classifier_path=None, allow_small_n=None,
                    **sampling):
  """Returns a copy of config with the evaluation flags that are not None applied; `sampling`
  (use_ema, truncation, bn_stats, bn_stats_batches, bn_stats_batch_size) as
  sagan_tf.sampling.settings.with_settings."""
  config = settings_lib.with_settings(config, **sampling)
  if num_samples is not None:
    config.eval_num_samples = int(num_samples)
  if allow_small_n is not None:
    config.eval_allow_small_n = bool(allow_small_n)
  if classifier_path is not None:
    config.classifier_path = str(classifier_path)
  return config


def check_config(config):
  """Config-level checks done before anything is loaded. Returns config."""
  config_lib.validate(config)
  data_lib.check_config(config)  # e.g. TFDS data not prepared: a clear error now
  metrics_lib.check_num_samples(config.eval_num_samples, None)
  if config.eval_truncation < 0:
    raise ValueError(f"eval_truncation={config.eval_truncation} must be >= 0 "
                     "(0: plain N(0, I); > 0: truncation bound).")
  if config.eval_batch_size < 1:
    raise ValueError(f"eval_batch_size={config.eval_batch_size} must be >= 1.")
  settings_lib.bn_stats(config)  # a bad BN mode or K, B: a clear error now
  return config


def settings(config):
  """What identifies an evaluation besides the step (compared to skip repeated work)."""
  return dict(generator="ema" if config.eval_use_ema else "raw",
              truncation=float(config.eval_truncation),
              bn_stats=settings_lib.bn_stats(config).identity(),
              num_samples=int(config.eval_num_samples),
              classifier=classifier_lib.classifier_identity(config.classifier_path))


def _same_settings(record, s):
  return all(record.get(k) == v for k, v in s.items())


def read_results(workdir):
  """Returns the records of results.jsonl (malformed lines are skipped with a warning)."""
  path = results_path(workdir)
  if not os.path.exists(path):
    return []
  records = []
  with open(path) as f:
    for i, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        logging.warning("Skipping malformed line %d of %s", i, path)
  return records


def find_result(workdir, step, config):
  """The record of an earlier evaluation of `step` with config's settings, or None."""
  s = settings(config)
  for record in read_results(workdir):
    if record.get("step") == step and _same_settings(record, s):
      return record
  return None


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


def tag_prefix(config):
  """'<generator>[_trunc<t>]_<BN statistics>', e.g. 'ema_standing20x64', 'raw_trunc1_moving'."""
  s = settings(config)
  return (s["generator"] + (f"_trunc{s['truncation']:g}" if s["truncation"] > 0 else "")
          + "_" + settings_lib.bn_stats(config).tag())


def write_summaries(workdir, config, step, metric_values):
  writer = tf.summary.create_file_writer(eval_dir(workdir))
  prefix = tag_prefix(config)
  with writer.as_default():
    for name, value in sorted(metric_values.items()):
      if value is not None:
        tf.summary.scalar(f"{prefix}/{name}", value, step=step)
  writer.flush()
  writer.close()


def latents(config, start, num):
  """Samples start .. start + num - 1 of the evaluation: z float32 [num, z_dim] (rows of
  seeded_noise(config.seed, ..., eval_truncation)) and labels int32 [num] (seeded_labels).
  Works eagerly and in tf.function (start, num: int scalars)."""
  z = noise.seeded_noise(config.seed, num, config.z_dim, config.eval_truncation, start=start)
  return z, noise.seeded_labels(config.seed, num, config.num_classes, start=start)


class Evaluator:
  """Holds the classifier and the real statistics; evaluates generators.

  Construction loads and probes the classifier and applies the sample-size policy
  (metrics.check_num_samples) so bad input fails before any image is generated. The real
  statistics are loaded or computed on first use (`real_stats`).
  """

  def __init__(self, config, workdir, classifier=None):
    self.config = check_config(config)
    self.workdir = workdir
    self.classifier = classifier or classifier_lib.Classifier(config.classifier_path)
    _, self.feature_dim = self.classifier.probe(config.resolution)
    metrics_lib.check_num_samples(config.eval_num_samples, self.feature_dim,
                                  config.get("eval_allow_small_n", False))
    self._real = None

  @property
  def real_stats(self):
    if self._real is None:
      c = self.config
      real = real_stats_lib.load_or_compute(c, self.classifier, c.eval_num_samples,
                                            stats_dir(c, self.workdir), c.eval_batch_size)
      metrics_lib.check_num_samples(real.num_examples, self.feature_dim,
                                    c.get("eval_allow_small_n", False), what="real")
      self._real = real
    return self._real

  def generate(self, generator):
    """Classifier outputs of config.eval_num_samples images of `generator` (a Generator, not
    modified), sampled as the module docstring says."""
    c = self.config
    n, bs = int(c.eval_num_samples), int(c.eval_batch_size)
    sampling = bn_stats_lib.prepare(generator, settings_lib.bn_stats(c))

    @tf.function(reduce_retracing=True)
    def run(start, b):
      z, labels = latents(c, start, b)
      return sampling(z, labels), labels

    def batches():
      done = 0
      while done < n:
        b = min(bs, n - done)
        images, labels = run(tf.constant(done, tf.int64), tf.constant(b, tf.int64))
        done += b
        yield images, labels.numpy()

    return features.collect_outputs(batches(), self.classifier, n, "generated images",
                                    with_symmetry=c.dataset == "synthetic")

  def evaluate(self, models):
    """Metrics for restored models (a restore_models dict). Returns the JSON-line record."""
    c = self.config
    start = time.time()
    real = self.real_stats
    use_ema = bool(c.eval_use_ema)
    generator = models["ema_generator"] if use_ema else models["generator"]
    logging.info("Evaluating step %d (%s generator, %s, truncation %g, %d samples) from %s",
                 models["step"], "EMA" if use_ema else "raw", settings_lib.bn_stats(c).describe(),
                 c.eval_truncation, c.eval_num_samples, models["path"])
    gen = self.generate(generator)
    values = metrics_lib.compute_metrics(real.as_dict(), gen, c.num_classes)
    now = time.time()
    record = dict(step=int(models["step"]), checkpoint=models["path"], metrics=values,
                  num_real=real.num_examples, unix_time=now, eval_secs=round(now - start, 3),
                  timestamp=datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
                  .isoformat(timespec="seconds"),
                  **settings(c))
    logging.info("Step %d: %s", record["step"], ", ".join(
        f"{k}={v:.6g}" for k, v in sorted(values.items()) if v is not None))
    return record


def _write(workdir, config, record):
  """TensorBoard first, then the JSON line (the record of completion)."""
  write_summaries(workdir, config, record["step"], record["metrics"])
  append_result(workdir, record)


def _resolve_checkpoint(workdir, checkpoint_path):
  if checkpoint_path:
    if not tf.io.gfile.exists(checkpoint_path + ".index"):
      raise FileNotFoundError(f"Checkpoint {checkpoint_path!r} not found (no "
                              f"{checkpoint_path}.index).")
    return checkpoint_path
  paths = ckpt_lib.list_checkpoints(workdir)
  if not paths:
    raise FileNotFoundError(
        f"No checkpoint in {ckpt_lib.checkpoint_dir(workdir)!r}: train first "
        f"(python -m sagan_tf.train --config=... --workdir={workdir}) or check --workdir.")
  return paths[-1]


def evaluate_and_write(config, workdir, checkpoint_path=None, evaluator=None):
  """Evaluates one checkpoint (default: the latest) once and writes its results.

  Order (errors before work): config checks, checkpoint lookup, skip if already in
  results.jsonl, classifier load and sample-size policy, restore (ValueError if it does not
  match the config), real statistics (cached), generation. Nothing is written unless all of
  it succeeds.

  Returns the record; a record read back from results.jsonl has "skipped": True added.
  """
  check_config(config)
  path = _resolve_checkpoint(workdir, checkpoint_path)
  step = ckpt_lib.checkpoint_step(path)
  previous = find_result(workdir, step, config)
  if previous is not None:
    logging.info("Step %d already evaluated with these settings (%s); skipping.", step,
                 results_path(workdir))
    return dict(previous, skipped=True)
  evaluator = evaluator or Evaluator(config, workdir)
  models = ckpt_lib.restore_models(config, workdir, path)
  record = evaluator.evaluate(models)
  _write(workdir, config, record)
  return record


def run_continuous(config, workdir, timeout_secs=3600.0, poll_secs=30.0, evaluator=None):
  """Evaluates every new checkpoint in workdir once, oldest first, while training runs.

  Stops when a checkpoint at or past the final step (config.num_train_steps) has been
  evaluated (now or by an earlier run: results.jsonl is the record), or when no new checkpoint
  appeared for timeout_secs. Raises FileNotFoundError if no checkpoint ever appeared. The
  classifier is loaded and checked at the start, before waiting. Returns the new records.
  """
  check_config(config)
  evaluator = evaluator or Evaluator(config, workdir)
  final = int(config.num_train_steps)
  records, last_new = [], time.time()
  seen_any = False
  while True:
    done_steps = {r["step"] for r in read_results(workdir)
                  if _same_settings(r, settings(config))}
    paths = ckpt_lib.list_checkpoints(workdir)
    seen_any = seen_any or bool(paths) or bool(done_steps)
    pending = [p for p in paths if ckpt_lib.checkpoint_step(p) not in done_steps]
    for path in pending:
      if not tf.io.gfile.exists(path + ".index"):
        logging.warning("Checkpoint %s disappeared before evaluation (training keeps only the "
                        "newest); skipping it.", path)
        continue
      try:
        models = ckpt_lib.restore_models(config, workdir, path)
      except tf.errors.NotFoundError:
        logging.warning("Checkpoint %s disappeared while being read; skipping it.", path)
        continue
      record = evaluator.evaluate(models)
      _write(workdir, config, record)
      records.append(record)
      done_steps.add(record["step"])
      last_new = time.time()
    if done_steps and max(done_steps) >= final:
      logging.info("Final step %d evaluated; stopping.", max(done_steps))
      return records
    if time.time() - last_new > timeout_secs:
      if not seen_any:
        raise FileNotFoundError(
            f"No checkpoint appeared in {ckpt_lib.checkpoint_dir(workdir)!r} within "
            f"{timeout_secs:g}s: is training running with --workdir={workdir}?")
      logging.info("No new checkpoint for %.0fs; stopping (last evaluated steps: %s).",
                   timeout_secs, sorted(done_steps)[-3:])
      return records
    remaining = timeout_secs - (time.time() - last_new)
    time.sleep(max(0.01, min(poll_secs, remaining + 0.01)))
