"""train: the training job around GANTrainer.

Data flow: config -> validated; strategy.distribute_datasets_from_function(build_dataset)
-> iterator -> GANTrainer.train(iterator, steps_per_loop) -> metrics -> console line,
TensorBoard (workdir/train), checkpoints (workdir/checkpoints, CheckpointManager, keep-N).
Resumes automatically from the latest checkpoint in workdir: a changeable key keeps the value
recorded in workdir/config.json unless the command sets it, and a change takes effect, is
warned about and recorded (sagan_tf.store.record). The chief holds the
workdir's lock (workdir.WorkdirLock) while it trains. SIGTERM or Ctrl-C stops after the current
loop with a checkpoint (a second Ctrl-C aborts at once); a non-finite loss stops with
FloatingPointError and saves nothing, so the last good checkpoint stays the latest; diverging
losses or weights are warned about once (health).
"""

import contextlib
import os
import shutil
import signal
import time

from absl import logging
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf import data as data_lib
from sagan_tf import hardware
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.store import record as record_lib
from sagan_tf.training import summaries
from sagan_tf.training import workdir as workdir_lib
from sagan_tf.training.gan_step import GANTrainer
from sagan_tf.training.health import HealthWatch
from sagan_tf.training.strategy import is_chief


class _StopRequest:
  """Turns SIGTERM / the first SIGINT into a flag checked between loops."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self.requested and signum == signal.SIGINT:
      raise KeyboardInterrupt
    logging.warning("Signal %d: saving a checkpoint after this loop, then stopping "
                    "(Ctrl-C again aborts without saving).", signum)
    self.requested = True

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread
        pass
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def _stop_agreement(strategy):
  """Returns agree(local_flag) -> bool: True when any worker was asked to stop.

  With several workers the checkpoint save is collective, so a SIGTERM seen by one worker must
  stop all of them after the same loop: the flag is all-reduced (SUM > 0) once per loop.
  """
  resolver = getattr(strategy, "cluster_resolver", None)
  try:
    workers = resolver.cluster_spec().num_tasks("worker") if resolver else 1
  except ValueError:  # no 'worker' job
    workers = 1
  if workers <= 1:
    return lambda flag: flag

  @tf.function
  def any_worker(flag):
    per_replica = strategy.run(lambda: tf.identity(flag))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

  return lambda flag: bool(any_worker(tf.constant(float(flag))) > 0)


def _check_inputs(config, strategy):
  config_lib.validate(config)
  n = strategy.num_replicas_in_sync
  if config.global_batch_size % n:
    raise ValueError(
        f"global_batch_size={config.global_batch_size} is not divisible by the "
        f"{n} replicas of the strategy: use a multiple of {n}.")
  data_lib.check_config(config)


def _distributed_iterator(config, strategy, start_step):
  """The strategy's iterator over real batches, positioned after start_step iterations."""
  def dataset_fn(ctx):
    per_replica = ctx.get_per_replica_batch_size(config.global_batch_size)
    consumed = start_step * config.d_steps * config.global_batch_size // ctx.num_input_pipelines
    return data_lib.build_dataset(config, per_replica, ctx, start_index=consumed)
  return iter(strategy.distribute_datasets_from_function(dataset_fn))


def _restore(ckpt, directory):
  """Restores the latest checkpoint in directory, with a clear error on mismatch."""
  path = tf.train.latest_checkpoint(directory)
  if not path:
    return None
  try:
    ckpt_lib.read_checkpoint(ckpt, path).assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
    raise ValueError(f"The checkpoint {path} does not match this config: it was trained with "
                     f"another architecture. Use another --workdir or the config it was "
                     f"trained with. Cause: {str(e)[:400]}") from e
  return path


class _Speed:
  """Steps per second of the loop, leaving out its first call (tracing, XLA compilation): the
  clock starts when the first call returns, so a rate covers the loop calls (and the image
  steps and checkpoints between them) since that call or the previous rate."""

  def __init__(self):
    self.t0 = self.step0 = None
    self.first_call_secs = None
    self._started = time.monotonic()

  def loop_done(self, step):
    """Called after every loop call with the step reached."""
    if self.t0 is None:
      self.t0, self.step0 = time.monotonic(), step
      self.first_call_secs = self.t0 - self._started

  def rate(self, step):
    """Steps/s since the first call (or the previous rate); None before any step was timed."""
    if self.t0 is None or step <= self.step0:
      return None
    now = time.monotonic()
    rate = (step - self.step0) / max(now - self.t0, 1e-9)
    self.t0, self.step0 = now, step
    return rate


def format_eta(seconds):
  """A time left as the console shows it: 'HH:MM:SS' under a day, 'Nd HH:MM' from a day on
  (e.g. '2d 23:22'), '--:--:--' for None."""
  if seconds is None:
    return "--:--:--"
  minutes, secs = divmod(max(int(seconds), 0), 60)
  hours, minutes = divmod(minutes, 60)
  days, hours = divmod(hours, 24)
  if days:
    return f"{days}d {hours:02d}:{minutes:02d}"
  return f"{hours:02d}:{minutes:02d}:{secs:02d}"


