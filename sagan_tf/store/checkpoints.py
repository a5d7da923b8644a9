"""The checkpoint layout, shared by training, evaluation, export and the tools.

workdir/checkpoints/ckpt-<N> holds a tf.train.Checkpoint with:
  generator, ema_generator, discriminator (Keras models), g_optimizer, d_optimizer,
  step (int64 scalar variable: training iterations done; N equals it).
Randomness is stateless, derived from (config.seed, step), so `step` is the RNG state.

workdir/best/ holds the best-scoring checkpoint the evaluation job kept, out of the trainer's
rotation (keep_checkpoints): its files ckpt-<N>.index, ckpt-<N>.data-* and best.json
{"step", "checkpoint": "ckpt-<N>", "source": the path it was copied from, "metric", "value",
"metrics", "settings", "timestamp"}. best.json names the files, and it is written last, by a
rename (keep_best), so a reader never sees a half copy. `--checkpoint=best` resolves to it
(resolve_checkpoint).
"""

import json
import os
import re
import socket

from absl import logging
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from sagan_tf import models
from sagan_tf.choices import CHECKPOINT_BEST

CHECKPOINT_SUBDIR = "checkpoints"
BEST_SUBDIR = "best"
BEST_FILE = "best.json"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"  # a TF2 checkpoint's object graph
_PIN_PREFIX = "best.tmp-"  # WORKDIR/best.tmp-<host>-<pid>-<step>/: a pinned checkpoint
_FILE_SUFFIX = re.compile(r"\.(index|data-\d+-of-\d+)$")  # a checkpoint's files: prefix + it


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


def _prune(manager, keep):
  """Deletes manager's oldest checkpoints (files, then the checkpoint list) until at most
  `keep` >= 1 remain: the manager's own sweep, at a lower limit (it has no public one)."""
  # pylint: disable=protected-access
  limit, manager._max_to_keep = manager._max_to_keep, keep
  try:
    manager._sweep()
    manager._record_state()
  finally:
    manager._max_to_keep = limit


def save(manager, step):
  """Saves ckpt-<step> with a tf.train.CheckpointManager; returns its path.

  First the oldest checkpoints go, so that with the new one at most the manager's max_to_keep
  exist, during the save too (a keep_checkpoints lowered on resume frees space before the save
  needs it); the newest stays until the new one is written, so a failed save always leaves a
  good checkpoint. On a full disk (ResourceExhaustedError from the write) it removes what the
  save left behind (the ckpt-<step>_temp directory, and ckpt-<step> files the checkpoint list
  does not name), so the previous checkpoint stays the latest, and raises DiskFullError naming
  the directory and, when it holds several checkpoints, the keep_checkpoints that frees one.
  """
  keep = manager._max_to_keep  # pylint: disable=protected-access
  if keep and len(manager.checkpoints) > max(keep - 1, 1):
    _prune(manager, max(keep - 1, 1))
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
    kept = [p for p in manager.checkpoints if p != prefix]
    lower = (f", or add --config.keep_checkpoints={len(kept)} to it (its saves first delete "
             f"the oldest checkpoint, now {os.path.basename(kept[0])})" if len(kept) > 1 else "")
    raise DiskFullError(
        f"No space left in {manager.directory} while saving checkpoint ckpt-{step}: the "
        f"partial save was removed and the latest checkpoint is still {latest}. Free space "
        f"there and run the same command to resume{lower}.") from None


def _shape_differences(root, path):
  """[(path of the variable in root, shape there, shape in root)] of every variable of `root`
  (a tf.train.Checkpoint) that checkpoint `path` holds with another shape, matched as a
  restore matches them: along the checkpoint's object graph."""
  reader = tf.train.load_checkpoint(path)
  graph = trackable_object_graph_pb2.TrackableObjectGraph()
  graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY))
  shapes = reader.get_variable_to_shape_map()
  found, stack, seen = [], [(0, root, "")], set()
  while stack:  # depth first, the optimizers last: a variable is named by its model's path
    node_id, obj, where = stack.pop()
    if node_id in seen:
      continue
    seen.add(node_id)
    for attribute in graph.nodes[node_id].attributes:
      saved = shapes.get(attribute.checkpoint_key)
      ours = getattr(obj, "shape", None)
      if attribute.name == "VARIABLE_VALUE" and None not in (saved, ours):
        if list(saved) != list(ours):
          found.append((where, list(saved), list(ours)))
    children = tf.train.TrackableView(obj).children(obj)
    refs = sorted(graph.nodes[node_id].children, key=lambda r: "optimizer" not in r.local_name)
    stack += [(r.node_id, children[r.local_name], f"{where}/{r.local_name}".lstrip("/"))
              for r in refs if r.local_name in children]
  return sorted(found, key=lambda f: ("optimizer" in f[0], f[0]))


