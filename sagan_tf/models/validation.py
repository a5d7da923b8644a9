"""Input checks shared by the networks: clear errors for wrong shapes and labels."""

import tensorflow as tf


def check_labels(labels, num_classes):
  """Checks int labels [B] lie in [0, num_classes); returns them as int32 (None if unconditional).

  Eager: raises ValueError. In a graph: adds an assert that raises InvalidArgumentError
  (a no-op under XLA, where inputs come from the validated data pipeline).
  """
  if num_classes == 0:
    return None  # unconditional: labels are ignored
  if labels is None:
    raise ValueError(f"This model is class-conditional ({num_classes} classes): pass labels.")
  labels = tf.cast(labels, tf.int32)
  if labels.shape.rank not in (None, 1):
    raise ValueError(f"labels must have shape [batch], got {labels.shape}.")
  if tf.executing_eagerly():
    bad = labels.numpy()[(labels.numpy() < 0) | (labels.numpy() >= num_classes)]
    if bad.size:
      raise ValueError(f"labels must be in [0, {num_classes}); got {bad[:5].tolist()}.")
    return labels
  msg = f"labels must be in [0, {num_classes})"
  with tf.control_dependencies([
      tf.debugging.assert_non_negative(labels, message=msg),
      tf.debugging.assert_less(labels, num_classes, message=msg)]):
    return tf.identity(labels)


def check_width(name, tensor, expected_shape):
  """Raises ValueError if tensor's static shape (without batch) differs from expected_shape."""
  got = tuple(tensor.shape[1:])
  if len(got) != len(expected_shape) or any(
      g is not None and g != e for g, e in zip(got, expected_shape)):
    raise ValueError(f"{name} must have shape [batch, {', '.join(map(str, expected_shape))}], "
                     f"got {list(tensor.shape)}.")
