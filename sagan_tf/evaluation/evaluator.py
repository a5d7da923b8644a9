"""The evaluation job: generate N images from a checkpoint, run them through one or two
networks in one pass, compute metrics, write TensorBoard scalars and one JSON line per
checkpoint, and keep the best checkpoint out of the trainer's rotation.

Networks (Evaluator): the main one (config.classifier_path: TF-Hub's Inception by default, or
a SavedModel such as the imported Inception network or a stand-in) must have 'pool_3' and
gives FID and KID, and IS from its logits when it has logits. It is named 'standin' when its
logits are the dataset's classes (then it gives class accuracy too), else 'inception'. The
optional class network (config.eval_class_classifier_path, a stand-in whose logits are the
dataset's classes) is named 'standin' and gives class accuracy and IS in its own units; it is
refused when the main network is a stand-in already.

Outputs in WORKDIR/eval/:
  results.jsonl  one line per evaluated checkpoint and setting: {"format": 2, "step",
                 "checkpoint", "metrics": {"<network>/<metric>": value, ..., and the pixel
                 metrics "symmetry_error", "real_symmetry_error"}, "networks": {<network>:
                 {"role": "main"|"class", "classifier", "num_logits", "feature_dim"}},
                 "num_samples", "num_real", "generator": "ema"|"raw", "truncation",
                 "bn_stats": {"mode", "batches", "batch_size", "truncation", "seed"}
                 (sagan_tf.sampling.bn_stats.BNStats.identity), "classifier" (the main
                 network), "class_classifier" (or null), "timestamp", "unix_time",
                 "eval_secs"}. Lines without "format" (written before two networks) have
                 plain metric names and are read as format 2
                 (sagan_tf.store.results, which reads and writes the file).
                 It is also the record of what was evaluated: a (step, generator, truncation,
                 bn_stats, num_samples, classifier, class_classifier) already present is
                 skipped, so a restarted job does not repeat work and never mixes settings. A
                 line is appended only when everything is computed, in one write followed by
                 flush and fsync.
  events.*       TensorBoard scalars, one writer (one file) per job, tag
                 "<generator>[_trunc<t>]_<bn>/<network>/<metric>" with <bn> standing<K>x<B>,
                 moving or batch, e.g. "ema_standing20x64/inception/fid",
                 "ema_standing20x64/standin/class_accuracy", "ema_standing20x64/symmetry_error".
  real_stats/    the cached real-data outputs, a file per network (config.eval_stats_dir
                 overrides).

The best checkpoint (WORKDIR/best/, sagan_tf.store.checkpoints): which results may keep it is
keep_best's: None (default) those of the workdir's own scoring (default_scoring: N above the
main network's features, and the generator, truncation and BN statistics of WORKDIR/config.json),
True any (the best of this evaluation's settings), False none. A result replaces the kept one
when its main network's FID is strictly lower (a tie keeps the earlier), and only among
results of the same settings (generator, truncation, BN statistics, N, main network) as the
kept one; the first result with a FID starts it. A best/ of other settings is replaced by a
result with keep_best=True, and by one of the workdir's own scoring when it was not kept with
its own scoring (best.json "default_scoring"). Each checkpoint is pinned (hard-linked) while it
is scored, so the trainer's rotation cannot take it before it is kept.

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
from sagan_tf.evaluation import progress
from sagan_tf.evaluation import real_stats as real_stats_lib
from sagan_tf.sampling import bn_stats as bn_stats_lib
from sagan_tf.sampling import noise
from sagan_tf.sampling import settings as settings_lib
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.store import record as record_lib
from sagan_tf.store import results as results_lib
from sagan_tf.store.results import INCEPTION, STANDIN


def stats_dir(config, workdir):
  return (config.get("eval_stats_dir", "")
          or os.path.join(results_lib.eval_dir(workdir), "real_stats"))


def apply_overrides(config, num_samples=None, classifier_path=None, class_classifier_path=None,
                    **sampling):
  """Returns a copy of config with the evaluation flags that are not None applied; `sampling`
  (use_ema, truncation, bn_stats, bn_stats_batches, bn_stats_batch_size) as
  sagan_tf.sampling.settings.with_settings."""
  config = settings_lib.with_settings(config, **sampling)
  if num_samples is not None:
    config.eval_num_samples = int(num_samples)
  if classifier_path is not None:
    config.classifier_path = str(classifier_path)
  if class_classifier_path is not None:
    config.eval_class_classifier_path = str(class_classifier_path)
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
  class_path = config.get("eval_class_classifier_path", "")
  return dict(generator="ema" if config.eval_use_ema else "raw",
              truncation=float(config.eval_truncation),
              bn_stats=settings_lib.bn_stats(config).identity(),
              num_samples=int(config.eval_num_samples),
              classifier=classifier_lib.classifier_identity(config.classifier_path),
              class_classifier=(classifier_lib.classifier_identity(class_path)
                                if class_path else None))


def _same_settings(record, s):
  return all(record.get(k) == v for k, v in s.items())


def find_result(workdir, step, config):
  """The record of an earlier evaluation of `step` with config's settings, or None."""
  s = settings(config)
  for record in results_lib.read_results(workdir):
    if record.get("step") == step and _same_settings(record, s):
      return record
  return None


