"""Dispatch from a config to a batched tf.data pipeline of (images, labels)."""

import tensorflow as tf

from sagan_tf.data import synthetic


def build_dataset(config, batch_size, input_context=None, start_index=0):
  """Returns an infinite tf.data.Dataset of batches for training.

  Args:
    config: the experiment config (dataset, resolution, num_classes, data_dir, ...).
    batch_size: examples per batch (the per-replica batch under a strategy).
    input_context: tf.distribute.InputContext or None; shards the data over input pipelines.
    start_index: examples this pipeline already consumed (exact resume for the built-in data).

  Yields:
    images float32 [batch_size, R, R, 3] in [-1, 1], labels int32 [batch_size]
    (all zeros when num_classes = 0). Batches always have batch_size rows (drop_remainder).
  """
  shards = input_context.num_input_pipelines if input_context else 1
  shard = input_context.input_pipeline_id if input_context else 0
  if config.dataset == "synthetic":
    ds = synthetic.dataset(config.resolution, config.num_classes, seed=config.data_seed,
                           start_index=start_index, num_shards=shards, shard_index=shard)
  else:
    raise NotImplementedError(f"dataset {config.dataset!r} is being built")
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