class _Reporter:
  """Console lines and TensorBoard summaries."""

  def __init__(self, config, trainer, writer, workdir=None, class_names=None):
    """workdir: where sample PNGs go (WORKDIR/samples/); None (non-chief workers): no images.
    class_names: the data's class names, the sample sheets' row labels (None: indices)."""
    self.config, self.trainer, self.writer = config, trainer, writer
    self.speed = _Speed()
    self.samples = (summaries.SampleImages(config, workdir, class_names=class_names)
                    if workdir else None)

  def scalars(self, step, metrics):
    c, tr = self.config, self.trainer
    rate = self.speed.rate(step)
    if rate is None:
      speed = (f"first call {self.speed.first_call_secs:.1f} s (tracing; the speed is timed "
               f"from the next call) | ETA {format_eta(None)}")
    else:
      images_per_sec = rate * c.global_batch_size * c.d_steps
      eta = (c.num_train_steps - step) / max(rate, 1e-9)
      speed = f"{rate:.2f} steps/s {images_per_sec:.1f} img/s | ETA {format_eta(eta)}"
    logging.info("step %d/%d | d_loss %.4f g_loss %.4f | D(real) %.3f D(fake) %.3f | %s",
                 step, c.num_train_steps, metrics["d_loss"], metrics["g_loss"],
                 metrics["d_real"], metrics["d_fake"], speed)
    with self.writer.as_default(step=step):
      for k, v in metrics.items():
        tf.summary.scalar(f"train/{k}", v)
      for k, v in {**summaries.attention_gammas(tr.generator),
                   **summaries.attention_gammas(tr.discriminator)}.items():
        tf.summary.scalar(f"gamma/{k}", v)
      # The rates the iteration just run applied (config.lr_schedule included).
      for network, lr in tr.learning_rates(step - 1).items():
        tf.summary.scalar(f"lr/{network}", lr)
      if rate is not None:
        tf.summary.scalar("speed/steps_per_sec", rate)
        tf.summary.scalar("speed/images_per_sec", images_per_sec)

  def images(self, step):
    if self.samples is None:
      return
    with self.writer.as_default(step=step):
      self.samples.write(step, {"ema": self.trainer.ema_generator,
                                "raw": self.trainer.generator})


def train(config, workdir, strategy=None, record_config=False, file_config=None,
          overridden=()):
  """Trains SAGAN as config says, in workdir, resuming from its latest checkpoint.

  Args:
    config: an ml_collections.ConfigDict of sagan_tf.config's schema.
    workdir: output directory (checkpoints/, train/ TensorBoard events, config.json,
      train.lock).
    strategy: a tf.distribute.Strategy (default: the default strategy).
    record_config: resume checkpoints whose workdir lost its config.json, recording config as
      theirs (sagan-train --record_config); without it such a resume is refused.
    file_config, overridden: what the command gave (sagan-train): the --config file's own
      config and the keys of its --config.KEY=VALUE overrides. On resume a changeable key the
      command does not set keeps the value in effect (store.record.in_effect). None (a
      library call): config is trained as given.

  Returns:
    dict(step=final step, metrics=last metrics (None if nothing ran), stopped=True when SIGTERM
    or Ctrl-C stopped the run before num_train_steps).

  Raises (all before any training, and before writing anything unless noted):
    NotADirectoryError: workdir is a regular file.
    ValueError / FileNotFoundError: a bad config or missing data; on resume, a change of a key
      that cannot change (sagan_tf.store.record.FIXED), or checkpoints without config.json
      (unless record_config).
    workdir.WorkdirBusyError: another process trains in workdir.
    store.checkpoints.DiskFullError: (during training) no space for a checkpoint.
    FloatingPointError: (during training) a non-finite loss.
  """
  workdir_lib.check_usable(workdir)
  strategy = strategy or tf.distribute.get_strategy()
  resuming = bool(ckpt_lib.latest_checkpoint(workdir))
  if resuming:
    config, kept = record_lib.in_effect(record_lib.read(workdir), config, file_config,
                                        overridden)
    if kept:
      logging.info("%s", record_lib.describe_kept(kept, workdir))
  _check_inputs(config, strategy)
  names = data_lib.class_names(config)
  if resuming:
    _check_record(workdir, config, names, record_config)
  chief = is_chief(strategy)  # workers share the workdir: the chief locks it for all
  with workdir_lib.WorkdirLock(workdir) if chief else contextlib.nullcontext():
    return _train(config, workdir, strategy, chief, names, record_config, file_config)


def _check_record(workdir, config, names, record_config):
  """read(workdir) checked for a resume (record_lib): refuses one that changes fixed keys or
  what the labels mean, or one without config.json unless record_config (then None)."""
  record = record_lib.check_resume(workdir, config, record_config)
  record_lib.check_class_names(record, names, string_sorted_before=config.dataset == "folder")
  return record


