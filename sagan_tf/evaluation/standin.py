"""A small CNN classifier with the Inception module's interface, for data without Inception.

Where TF-GAN's Inception weights are unavailable (offline machines) or meaningless (the
synthetic shapes), a classifier trained on the dataset itself gives FID / KID / IS and class
accuracy. Its numbers are comparable only between runs that use the same classifier file.

  build_classifier_model(resolution, num_classes, width, feature_dim) -> keras.Model
      images [B, R, R, 3] in [-1, 1] -> {'logits': [B, num_classes], 'pool_3': [B, feature_dim]}
  train_classifier(model, dataset, num_steps, learning_rate)       -> final training loss
  accuracy(model, dataset)                                          -> held-out accuracy
  export_classifier(model, resolution, path)                        -> SavedModel at path

The exported SavedModel is what evaluation.Classifier loads: calling the loaded object on
float32 images [B, H, W, 3] in [-1, 1] (any H, W: bilinear resize to R inside) returns the
dict above; the same function is the 'serving_default' signature.
"""

from absl import logging
import keras
import numpy as np
import tensorflow as tf


def build_classifier_model(resolution, num_classes, width=32, feature_dim=128, seed=0):
  """Conv-ReLU stages (stride-2 downsampling to 8x8), global average pool, a linear bottleneck
  whose output is 'pool_3' (linear, so no feature is constantly 0 and the FID covariance keeps
  full rank), then ReLU and a linear layer giving 'logits'."""
  if num_classes < 2:
    raise ValueError(f"A classifier needs num_classes >= 2, got {num_classes}.")
  init = keras.initializers.GlorotUniform(seed=seed)
  images = keras.Input([resolution, resolution, 3], name="images")
  h, ch, size, i = images, width, resolution, 0
  while True:
    h = keras.layers.Conv2D(ch, 3, padding="same", activation="relu", kernel_initializer=init,
                            name=f"conv{i}a")(h)
    if size <= 8:
      break
    h = keras.layers.Conv2D(ch, 3, strides=2, padding="same", activation="relu",
                            kernel_initializer=init, name=f"conv{i}b")(h)
    size, ch, i = size // 2, min(ch * 2, 8 * width), i + 1
  h = keras.layers.GlobalAveragePooling2D(name="avg_pool")(h)
  pool = keras.layers.Dense(feature_dim, kernel_initializer=init, name="pool_3")(h)
  logits = keras.layers.Dense(num_classes, kernel_initializer=init, name="logits")(
      keras.layers.ReLU(name="pool_3_relu")(pool))
  return keras.Model(images, {"logits": logits, "pool_3": pool}, name="standin_classifier")


def train_classifier(model, dataset, num_steps, learning_rate=1e-3, log_every=100):
  """Adam on softmax cross-entropy over `num_steps` batches of (images, labels)."""
  opt = keras.optimizers.Adam(learning_rate)
  opt.build(model.trainable_variables)

  @tf.function
  def step(images, labels):
    with tf.GradientTape() as tape:
      logits = model(images, training=True)["logits"]
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          tf.cast(labels, tf.int32), logits))
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))
    return loss

  loss = float("nan")
  for i, (images, labels) in enumerate(dataset.take(num_steps), 1):
    loss = float(step(images, labels))
    if i % log_every == 0 or i == num_steps:
      logging.info("classifier step %d/%d: loss %.4f", i, num_steps, loss)
  return loss


def accuracy(model, dataset):
  """Fraction of correctly classified examples over a finite dataset of (images, labels)."""
  correct = total = 0
  for images, labels in dataset:
    pred = np.argmax(model(images, training=False)["logits"].numpy(), axis=1)
    correct += int(np.sum(pred == labels.numpy()))
    total += len(pred)
  if not total:
    raise ValueError("accuracy: the held-out dataset is empty.")
  return correct / total


class _Exported(tf.Module):
  """The exported module: resize to the training resolution, run, return the dict."""

  def __init__(self, model, resolution):
    super().__init__(name="standin_classifier")
    self.model = model
    self._res = int(resolution)

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                              name="images")])
  def __call__(self, images):
    images = tf.image.resize(images, [self._res, self._res], method="bilinear")
    out = self.model(images, training=False)
    return {"logits": tf.identity(out["logits"], name="logits"),
            "pool_3": tf.identity(out["pool_3"], name="pool_3")}


def export_classifier(model, resolution, path):
  """Writes the SavedModel (callable object + 'serving_default' signature) to path."""
  module = _Exported(model, resolution)
  tf.saved_model.save(module, path, signatures={"serving_default": module.__call__})
  return path
