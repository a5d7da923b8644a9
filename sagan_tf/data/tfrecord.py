"""TFRecord files matched by a glob pattern (config.data_dir, e.g. '/data/train-*.tfrecord').

Each record is a tf.train.Example with 'image': encoded PNG / JPEG / BMP / GIF bytes (any size)
and 'label': int64 (may be absent when num_classes = 0). `write_tfrecords` writes this format
from arrays; `sagan_tf.data.prepare` writes any dataset pre-resized in it
(sagan-prepare-tfrecords).
Labels outside [0, num_classes) stop the pipeline with an InvalidArgumentError; corrupt records
or images do too (a TFRecord set is a prepared dataset: corruption means a broken conversion).
"""

import os

import numpy as np
import tensorflow as tf

from sagan_tf import choices
from sagan_tf.data import common

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
}


def list_files(pattern):
  """Sorted files matching the glob pattern; FileNotFoundError if there are none."""
  if not pattern:
    raise ValueError("dataset='tfrecord' needs config.data_dir: a glob pattern of TFRecord "
                     "files, e.g. '/data/train-*.tfrecord'.")
  files = sorted(tf.io.gfile.glob(pattern))
  if not files:
    hint = (" It is a directory: give a pattern such as "
            f"{os.path.join(pattern, '*.tfrecord')!r}." if tf.io.gfile.isdir(pattern) else "")
    raise FileNotFoundError(f"No TFRecord files match config.data_dir={pattern!r} "
                            f"(dataset='tfrecord').{hint}")
  return files


def check(config):
  list_files(config.data_dir)


def dataset(config, *, split=None, training, seed=0, num_shards=1, shard_index=0):
  """Unbatched (image float32 [R, R, 3] in [-1, 1], label int32) examples; `split` is unused.

  training=True: files are sharded when there are at least num_shards of them, else every
  pipeline reads all files in the same order and keeps every num_shards-th record; the file
  order is shuffled every epoch with `seed`, several files are read in parallel, records are
  shuffled in a buffer of config.shuffle_buffer serialized records; repeated forever.
  training=False: one pass, files in sorted order, records in file order.
  """
  del split
  files = list_files(config.data_dir)
  shard_files = training and num_shards > 1 and len(files) >= num_shards
  if shard_files:
    files = files[shard_index::num_shards]
  ds = tf.data.Dataset.from_tensor_slices(files)
  if training:
    ds = common.shuffle_if(ds, len(files), seed)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 16), block_length=1,
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if num_shards > 1 and not shard_files:
      ds = ds.shard(num_shards, shard_index)
    ds = common.shuffle_if(ds, config.shuffle_buffer, seed).repeat()
  else:
    ds = ds.flat_map(tf.data.TFRecordDataset)
  resolution, num_classes = config.resolution, config.num_classes
  source = f"TFRecords {config.data_dir!r}"

  def decode(record):
    ex = tf.io.parse_single_example(record, _FEATURES)
    image = common.center_crop_resize(common.decode_image(ex["image"]), resolution)
    return image, common.check_labels(ex["label"], num_classes, source)
  return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


IMAGE_FORMATS = choices.TFRECORD_IMAGE_FORMATS
JPEG_QUALITY = 95


def check_image_format(image_format):
  if image_format not in IMAGE_FORMATS:
    raise ValueError(f"image_format={image_format!r}; choose 'png' (lossless) or 'jpeg'.")


def encode_image(image_uint8, image_format="png"):
  """uint8 [H, W, 1 or 3] tensor -> scalar string tensor: PNG, or JPEG at JPEG_QUALITY."""
  if image_format == "png":
    return tf.io.encode_png(image_uint8)
  return tf.io.encode_jpeg(image_uint8, quality=JPEG_QUALITY)


def serialize_example(encoded, label=None):
  """Encoded image bytes and an int label (None: no 'label' feature) -> a serialized Example."""
  feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))}
  if label is not None:
    feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_tfrecords(images_uint8, labels, path, image_format="png"):
  """Writes images and labels as one TFRecord file in the format `dataset` reads.

  Args:
    images_uint8: uint8 [N, H, W, 3] array, or a sequence of uint8 [H, W, 3] (or [H, W, 1])
      arrays of any sizes (the reader crops and resizes).
    labels: N integers, or None to write no labels (for unconditional data).
    path: the output file; parent directories are created.
    image_format: 'png' (lossless, default) or 'jpeg' (quality JPEG_QUALITY = 95).
  Returns:
    The number of records written.
  """
  check_image_format(image_format)
  images = list(images_uint8)
  if labels is not None:
    labels = [int(v) for v in np.asarray(labels).reshape(-1)]
    if len(labels) != len(images):
      raise ValueError(f"{len(images)} images but {len(labels)} labels.")
  parent = os.path.dirname(path)
  if parent:
    tf.io.gfile.makedirs(parent)
  with tf.io.TFRecordWriter(path) as writer:
    for i, image in enumerate(images):
      image = np.asarray(image)
      if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"Image {i}: expected uint8 [H, W, 3] or [H, W, 1], got "
                         f"{image.dtype} {image.shape}.")
      encoded = encode_image(image, image_format).numpy()
      writer.write(serialize_example(encoded, None if labels is None else labels[i]))
  return len(images)