def _apply_config(config, workdir, trainer, restored, chief, names, record_config,
                  accelerators, file_config):
  """Puts config in effect from the restored step: the optimizers' learning rates (which the
  checkpoint restored) are assigned, the changes logged and config.json updated (with the
  data's class names and, per start, the machine that trains from this step: an entry at the
  same step, which trained no kept step, is replaced). Every other changeable key is read from
  config when the trainer and loop are built."""
  step = int(trainer.step.numpy())
  record, used = None, {}
  if restored:
    record = _check_record(workdir, config, names, record_config)  # again: it may change
    if record is None:
      logging.warning("%s was missing: recording this config as the one %s trained with "
                      "(--record_config), from step %d.", record_lib.record_path(workdir),
                      restored, step)
    used = {"g_lr": float(trainer.g_optimizer.learning_rate.numpy()),
            "d_lr": float(trainer.d_optimizer.learning_rate.numpy())}
  trainer.g_optimizer.learning_rate = config.g_lr
  trainer.d_optimizer.learning_rate = config.d_lr
  machines = [m for m in (record or {}).get("machines", []) if m["from_step"] < step]
  record, changes = record_lib.resume(record, config, step, used, file_config)
  record["machines"] = machines + [dict(from_step=step, tensorflow=tf.__version__,
                                        **hardware.machine(accelerators))]
  for line in record_lib.describe_changes(changes, step, workdir):
    logging.warning("%s", line)
  if names:
    record["class_names"] = names
    shown = ", ".join(f"{i} {n}" for i, n in enumerate(names[:12]))
    logging.info("Classes (id name): %s%s; all %d in %s.", shown,
                 " ..." if len(names) > 12 else "", len(names), record_lib.record_path(workdir))
  if chief:
    record_lib.write(workdir, record)


def _train(config, workdir, strategy, chief, names, record_config, file_config):
  ckpt_dir = ckpt_lib.checkpoint_dir(workdir)
  if not chief:  # other workers take part in the (collective) save into a scratch dir
    ckpt_dir = os.path.join(workdir, "tmp_worker", str(strategy.cluster_resolver.task_id))
  accelerators = tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")
  hardware.warn_if_bf16_is_emulated(config.mixed_precision, bool(accelerators), logging.warning)
  trainer = GANTrainer(config, strategy)
  ckpt = trainer.checkpoint()
  manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=config.keep_checkpoints)
  restored = _restore(ckpt, ckpt_lib.checkpoint_dir(workdir))
  step = int(trainer.step.numpy())
  if restored:
    logging.info("Resumed from %s at step %d.", restored, step)
  if step >= config.num_train_steps:
    logging.info("Already trained %d >= num_train_steps=%d steps.", step,
                 config.num_train_steps)
    return {"step": step, "metrics": None, "stopped": False}
  _apply_config(config, workdir, trainer, restored, chief, names, record_config,
                [d.device_type for d in accelerators], file_config)
  writer = (tf.summary.create_file_writer(os.path.join(workdir, "train")) if chief
            else tf.summary.create_noop_writer())
  iterator = _distributed_iterator(config, strategy, step)
  reporter = _Reporter(config, trainer, writer, workdir if chief else None, names)
  health = HealthWatch(trainer.generator, trainer.discriminator)
  metrics = None
  stopped = False
  agree = _stop_agreement(strategy)
  with _StopRequest() as stop:
    while step < config.num_train_steps:
      previous = step
      metrics, finite = trainer.train(
          iterator, min(config.steps_per_loop, config.num_train_steps - step))
      step = int(trainer.step.numpy())
      reporter.speed.loop_done(step)
      if not finite:
        raise FloatingPointError(
            f"Non-finite loss between steps {previous} and {step} ({metrics}); training "
            f"stopped without saving. The last good checkpoint is "
            f"{ckpt_lib.latest_checkpoint(workdir)}. Lower the "
            f"learning rates (--config.g_lr / --config.d_lr take effect on resume) or train "
            f"in float32 (mixed_precision='', in a new --workdir).")
      health.check(step, metrics, config)
      crossed = lambda every: step // every > previous // every or step == config.num_train_steps
      if crossed(config.log_every_steps):
        reporter.scalars(step, metrics)
      stopped = agree(stop.requested)
      if crossed(config.checkpoint_every_steps) or stopped:
        ckpt_lib.save(manager, step)
      if crossed(config.image_every_steps):  # after the save: a failed write loses no step
        reporter.images(step)
      if stopped:
        logging.info("Stopped at step %d on request; checkpoint saved.", step)
        break
  writer.flush()
  if not chief:
    shutil.rmtree(ckpt_dir, ignore_errors=True)
  if reporter.samples and reporter.samples.latest_png:
    print(f"Latest sample grid (EMA generator): {reporter.samples.latest_png}", flush=True)
  return {"step": step, "metrics": metrics,
          "stopped": stopped and step < config.num_train_steps}
