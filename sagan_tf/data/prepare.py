"""Writes a dataset once as pre-resized TFRecord shards (the authors trained on ImageNet
pre-resized to 128 px), so training decodes small images instead of resizing full-size ones.

Any source the config reads (dataset = folder, tfds or tfrecord, with its data_dir, split,
tfds_name, num_classes) goes through the training preprocessing (largest central square,
bilinear antialiased resize to config.resolution, common.center_crop_resize), is quantized back
to uint8 (round((x + 1) * 127.5)) and stored as PNG (lossless: training then reads each pixel
within half a level, 0.5 / 127.5 in [-1, 1] units, of the on-the-fly value) or JPEG (smaller,
lossy). Records are in tfrecord.py's format, so training reads them with dataset = tfrecord and
data_dir = '<prefix>-*.tfrecord'. Order: the source's evaluation order (folder: class
round-robin; TFDS: file order; TFRecord: sorted files), record i going to shard i % num_shards.
"""

import os

import tensorflow as tf

from sagan_tf.data import pipeline
from sagan_tf.data import tfrecord
from sagan_tf.store.images import to_uint8


def shard_paths(prefix, num_shards):
  """The shard files '<prefix>-00000-of-000NN.tfrecord', ... (num_shards of them)."""
  return [f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


def write_resized_shards(config, prefix, num_shards=16, image_format="png", split=None,
                         max_examples=0, batch_size=64, log=None):
  """Writes config's dataset resized to config.resolution as TFRecord shards.

  Args:
    config: a config with dataset 'folder', 'tfds' or 'tfrecord' and its data keys.
    prefix: output path prefix (directories are created); files are shard_paths(prefix, n).
    num_shards: number of files (several let multi-worker training shard by file).
    image_format: 'png' (lossless) or 'jpeg' (tfrecord.JPEG_QUALITY).
    split: TFDS split; None -> config.split (folders and TFRecords have none).
    max_examples: write at most this many (0: all).
    batch_size: images decoded and encoded per tf.data batch (memory, not results).
    log: None or a function called with a progress line every 10,000 records.
  Returns:
    (records written, list of shard paths).
  Raises (before writing anything): ValueError for synthetic data, a bad format or shard count,
  existing shards with this prefix; the data errors of sagan_tf.data.check_config.
  """
  if config.dataset == "synthetic":
    raise ValueError("dataset='synthetic' is made on the fly: there is nothing to prepare. "
                     "Set --config.dataset to folder, tfds or tfrecord and its data_dir.")
  tfrecord.check_image_format(image_format)
  if int(num_shards) < 1:
    raise ValueError(f"num_shards={num_shards} must be >= 1.")
  existing = tf.io.gfile.glob(f"{prefix}-*.tfrecord")
  if existing:
    raise ValueError(f"{len(existing)} file(s) already match {prefix}-*.tfrecord (e.g. "
                     f"{existing[0]}): remove them or choose another output prefix, so that "
                     "the training glob reads this conversion only.")
  pipeline.check_config(config)
  limit = int(max_examples) if max_examples else 2**62
  ds = pipeline.build_eval_dataset(config, batch_size, limit, split=split or config.split)
  ds = ds.unbatch().map(
      lambda image, label: (tfrecord.encode_image(to_uint8(image), image_format), label),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
  paths = shard_paths(prefix, int(num_shards))
  parent = os.path.dirname(prefix)
  if parent:
    tf.io.gfile.makedirs(parent)
  writers = [tf.io.TFRecordWriter(p) for p in paths]
  count = 0
  try:
    for encoded, label in ds.as_numpy_iterator():
      writers[count % len(writers)].write(tfrecord.serialize_example(encoded, label))
      count += 1
      if log and count % 10_000 == 0:
        log(f"{count:,} records written")
  finally:
    for writer in writers:
      writer.close()
  return count, paths