def tag_prefix(config):
  """'<generator>[_trunc<t>]_<BN statistics>', e.g. 'ema_standing20x64', 'raw_trunc1_moving'."""
  s = settings(config)
  return (s["generator"] + (f"_trunc{s['truncation']:g}" if s["truncation"] > 0 else "")
          + "_" + settings_lib.bn_stats(config).tag())


def latents(config, start, num):
  """Samples start .. start + num - 1 of the evaluation: z float32 [num, z_dim] (rows of
  seeded_noise(config.seed, ..., eval_truncation)) and labels int32 [num] (seeded_labels).
  Works eagerly and in tf.function (start, num: int scalars)."""
  z = noise.seeded_noise(config.seed, num, config.z_dim, config.eval_truncation, start=start)
  return z, noise.seeded_labels(config.seed, num, config.num_classes, start=start)


class Evaluator:
  """Holds the networks, the real statistics and the job's TensorBoard writer; evaluates
  generators.

  Construction loads and probes the networks (the module docstring says what each must
  have) and applies the sample-size policy (metrics.check_num_samples, on the main network's
  features) so bad input fails before any image is generated. The real statistics are
  loaded or computed on first use (`real_stats`); the writer is created at the first
  `write` (a job that fails before writes no events file). `classifier` / `class_classifier`
  replace the networks the config names (tests).

  Attributes: networks {name: Classifier} (main first), main (its name), main_metric
  ('<main>/fid': what the best checkpoint is chosen by).
  """

  def __init__(self, config, workdir, classifier=None, class_classifier=None):
    self.config = c = check_config(config)
    self.workdir = workdir
    self.classifier = classifier or classifier_lib.Classifier(c.classifier_path)
    self.classifier.probe(c.resolution)
    self.classifier.require(classifier_lib.POOL, "the main network (classifier_path, FID)")
    self.feature_dim = self.classifier.feature_dim
    metrics_lib.check_num_samples(c.eval_num_samples, self.feature_dim,
                                  c.get("eval_allow_small_n", False))
    self.main = (STANDIN if metrics_lib.logits_match_classes(self.classifier.num_logits,
                                                             c.num_classes) else INCEPTION)
    self.networks = {self.main: self.classifier}
    self.roles = {self.main: "main"}
    class_path = c.get("eval_class_classifier_path", "")
    if class_classifier is None and class_path:
      if self.main == STANDIN:
        raise classifier_lib.ClassifierError(
            f"eval_class_classifier_path={class_path!r} gives class accuracy beside a main "
            f"network without the dataset's classes, but the main network "
            f"{self.classifier.handle!r} is a stand-in with the {c.num_classes} classes "
            "already (its class accuracy is reported): leave eval_class_classifier_path "
            "empty (--class_classifier_path='').")
      class_classifier = classifier_lib.Classifier(class_path)
    if class_classifier is not None:
      class_classifier.probe(c.resolution)
      class_classifier.require(classifier_lib.LOGITS, "the class network "
                               "(eval_class_classifier_path, class accuracy)")
      if not metrics_lib.logits_match_classes(class_classifier.num_logits, c.num_classes):
        raise classifier_lib.ClassifierError(
            f"The class network {class_classifier.handle!r} has {class_classifier.num_logits} "
            f"logits, but the dataset has {c.num_classes} classes: class accuracy needs a "
            "classifier trained on this dataset (sagan-train-classifier).")
      self.networks[STANDIN] = class_classifier
      self.roles[STANDIN] = "class"
    self.main_metric = f"{self.main}/fid"
    self._real = None
    self._writer = None

  @property
  def real_stats(self):
    """{network name: RealStats} of config.eval_num_samples real images."""
    if self._real is None:
      c = self.config
      real = real_stats_lib.load_or_compute(c, self.networks, c.eval_num_samples,
                                            stats_dir(c, self.workdir), c.eval_batch_size)
      metrics_lib.check_num_samples(real[self.main].num_examples, self.feature_dim,
                                    c.get("eval_allow_small_n", False), what="real")
      self._real = real
    return self._real

  def generate(self, generator):
    """{network name: outputs} of config.eval_num_samples images of `generator` (a Generator,
    not modified), sampled as the module docstring says, each image through every network."""
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

    return features.collect_outputs(batches(), self.networks, n, "generated images",
                                    with_symmetry=c.dataset == "synthetic")

  def describe_networks(self):
    """The record's "networks": {name: role, classifier identity, output sizes}."""
    return {name: dict(role=self.roles[name], classifier=clf.identity,
                       num_logits=clf.num_logits, feature_dim=clf.feature_dim)
            for name, clf in self.networks.items()}

  def evaluate(self, models):
    """Metrics for restored models (a restore_models dict). Returns the JSON-line record."""
    c = self.config
    start = time.time()
    real = self.real_stats
    use_ema = bool(c.eval_use_ema)
    generator = models["ema_generator"] if use_ema else models["generator"]
    logging.info("Evaluating step %d (%s generator, %s, truncation %g, %d samples, networks "
                 "%s) from %s", models["step"], "EMA" if use_ema else "raw",
                 settings_lib.bn_stats(c).describe(), c.eval_truncation, c.eval_num_samples,
                 ", ".join(self.networks), models["path"])
    gen = self.generate(generator)
    values = metrics_lib.compute_metrics({k: r.as_dict() for k, r in real.items()}, gen,
                                         c.num_classes, self.main)
    now = time.time()
    record = dict(format=results_lib.RESULT_FORMAT, step=int(models["step"]),
                  checkpoint=models["path"],
                  metrics=values, networks=self.describe_networks(),
                  num_real=real[self.main].num_examples, unix_time=now,
                  eval_secs=round(now - start, 3),
                  timestamp=datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
                  .isoformat(timespec="seconds"),
                  **settings(c))
    logging.info("Step %d: %s", record["step"], ", ".join(
        f"{k}={v:.6g}" for k, v in sorted(values.items()) if v is not None))
    return record

  def write(self, record):
    """TensorBoard scalars (the job's one writer), then the JSON line (the record of
    completion)."""
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(results_lib.eval_dir(self.workdir))
    prefix = tag_prefix(self.config)
    with self._writer.as_default():
      for name, value in sorted(record["metrics"].items()):
        if value is not None:
          tf.summary.scalar(f"{prefix}/{name}", value, step=record["step"])
    self._writer.flush()
    results_lib.append_result(self.workdir, record)

  def close(self):
    if self._writer is not None:
      self._writer.close()
      self._writer = None


