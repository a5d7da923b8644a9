"""Tiny SavedModels with the classifier interface, for evaluation tests (not a test module).

save(path, outputs, dim): a fixed random projection of the images (resized inside to 8x8, as a
real network resizes) with only the outputs named: ('pool_3',) is shaped like the imported
Inception network (features, no logits), ('logits',) a class network without features.
Built in well under a second; no training.
"""

import numpy as np
import tensorflow as tf


class _Projection(tf.Module):

  def __init__(self, outputs, dim, seed):
    super().__init__(name="fake_classifier")
    rng = np.random.default_rng(seed)
    self.outputs = tuple(outputs)
    self.w = tf.Variable(rng.normal(0, 0.2, (8 * 8 * 3, dim)).astype(np.float32))

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                              name="images")])
  def __call__(self, images):
    x = tf.reshape(tf.image.resize(images, [8, 8]), [-1, 8 * 8 * 3])
    y = tf.tanh(x @ self.w)  # bounded, full rank
    return {name: tf.identity(y, name=name) for name in self.outputs}


def save(path, outputs=("pool_3",), dim=16, seed=0):
  """Writes the SavedModel (callable + 'serving_default'); returns path."""
  module = _Projection(outputs, dim, seed)
  tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
  return str(path)