def read_checkpoint(root, path):
  """root.read(path) (a tf.train.Checkpoint of the layout above), returning its load status,
  with two differences. Every variable's shape is compared first: ValueError naming the
  first that differ before anything is restored (a restore that fails halfway leaves the rest
  pending, and TensorFlow lists each pending value as a warning when the objects are deleted).
  And root.save_counter is made first, so the checkpoint's is restored now instead of pending
  until a save (a run that saves nothing would be warned about it)."""
  differ = _shape_differences(root, path)
  if differ:
    shown = "; ".join(f"{where} is {saved} there, {ours} here"
                      for where, saved, ours in differ[:3])
    more = f" (and {len(differ) - 3} more)" if len(differ) > 3 else ""
    raise ValueError(f"{len(differ)} variables have other shapes: {shown}{more}")
  _ = root.save_counter  # made now: restored with the rest
  return root.read(path)


def checkpoint_step(path):
  """Returns N for a path ending in ckpt-N."""
  return int(path.rsplit("-", 1)[-1])


def best_dir(workdir):
  return os.path.join(workdir, BEST_SUBDIR)


def read_best(workdir):
  """The best.json of WORKDIR/best/ as a dict (see the module docstring), or None."""
  path = os.path.join(best_dir(workdir), BEST_FILE)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def _named_checkpoint(workdir, checkpoint):
  """The checkpoint path `checkpoint` names, or None: a path, or a bare name (ckpt-N) in
  WORKDIR/checkpoints/, WORKDIR/best/ or the current directory; a file of it (ckpt-N.index,
  ckpt-N.data-00000-of-00001) names it too."""
  prefix = _FILE_SUFFIX.sub("", checkpoint)
  candidates = [prefix]
  if os.path.basename(prefix) == prefix:
    candidates = [os.path.join(checkpoint_dir(workdir), prefix),
                  os.path.join(best_dir(workdir), prefix), prefix]
  return next((p for p in candidates if tf.io.gfile.exists(p + ".index")), None)


def resolve_checkpoint(workdir, checkpoint=None):
  """The checkpoint path a --checkpoint value names: None or '' the latest in workdir,
  'best' (choices.CHECKPOINT_BEST) WORKDIR/best/ckpt-<N>, a bare name ckpt-N the one in
  WORKDIR/checkpoints/ (or WORKDIR/best/), anything else that path; a checkpoint's file
  (ckpt-N.index, ckpt-N.data-*) names its checkpoint.

  Raises FileNotFoundError (one line naming the fix) when that checkpoint does not exist.
  """
  if checkpoint == CHECKPOINT_BEST:
    info = read_best(workdir)
    if info is None:
      raise FileNotFoundError(
          f"--checkpoint={CHECKPOINT_BEST}: no best checkpoint in {best_dir(workdir)} yet; the "
          f"evaluation job keeps the best-scoring one there (sagan-evaluate "
          f"--workdir={workdir}). Pass a WORKDIR/checkpoints/ckpt-N path, or leave "
          "--checkpoint out for the latest.")
    path = os.path.join(best_dir(workdir), info["checkpoint"])
    if not tf.io.gfile.exists(path + ".index"):
      raise FileNotFoundError(f"--checkpoint={CHECKPOINT_BEST}: {best_dir(workdir)}/{BEST_FILE} "
                              f"names {info['checkpoint']}, but {path}.index is missing.")
    return path
  if checkpoint:
    path = _named_checkpoint(workdir, checkpoint)
    if path is None:
      kept = [os.path.basename(p) for p in list_checkpoints(workdir)]
      raise FileNotFoundError(
          f"--checkpoint={checkpoint}: no such checkpoint (no {_FILE_SUFFIX.sub('', checkpoint)}"
          f".index); {workdir} holds {', '.join(kept) or 'none'} in {checkpoint_dir(workdir)}: "
          f"pass one of those (the name or its path), --checkpoint={CHECKPOINT_BEST}, or leave "
          f"--checkpoint out for the latest.")
    return path
  path = latest_checkpoint(workdir)
  if not path:
    raise FileNotFoundError(
        f"No checkpoint in {checkpoint_dir(workdir)!r}: train first "
        f"(sagan-train --config=... --workdir={workdir}) or check --workdir.")
  return path


def _checkpoint_files(path):
  """The files of checkpoint `path` (its .index and every .data shard), or None if any is
  missing."""
  files = tf.io.gfile.glob(path + ".*")
  names = {os.path.basename(f) for f in files}
  shards = [re.search(r"\.data-\d+-of-(\d+)$", n) for n in names]
  counts = {int(m.group(1)) for m in shards if m}
  if (os.path.basename(path) + ".index" not in names or len(counts) != 1
      or sum(1 for m in shards if m) != counts.pop()):
    return None
  return sorted(files)


def _pid_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # alive, another user's
    pass
  return True


def _link_or_copy(src, dst):
  """A hard link (no bytes copied, and it outlives the source's deletion), or a copy where
  the file system has no hard links (or the path is not local)."""
  if "://" not in src:
    try:
      os.link(src, dst)
      return
    except FileNotFoundError:
      raise
    except OSError:  # another file system, or no hard links
      pass
  tf.io.gfile.copy(src, dst, overwrite=True)