SAMPLING = ("generator", "truncation", "bn_stats")  # the settings of how images are drawn


def _plain(value):
  return json.loads(json.dumps(value))


def default_scoring(workdir, config, scored, feature_dim):
  """None when results of settings `scored` (settings() of an evaluation, or a best.json's) are
  the workdir's own scoring: N above the main network's feature_dim (no eval_allow_small_n),
  and the generator, truncation and BN statistics of WORKDIR/config.json (config's for a
  workdir without one). Else why not, a phrase for the log."""
  n = scored.get("num_samples", 0)
  if n <= feature_dim:
    return f"N={n} is not above the main network's {feature_dim} features (eval_allow_small_n)"
  if tf.io.gfile.exists(record_lib.record_path(workdir)):
    config = record_lib.recorded_config(workdir)
  own = _plain(settings(config))
  other = [k for k in SAMPLING if _plain(scored.get(k)) != own[k]]
  if other:
    return (f"its {', '.join(other)} differ from {record_lib.record_path(workdir)}'s "
            f"({', '.join(f'{k} {own[k]}' for k in other)})")
  return None


def _best_settings(record, metric):
  """What a result must share with the kept best to be compared with it."""
  s = {k: record[k] for k in ("generator", "truncation", "bn_stats", "num_samples",
                              "classifier")}
  return json.loads(json.dumps(dict(s, metric=metric)))


