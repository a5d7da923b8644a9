"""A folder of images, one subfolder per class: data_dir/<class name>/**/<image>.

Class ids are the subfolder names' positions in natural order (`class_names`): names are
compared as runs of digits (by number) and of other characters (by code point), so '1', '2',
'10' get ids 0, 1, 2 and 'cat', 'dog' get 0, 1; names of equal value ('01', '1') are then
ordered as strings. Hidden entries, starting with '.', are ignored. Files ending in .jpg .jpeg .png .bmp .gif (any case) are used, a GIF's first frame;
other files are ignored. With num_classes = 0 (unconditional) images directly in data_dir are
used too and every label is 0, so a flat folder of images works.

Unreadable files (corrupt, truncated, not really an image): skipped. The pipeline never stops
for one bad file in a million; each skipped file is logged once as a warning with its path and
recorded, and `unreadable_files()` returns the paths skipped so far in this process (their count
is its length). `check` decodes a sample of files up front and raises if none of them decodes,
so a folder of nothing but unreadable files fails before training instead of hanging.
"""

import os
import re
import threading

from absl import logging
import tensorflow as tf

from sagan_tf.data import common

_unreadable = set()
_unreadable_lock = threading.Lock()


def unreadable_files():
  """Sorted paths of the image files skipped as unreadable so far in this process."""
  with _unreadable_lock:
    return sorted(_unreadable)


def _note_unreadable(path):
  path = path.numpy().decode("utf-8", "replace")
  with _unreadable_lock:
    new = path not in _unreadable
    _unreadable.add(path)
  if new:
    logging.warning("sagan_tf.data: skipping unreadable image file %s (%d skipped so far)",
                    path, len(_unreadable))
  return False


def _is_image(name):
  return not name.startswith(".") and name.lower().endswith(common.IMAGE_EXTENSIONS)


def _images_under(directory):
  found = []
  for root, dirs, files in os.walk(directory, followlinks=True):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    found.extend(os.path.join(root, f) for f in sorted(files) if _is_image(f))
  return found


def natural_key(name):
  """Sort key of a class name: digit runs compare as numbers, other runs as strings, then the
  name itself (so '01' and '1' keep a fixed order)."""
  parts = re.split(r"(\d+)", name)
  return [int(p) if i % 2 else p for i, p in enumerate(parts)], name


def class_names(directory):
  """The class subfolders of directory (not hidden), in natural order: class id -> name."""
  return sorted((e.name for e in os.scandir(directory)
                 if e.is_dir() and not e.name.startswith(".")), key=natural_key)


def list_images(directory, num_classes):
  """Returns (paths, labels, class_names), sorted by class then path. Raises on bad folders."""
  where = f"config.data_dir={directory!r} (dataset='folder')"
  if not directory:
    raise ValueError("dataset='folder' needs config.data_dir: a directory with one subfolder "
                     "of images per class.")
  if not os.path.isdir(directory):
    raise FileNotFoundError(f"{where} does not exist or is not a directory.")
  classes = class_names(directory)
  layout = (f"Expected {directory}/<class>/<image> with one subfolder per class and images "
            f"ending in {', '.join(common.IMAGE_EXTENSIONS)}.")
  if num_classes > 0 and not classes:
    raise ValueError(f"{where} has no class subfolders but num_classes={num_classes}. {layout} "
                     "For an unconditional run on a flat folder set num_classes=0.")
  if num_classes > 0 and len(classes) != num_classes:
    raise ValueError(f"{where} has {len(classes)} class subfolders but num_classes="
                     f"{num_classes}: they must be equal. Subfolders: {classes[:10]}"
                     f"{' ...' if len(classes) > 10 else ''}")
  paths, labels = [], []
  if num_classes == 0:
    top = sorted(e.path for e in os.scandir(directory) if e.is_file() and _is_image(e.name))
    paths.extend(top)
    labels.extend([0] * len(top))
  empty = []
  for class_id, name in enumerate(classes):
    found = _images_under(os.path.join(directory, name))
    if num_classes > 0 and not found:
      empty.append(name)
    paths.extend(found)
    labels.extend([class_id if num_classes else 0] * len(found))
  if not paths:
    raise ValueError(f"{where} contains no images. {layout}")
  if empty:
    raise ValueError(f"{where}: class subfolders without images: {empty[:10]}. Every class "
                     "needs images (remove empty subfolders and lower num_classes).")
  return paths, labels, classes


