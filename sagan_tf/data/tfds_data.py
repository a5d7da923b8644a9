"""TensorFlow Datasets by name (config.tfds_name), split and data_dir. Never downloads.

The data must already be prepared in config.data_dir ('' = TFDS's default, ~/tensorflow_datasets
or $TFDS_DATA_DIR), e.g. with `tfds build imagenet2012 --data_dir=DIR` (ImageNet needs its tar
files in DIR/downloads/manual first). Missing data raises FileNotFoundError saying so.

Features used: 'image' (any size; decoded here, after shuffling, so the shuffle buffer holds the
small encoded bytes) and 'label' (a ClassLabel; not needed when num_classes = 0).
"""

import tensorflow as tf
import tensorflow_datasets as tfds

from sagan_tf.data import common


def _where(config):
  return config.data_dir or "TFDS's default data_dir (~/tensorflow_datasets or $TFDS_DATA_DIR)"


def _builder(config):
  try:
    return tfds.builder(config.tfds_name, data_dir=config.data_dir or None)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(
        f"TFDS has no dataset named {config.tfds_name!r} (config.tfds_name). See "
        "https://www.tensorflow.org/datasets/catalog for names, e.g. 'imagenet2012', "
        "'cifar10'.") from None


def _check_features(builder, config):
  """Errors for a dataset this config cannot train on: no image, too many classes, no labels."""
  features = builder.info.features
  name = config.tfds_name
  if "image" not in features:
    raise ValueError(f"TFDS dataset {name!r} has no 'image' feature (features: "
                     f"{sorted(features.keys())}); only image datasets are supported.")
  if config.num_classes > 0:
    if "label" not in features:
      raise ValueError(
          f"TFDS dataset {name!r} has no 'label' feature but num_classes={config.num_classes}: "
          "set num_classes = 0 to train unconditionally.")
    label = features["label"]
    data_classes = getattr(label, "num_classes", None)
    if data_classes is not None and data_classes > config.num_classes:
      raise ValueError(
          f"TFDS dataset {name!r} has {data_classes} classes but num_classes="
          f"{config.num_classes}: labels could be >= num_classes. Set num_classes="
          f"{data_classes} (or 0 for unconditional training).")


def _open(builder, config, split, shuffle_files, read_config=None):
  """builder.as_dataset with the image left encoded; clear errors for missing data / splits."""
  try:
    return builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config,
                              decoders={"image": tfds.decode.SkipDecoding()})
  except AssertionError as e:  # what TFDS raises when data_dir holds no prepared data
    raise FileNotFoundError(
        f"TFDS dataset {config.tfds_name!r} is not prepared in {_where(config)} (config.data_dir). "
        "This program never downloads. Prepare it first, e.g. "
        f"`tfds build {config.tfds_name} --data_dir=DIR` (for imagenet2012 put the ImageNet tar "
        "files in DIR/downloads/manual first: "
        "https://www.tensorflow.org/datasets/catalog/imagenet2012), then set config.data_dir=DIR. "
        f"TFDS said: {e}") from None
  except (KeyError, ValueError) as e:
    splits = sorted(builder.info.splits.keys()) if builder.info.splits else "unknown"
    raise ValueError(f"TFDS dataset {config.tfds_name!r}: cannot read split {split!r} "
                     f"(available: {splits}): {e}") from e


def _num_files(builder, split):
  """Number of files behind the split, or 0 when TFDS does not know (e.g. mocked data)."""
  try:
    return len(builder.info.splits[split].file_instructions)
  except Exception:  # pylint: disable=broad-except
    return 0


def num_examples(config, split):
  """The split's number of examples as TFDS records it, or None when it does not know."""
  try:
    return int(_builder(config).info.splits[split].num_examples) or None
  except Exception:  # pylint: disable=broad-except
    return None


def class_names(config):
  """The 'label' feature's class names (a ClassLabel's; None without labels)."""
  features = _builder(config).info.features
  label = features["label"] if config.num_classes > 0 and "label" in features else None
  names = getattr(label, "names", None)
  return list(names) if names else None


def check(config):
  """Raises before training if the dataset is unknown, unprepared or has too many classes."""
  builder = _builder(config)
  _check_features(builder, config)
  _open(builder, config, config.split, shuffle_files=False)


def dataset(config, *, split, training, seed=0, num_shards=1, shard_index=0):
  """Unbatched (image float32 [R, R, 3] in [-1, 1], label int32) examples.

  training=True: this shard's examples, files and examples shuffled with `seed` (buffer
  config.shuffle_buffer of encoded examples), repeated forever. Files are sharded when the split
  has at least num_shards files, else every pipeline reads all files in the same order and keeps
  every num_shards-th example. training=False: one pass in file order.
  """
  builder = _builder(config)
  _check_features(builder, config)
  image_feature = builder.info.features["image"]
  if training:
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    shard_files = num_shards > 1 and _num_files(builder, split) >= num_shards
    if shard_files:
      read_config.input_context = tf.distribute.InputContext(
          num_input_pipelines=num_shards, input_pipeline_id=shard_index)
    ds = _open(builder, config, split, shuffle_files=True, read_config=read_config)
    if num_shards > 1 and not shard_files:
      ds = ds.shard(num_shards, shard_index)
  else:
    ds = _open(builder, config, split, shuffle_files=False)
  has_label = "label" in builder.info.features
  ds = ds.map(lambda ex: (ex["image"], ex["label"] if has_label else tf.constant(0, tf.int64)))
  if training:
    ds = common.shuffle_if(ds, config.shuffle_buffer, seed).repeat()
  source = f"TFDS dataset {config.tfds_name!r}"

  def decode(encoded, label):
    image = common.center_crop_resize(image_feature.decode_example(encoded), config.resolution)
    return image, common.check_labels(label, config.num_classes, source)
  return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
