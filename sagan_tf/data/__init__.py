"""tf.data pipelines: the built-in synthetic dataset, TFDS, image folders, TFRecords."""

from sagan_tf.data.pipeline import build_dataset
from sagan_tf.data.pipeline import build_eval_dataset
from sagan_tf.data.pipeline import check_config
from sagan_tf.data.pipeline import class_names
from sagan_tf.data.pipeline import eval_data_is_held_out
from sagan_tf.data.pipeline import eval_data_name
from sagan_tf.data.pipeline import eval_data_size
from sagan_tf.data.prepare import write_resized_shards
from sagan_tf.data.synthetic import symmetry_error
from sagan_tf.data.tfrecord import write_tfrecords

__all__ = ["build_dataset", "build_eval_dataset", "check_config", "class_names",
           "eval_data_is_held_out", "eval_data_name", "eval_data_size", "symmetry_error",
           "write_resized_shards", "write_tfrecords"]