def num_images(config):
  """The number of image files under config.data_dir (unreadable ones included: they are
  skipped only when read)."""
  return len(list_images(config.data_dir, config.num_classes)[0])


def _decodes(path):
  try:
    common.decode_image(tf.io.read_file(path))
    return True
  except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError,
          tf.errors.DataLossError, tf.errors.UnknownError):
    return False


def check(config, sample=8):
  """Lists the folder (raising on layout errors) and decodes up to `sample` files spread over it."""
  paths, _, _ = list_images(config.data_dir, config.num_classes)
  step = max(1, len(paths) // sample)
  tried = paths[::step][:sample]
  if not any(_decodes(p) for p in tried):
    raise ValueError(f"None of {len(tried)} sampled image files under config.data_dir="
                     f"{config.data_dir!r} could be decoded (e.g. {tried[0]}): they are corrupt "
                     "or not JPEG / PNG / BMP / GIF images.")


def _class_round_robin(paths, labels):
  """Reorders so that class 0's first image, class 1's first, ..., then everyone's second, ..."""
  rank, seen = [], {}
  for label in labels:
    rank.append(seen.get(label, 0))
    seen[label] = rank[-1] + 1
  order = sorted(range(len(paths)), key=lambda i: (rank[i], labels[i]))
  return [paths[i] for i in order], [labels[i] for i in order]


def dataset(config, *, split=None, training, seed=0, num_shards=1, shard_index=0):
  """Unbatched (image float32 [R, R, 3] in [-1, 1], label int32) examples; `split` is unused.

  training=True: shard s of n keeps files s, s + n, ... of the sorted listing; the whole list of
  this shard's paths is shuffled every epoch with `seed` (paths are small, so no buffer limit;
  shuffle_buffer <= 1 turns shuffling off); repeated forever. training=False: one pass in class
  round-robin order (class 0's first image, class 1's first, ..., then the second images), so
  any prefix covers the classes evenly. Unreadable files are skipped (see module docstring).
  """
  del split
  paths, labels, _ = list_images(config.data_dir, config.num_classes)
  if training:
    paths, labels = paths[shard_index::num_shards], labels[shard_index::num_shards]
    if not paths:
      raise ValueError(f"config.data_dir={config.data_dir!r} has fewer images than the "
                       f"{num_shards} input pipelines.")
  else:
    paths, labels = _class_round_robin(paths, labels)
  ds = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))
  if training:
    ds = common.shuffle_if(ds, len(paths) if config.shuffle_buffer > 1 else 0, seed).repeat()
  resolution = config.resolution

  def load(path, label):
    return common.center_crop_resize(common.decode_image(tf.io.read_file(path)), resolution), label

  def load_or_flag(path, label):
    # One path -> a dataset of one element: the image, or (when reading or decoding fails) a
    # placeholder with label -1. ignore_errors on the inner dataset keeps the path at hand.
    good = tf.data.Dataset.from_tensors((path, label)).map(load).ignore_errors()
    bad = tf.data.Dataset.from_tensors((tf.zeros([resolution, resolution, 3]), tf.constant(-1)))
    return good.concatenate(bad).take(1).map(lambda image, lab: (image, lab, path))

  def keep(image, label, path):
    del image
    return tf.cond(label >= 0, lambda: tf.constant(True),
                   lambda: tf.reshape(tf.py_function(_note_unreadable, [path], tf.bool), []))

  ds = ds.interleave(load_or_flag, cycle_length=tf.data.AUTOTUNE, block_length=1,
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.filter(keep).map(lambda image, label, path: (image, label))