def _remove_stale_pins(workdir):
  """Removes pinned copies this host's dead processes left (a killed evaluation job)."""
  pattern = re.compile(re.escape(f"{_PIN_PREFIX}{socket.gethostname()}-") + r"(\d+)-\d+$")
  for name in tf.io.gfile.listdir(workdir) if tf.io.gfile.isdir(workdir) else []:
    m = pattern.match(name.rstrip("/"))
    if m and not _pid_alive(int(m.group(1))):
      tf.io.gfile.rmtree(os.path.join(workdir, name.rstrip("/")))


class CheckpointGoneError(FileNotFoundError):
  """A checkpoint was deleted (the trainer's rotation) before it could be pinned."""


class PinnedCheckpoint:
  """One checkpoint's files hard-linked (copied where links are impossible) into
  WORKDIR/best.tmp-<host>-<pid>-<step>/, so the trainer's rotation cannot delete them while
  they are read and scored. keep_best() turns it into WORKDIR/best/; close() removes what is
  left. A context manager.

  Attributes: source (the checkpoint's path), path (the pinned copy's), step.
  Raises CheckpointGoneError when the checkpoint is gone or incomplete (rotated away).
  """

  def __init__(self, source, workdir):
    self.source, self.step = source, checkpoint_step(source)
    _remove_stale_pins(workdir)
    self.dir = os.path.join(
        workdir, f"{_PIN_PREFIX}{socket.gethostname()}-{os.getpid()}-{self.step}")
    self.path = os.path.join(self.dir, os.path.basename(source))
    gone = CheckpointGoneError(f"Checkpoint {source} was deleted before it could be read "
                               "(the trainer keeps only the newest keep_checkpoints).")
    files = _checkpoint_files(source)
    if files is None:
      raise gone
    if tf.io.gfile.exists(self.dir):
      tf.io.gfile.rmtree(self.dir)
    tf.io.gfile.makedirs(self.dir)
    try:
      for f in files:
        _link_or_copy(f, os.path.join(self.dir, os.path.basename(f)))
    except (FileNotFoundError, tf.errors.NotFoundError):
      self.close()
      raise gone from None
    self.files = [os.path.basename(f) for f in files]

  def close(self):
    if self.dir and tf.io.gfile.exists(self.dir):
      tf.io.gfile.rmtree(self.dir)
    self.dir = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def keep_best(workdir, pinned, info):
  """Makes the pinned checkpoint WORKDIR/best/, with best.json = info + step, checkpoint,
  source. Atomic: a first best is the pinned directory renamed; a later one moves its files
  in beside the old ones, then renames its best.json over the old (the switch), then removes
  the old files. A crash at any point leaves best.json naming a complete checkpoint (or no
  best/ at all). Consumes `pinned`. Returns the kept checkpoint's path."""
  record = dict(info, step=pinned.step, checkpoint=os.path.basename(pinned.path),
                source=pinned.source)
  with tf.io.gfile.GFile(os.path.join(pinned.dir, BEST_FILE), "w") as f:
    f.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
  best = best_dir(workdir)
  if not tf.io.gfile.exists(best):
    tf.io.gfile.rename(pinned.dir, best)
  else:
    for name in pinned.files + [BEST_FILE]:  # best.json last: the switch
      tf.io.gfile.rename(os.path.join(pinned.dir, name), os.path.join(best, name),
                         overwrite=True)
    for name in tf.io.gfile.listdir(best):
      if name not in pinned.files and name != BEST_FILE:
        path = os.path.join(best, name)
        (tf.io.gfile.rmtree if tf.io.gfile.isdir(path) else tf.io.gfile.remove)(path)
  pinned.close()
  return os.path.join(best, record["checkpoint"])


def restore_models(config, workdir, checkpoint_path=None, pinned=None):
  """Builds G, EMA G and D from config and restores them from a checkpoint.

  Args:
    config: the experiment config the checkpoint was trained with.
    workdir: the training workdir.
    checkpoint_path: a --checkpoint value (resolve_checkpoint): a ckpt-N path, 'best', or
      None for the latest in workdir.
    pinned: a PinnedCheckpoint to read instead (its source is the path reported).

  Returns:
    dict(generator=, ema_generator=, discriminator=, step=int, path=str).

  Raises:
    FileNotFoundError if that checkpoint does not exist; ValueError if the checkpoint does
    not match the config (different architecture).
  """
  if pinned is not None:
    path, read_path = pinned.source, pinned.path
  else:
    path = read_path = resolve_checkpoint(workdir, checkpoint_path)
  g, d = models.build_models(config)
  ema, _ = models.build_models(config)
  step = tf.Variable(0, dtype=tf.int64, trainable=False)
  ckpt = make_checkpoint(g, ema, d, step=step)
  try:
    read_checkpoint(ckpt, read_path).expect_partial().assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
    raise ValueError(
        f"Checkpoint {path} does not match the config (resolution={config.resolution}, "
        f"g_ch={config.g_ch}, d_ch={config.d_ch}, num_classes={config.num_classes}, "
        f"g_attention={tuple(config.g_attention)}, d_attention={tuple(config.d_attention)}): "
        f"pass the config it was trained with. Cause: {str(e)[:500]}") from e
  return dict(generator=g, ema_generator=ema, discriminator=d, step=int(step.numpy()),
              path=path)
