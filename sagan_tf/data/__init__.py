"""tf.data pipelines: the built-in synthetic dataset, TFDS, image folders, TFRecords."""

from sagan_tf.data.pipeline import build_dataset
from sagan_tf.data.synthetic import symmetry_error

__all__ = ["build_dataset", "symmetry_error"]