def _keep_if_best(evaluator, record, pinned, keep_best=None):
  """Keeps the pinned checkpoint in WORKDIR/best/ when `record` is the new best (the module
  docstring's rule; keep_best: None, True or False). Returns the kept path or None."""
  workdir, metric = evaluator.workdir, evaluator.main_metric
  value = record["metrics"].get(metric)
  if value is None or keep_best is False:
    return None
  candidate = _best_settings(record, metric)
  best = ckpt_lib.best_dir(workdir)
  why_not = default_scoring(workdir, evaluator.config, record, evaluator.feature_dim)
  if why_not and keep_best is None:
    logging.info("Step %d does not compete for %s: %s. --keep_best keeps the best of these "
                 "settings there.", record["step"], best, why_not)
    return None
  current = ckpt_lib.read_best(workdir)
  before = "none" if current is None else f"step {current['step']}, {current['value']:.6g}"
  if current is not None:
    if dict(current.get("settings", {}), metric=current.get("metric")) != candidate:
      current_own = current.get("default_scoring")
      if current_own is None:  # a best.json written before the field
        current_own = default_scoring(workdir, evaluator.config, current.get("settings", {}),
                                      evaluator.feature_dim) is None
      if not (keep_best or (why_not is None and not current_own)):
        logging.info("%s holds step %s, scored with other settings: step %d is not compared "
                     "with it (--keep_best makes it the best of these settings).", best,
                     current.get("step"), record["step"])
        return None
      before += " with other settings"
    elif not value < current["value"]:
      return None
  path = ckpt_lib.keep_best(workdir, pinned, dict(
      metric=metric, value=value, metrics=record["metrics"],
      settings={k: v for k, v in candidate.items() if k != "metric"},
      default_scoring=why_not is None, timestamp=record["timestamp"]))
  logging.info("New best checkpoint: step %d, %s=%.6g (before: %s); kept as %s",
               record["step"], metric, value, before, path)
  return path


def _evaluate_checkpoint(evaluator, path, keep_best=None):
  """Pins `path`, restores it, scores it, writes its results, keeps it if it is the new best
  (keep_best: _keep_if_best). Raises ckpt_lib.CheckpointGoneError when the checkpoint was
  deleted first."""
  c, workdir = evaluator.config, evaluator.workdir
  with progress.ctrl_c_as_flag(), ckpt_lib.PinnedCheckpoint(path, workdir) as pinned:
    models = ckpt_lib.restore_models(c, workdir, pinned=pinned)
    record = evaluator.evaluate(models)
    progress.check_ctrl_c()  # pressed during the metrics: nothing is written
    evaluator.write(record)  # a press now waits for the scalars, the line and best/
    _keep_if_best(evaluator, record, pinned, keep_best)
  progress.check_ctrl_c()
  return record


