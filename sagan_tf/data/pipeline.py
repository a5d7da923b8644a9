"""Dispatch from a config to tf.data pipelines of (images, labels).

config.dataset picks the source:
  synthetic  the built-in mirror-symmetric shapes (synthetic.py), made on the fly.
  tfds       TensorFlow Datasets config.tfds_name / config.split, prepared in config.data_dir.
  folder     config.data_dir/<class>/<images> (folder.py).
  tfrecord   TFRecord files matching the glob config.data_dir (tfrecord.py).
Every file-based source is preprocessed as the authors did for ImageNet: largest central square,
bilinear resize to config.resolution, [-1, 1] float32 (common.py).

Resuming: the synthetic data resumes exactly (example i is a function of (data_seed, i)). The
file-based sources derive their shuffle seed from (data_seed, start_index), so a resumed run
sees a fresh order rather than replaying the examples it saw right after its start; it is not
the exact continuation of the interrupted run.
"""

import tensorflow as tf

from sagan_tf.choices import DATASETS
from sagan_tf.data import common
from sagan_tf.data import folder
from sagan_tf.data import synthetic
from sagan_tf.data import tfds_data
from sagan_tf.data import tfrecord

EVAL_SEED = -1  # the synthetic data's held-out stream (training streams: data_seed >= 0)
_FILE_SOURCES = {"tfds": tfds_data, "folder": folder, "tfrecord": tfrecord}


def _source(config):
  if config.dataset not in DATASETS:
    raise ValueError(f"Unknown dataset={config.dataset!r}; choose one of {DATASETS}.")
  return _FILE_SOURCES.get(config.dataset)


def check_config(config):
  """Raises a clear error now, before any training work, if the data cannot be read.

  Unknown dataset name (ValueError); TFDS: unknown name, data not prepared in data_dir
  (FileNotFoundError), more classes than num_classes; folder: missing directory
  (FileNotFoundError), no images, class subfolders != num_classes, nothing decodable;
  tfrecord: no file matches the pattern (FileNotFoundError).
  """
  source = _source(config)
  if source is not None:
    source.check(config)


def class_names(config):
  """Class id -> name of the config's data, as a list of num_classes strings (ids the data
  does not name are named by their number), or None when the data names no classes
  (unconditional, TFRecords): synthetic: its shapes (synthetic.class_names); folder: the class
  subfolders in natural order (folder.class_names); TFDS: the ClassLabel's names. Call after
  check_config."""
  if not config.num_classes:
    return None
  if config.dataset == "synthetic":
    names = synthetic.class_names(config.num_classes)
  elif config.dataset == "folder":
    names = folder.class_names(config.data_dir)
  elif config.dataset == "tfds":
    names = tfds_data.class_names(config)
  else:
    names = None
  if not names:
    return None
  names = [str(n) for n in names][:config.num_classes]  # ids the data lacks: named by id
  return names + [str(i) for i in range(len(names), config.num_classes)]


def _options():
  options = tf.data.Options()
  options.deterministic = True
  options.autotune.enabled = True
  options.experimental_optimization.map_parallelization = True
  return options


def build_dataset(config, batch_size, input_context=None, start_index=0):
  """Returns an infinite tf.data.Dataset of batches for training.

  Args:
    config: the experiment config (dataset, resolution, num_classes, data_dir, ...).
    batch_size: examples per batch (the per-replica batch under a strategy).
    input_context: tf.distribute.InputContext or None; shards the data over input pipelines
      (files when there are at least as many files as pipelines, else examples).
    start_index: examples this pipeline already consumed. Exact resume for the synthetic data;
      file-based data only uses it to derive a fresh shuffle seed (see module docstring).

  Yields:
    images float32 [batch_size, R, R, 3] in [-1, 1], labels int32 [batch_size]
    (all zeros when num_classes = 0). Batches always have batch_size rows (drop_remainder).
  """
  source = _source(config)
  shards = input_context.num_input_pipelines if input_context else 1
  shard = input_context.input_pipeline_id if input_context else 0
  if source is None:
    ds = synthetic.dataset(config.resolution, config.num_classes, seed=config.data_seed,
                           start_index=start_index, num_shards=shards, shard_index=shard)
  else:
    ds = source.dataset(config, split=config.split, training=True,
                        seed=common.derive_seed(config.data_seed, start_index),
                        num_shards=shards, shard_index=shard)
  ds = ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  return ds.with_options(_options())


def eval_data_is_held_out(config, split=None):
  """Whether build_eval_dataset(config, split=split) yields examples training does not see:
  the synthetic held-out stream, or a TFDS split (None -> config.eval_split) other than
  config.split. Folders and TFRecords have no splits: their evaluation reads the training
  files (False)."""
  if config.dataset == "synthetic":
    return True
  if config.dataset == "tfds":
    return (split or config.eval_split) != config.split
  return False


def eval_data_name(config, split=None):
  """What build_eval_dataset(config, split=split) reads, for messages: 'the synthetic
  held-out stream', "TFDS cifar10 split 'test'", 'the folder DIR', 'the TFRecords PATTERN'."""
  if config.dataset == "tfds":
    return f"TFDS {config.tfds_name} split {split or config.eval_split!r}"
  if config.dataset in ("folder", "tfrecord"):
    kind = "folder" if config.dataset == "folder" else "TFRecords"
    return f"the {kind} {config.data_dir}"
  return f"the {config.dataset} held-out stream"


def eval_data_size(config, split=None):
  """How many examples build_eval_dataset(config, split=split) holds before its num_examples
  cap, when known without reading them (a folder's image files, a TFDS split's recorded size);
  None when unbounded (synthetic) or not counted (TFRecords, TFDS without split sizes)."""
  if config.dataset == "folder":
    return folder.num_images(config)
  if config.dataset == "tfds":
    return tfds_data.num_examples(config, split or config.eval_split)
  return None


def build_eval_dataset(config, batch_size, num_examples, split=None):
  """Returns a finite dataset of at most num_examples real examples, for evaluation statistics.

  One unshuffled, unsharded pass in a fixed order; batches of batch_size except the last, which
  holds the remainder (no drop_remainder). When the data has fewer than num_examples examples,
  all of them are yielded: the caller counts and decides.

  Args:
    config: the experiment config.
    batch_size: examples per batch.
    num_examples: the most examples to yield (required: the synthetic data is infinite).
    split: TFDS split; None -> config.eval_split. Folders and TFRecords have no splits: they use
      config.data_dir (point it elsewhere for held-out data).

  Order: synthetic: examples 0, 1, ... of the held-out stream EVAL_SEED (-1; training streams
  are data_seed >= 0, so these are never training examples, and every run of a config is scored
  against the same real images whatever its data_seed); TFDS: file order; TFRecord: sorted
  files, records in file order; folder: class round-robin (every prefix balanced over classes).
  """
  if int(num_examples) < 1:
    raise ValueError(f"num_examples={num_examples} must be >= 1.")
  source = _source(config)
  if source is None:
    ds = synthetic.dataset(config.resolution, config.num_classes, seed=EVAL_SEED)
  else:
    ds = source.dataset(config, split=split or config.eval_split, training=False)
  ds = ds.take(int(num_examples)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
  return ds.with_options(_options())
