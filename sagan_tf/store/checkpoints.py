"""The checkpoint layout, shared by training, evaluation, export and the tools.

workdir/checkpoints/ckpt-<N> holds a tf.train.Checkpoint with:
  generator, ema_generator, discriminator (Keras models), g_optimizer, d_optimizer,
  step (int64 scalar variable: training iterations done; N equals it).
Randomness is stateless, derived from (config.seed, step), so `step` is the RNG state.
"""

import os

from absl import logging
import tensorflow as tf

from sagan_tf import models

CHECKPOINT_SUBDIR = "checkpoints"


def checkpoint_dir(workdir):
  return os.path.join(workdir, CHECKPOINT_SUBDIR)


def make_checkpoint(generator, ema_generator, discriminator, g_optimizer=None,
                    d_optimizer=None, step=None):
  """Returns the tf.train.Checkpoint of the layout above (None entries are left out)."""
  objects = dict(generator=generator, ema_generator=ema_generator, discriminator=discriminator,
                 g_optimizer=g_optimizer, d_optimizer=d_optimizer, step=step)
  return tf.train.Checkpoint(**{k: v for k, v in objects.items() if v is not None})


def latest_checkpoint(workdir):
  """Returns the path of workdir's newest checkpoint, or None."""
  return tf.train.latest_checkpoint(checkpoint_dir(workdir))


def list_checkpoints(workdir):
  """Returns the checkpoint paths in workdir, oldest first ([] if none)."""
  state = tf.train.get_checkpoint_state(checkpoint_dir(workdir))
  return list(state.all_model_checkpoint_paths) if state else []


class DiskFullError(OSError):
  """A checkpoint save ran out of disk space (its partial files were removed)."""


def save(manager, step):
  """Saves ckpt-<step> with a tf.train.CheckpointManager; returns its path.

  On a full disk (ResourceExhaustedError from the write) it removes what the save left behind
  (the ckpt-<step>_temp directory, and ckpt-<step> files the checkpoint list does not name),
  so the previous checkpoint stays the latest, and raises DiskFullError naming the directory.
  """
  try:
    return manager.save(checkpoint_number=step)
  except tf.errors.ResourceExhaustedError as e:
    prefix = os.path.join(manager.directory, f"ckpt-{step}")
    latest = tf.train.latest_checkpoint(manager.directory)
    partial = tf.io.gfile.glob(prefix + "_temp*")
    if latest != prefix:
      partial += tf.io.gfile.glob(prefix + ".*")
    for path in partial:
      (tf.io.gfile.rmtree if tf.io.gfile.isdir(path) else tf.io.gfile.remove)(path)
    logging.info("Disk full while saving %s (%s); removed %s.", prefix, e.message, partial)
    raise DiskFullError(
        f"No space left in {manager.directory} while saving checkpoint ckpt-{step}: the "
        f"partial save was removed and the latest checkpoint is still {latest}. Free space "
        f"there (or lower keep_checkpoints) and run the same command to resume.") from None


def checkpoint_step(path):
  """Returns N for a path ending in ckpt-N."""
  return int(path.rsplit("-", 1)[-1])


def restore_models(config, workdir, checkpoint_path=None):
  """Builds G, EMA G and D from config and restores them from a checkpoint.

  Args:
    config: the experiment config the checkpoint was trained with.
    workdir: the training workdir.
    checkpoint_path: a specific ckpt-N path; default the latest in workdir.

  Returns:
    dict(generator=, ema_generator=, discriminator=, step=int, path=str).

  Raises:
    FileNotFoundError if workdir holds no checkpoint or checkpoint_path is none; ValueError if
    the checkpoint does not match the config (different architecture).
  """
  path = checkpoint_path or latest_checkpoint(workdir)
  if not path:
    raise FileNotFoundError(
        f"No checkpoint in {checkpoint_dir(workdir)!r}: train first "
        f"(sagan-train --config=... --workdir={workdir}) or check --workdir.")
  if not tf.io.gfile.exists(path + ".index"):
    kept = [os.path.basename(p) for p in list_checkpoints(workdir)]
    raise FileNotFoundError(
        f"--checkpoint={path}: no such checkpoint (no {path}.index); {workdir} holds "
        f"{', '.join(kept) or 'none'} in {checkpoint_dir(workdir)}: pass one of those, or drop "
        f"--checkpoint for the latest.")
  g, d = models.build_models(config)
  ema, _ = models.build_models(config)
  step = tf.Variable(0, dtype=tf.int64, trainable=False)
  ckpt = make_checkpoint(g, ema, d, step=step)
  try:
    ckpt.read(path).expect_partial().assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
    raise ValueError(
        f"Checkpoint {path} does not match the config (resolution={config.resolution}, "
        f"g_ch={config.g_ch}, d_ch={config.d_ch}, num_classes={config.num_classes}, "
        f"g_attention={tuple(config.g_attention)}, d_attention={tuple(config.d_attention)}): "
        f"pass the config it was trained with. Cause: {str(e)[:500]}") from e
  return dict(generator=g, ema_generator=ema, discriminator=d, step=int(step.numpy()),
              path=path)