def evaluate_and_write(config, workdir, checkpoint_path=None, evaluator=None, keep_best=None):
  """Evaluates one checkpoint (a --checkpoint value: default the latest, or 'best') once and
  writes its results; keep_best: which results may keep WORKDIR/best/ (module docstring).

  Order (errors before work): config checks, checkpoint lookup, skip if already in
  results.jsonl, networks load and sample-size policy, restore (ValueError if it does not
  match the config), real statistics (cached), generation. Nothing is written unless all of
  it succeeds.

  Returns the record; a record read back from results.jsonl has "skipped": True added.
  """
  check_config(config)
  path = ckpt_lib.resolve_checkpoint(workdir, checkpoint_path)
  step = ckpt_lib.checkpoint_step(path)
  previous = find_result(workdir, step, config)
  if previous is not None:
    logging.info("Step %d already evaluated with these settings (%s); skipping.", step,
                 results_lib.results_path(workdir))
    return dict(previous, skipped=True)
  own = evaluator is None
  evaluator = evaluator or Evaluator(config, workdir)
  try:
    return _evaluate_checkpoint(evaluator, path, keep_best)
  finally:
    if own:
      evaluator.close()


def run_continuous(config, workdir, timeout_secs=3600.0, poll_secs=30.0, evaluator=None,
                   keep_best=None):
  """Evaluates the checkpoints of a training run as they appear, with one TensorBoard writer;
  keep_best: which results may keep WORKDIR/best/ (module docstring).

  Only checkpoints newer than the newest one evaluated with these settings count. While
  training runs (no checkpoint at config.num_train_steps yet) it takes the newest of them and
  skips the older ones, logging how many, so it keeps up with the trainer instead of losing
  races with its rotation; once the final checkpoint exists (nothing rotates any more) it
  evaluates all of them, oldest first. A checkpoint deleted before it could be pinned is
  passed over for the next.

  Stops when a checkpoint at or past the final step has been evaluated (now or by an earlier
  run: results.jsonl is the record), or when no new checkpoint appeared for timeout_secs.
  Raises FileNotFoundError if no checkpoint ever appeared. The networks are loaded and
  checked at the start, before waiting. Returns the new records.
  """
  check_config(config)
  own = evaluator is None
  evaluator = evaluator or Evaluator(config, workdir)
  final, s = int(config.num_train_steps), settings(config)
  records, last_new, seen_any = [], time.time(), False
  try:
    with progress.ctrl_c_as_flag():  # Ctrl-C acts between batches, while waiting
      while True:
        done = {r["step"] for r in results_lib.read_results(workdir) if _same_settings(r, s)}
        paths = ckpt_lib.list_checkpoints(workdir)
        seen_any = seen_any or bool(paths) or bool(done)
        if done and max(done) >= final:
          logging.info("Final step %d evaluated; stopping.", max(done))
          return records
        pending = [p for p in paths if ckpt_lib.checkpoint_step(p) > max(done, default=-1)]
        finished = any(ckpt_lib.checkpoint_step(p) >= final for p in paths)
        if len(pending) > 1 and not finished:
          logging.info("Behind the trainer: %d new checkpoints; evaluating the newest (step %d) "
                       "and skipping the %d older (steps %s).", len(pending),
                       ckpt_lib.checkpoint_step(pending[-1]), len(pending) - 1,
                       ", ".join(str(ckpt_lib.checkpoint_step(p)) for p in pending[:-1]))
        record = None
        for path in (pending if finished else pending[::-1]):
          try:
            record = _evaluate_checkpoint(evaluator, path, keep_best)
            break
          except ckpt_lib.CheckpointGoneError as e:
            logging.info("%s Taking the next one.", e)
        if record is not None:
          records.append(record)
          last_new = time.time()
          continue
        if time.time() - last_new > timeout_secs:
          if not seen_any:
            raise FileNotFoundError(
                f"No checkpoint appeared in {ckpt_lib.checkpoint_dir(workdir)!r} within "
                f"{timeout_secs:g}s: is training running with --workdir={workdir}?")
          logging.info("No new checkpoint for %.0fs; stopping (last evaluated steps: %s).",
                       timeout_secs, sorted(done)[-3:])
          return records
        remaining = timeout_secs - (time.time() - last_new)
        progress.wait(max(0.01, min(poll_secs, remaining + 0.01)))
  finally:
    if own:
      evaluator.close()
