"""Conditional batch normalization (per-class gamma and beta), optionally cross-replica."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="sagan_tf")
class ConditionalBatchNorm(keras.layers.Layer):
  """Batch norm whose scale and offset are looked up by class label.

  y = gamma[label] * (x - mean) / sqrt(var + epsilon) + beta[label]; with num_classes = 0 it is
  plain batch norm (gamma and beta of shape [C]). Training: mean and biased variance of the
  batch over every axis but the last, and moving = momentum * moving + (1 - momentum) * batch
  for moving_mean / moving_variance. Inference: the moving statistics.
  With `cross_replica=True` the batch moments are all-reduced over the replicas of the current
  tf.distribute strategy (equal-sized per-replica batches), as TF-GAN's TPU path does.
  Computation: in training a per-replica [B, H, W, C] batch goes through one FusedBatchNormV3
  op (the per-class scale and offset applied after it); cross-replica or [B, C] inputs use the
  moments and elementwise ops. Statistics are float32; the output keeps the input's dtype.

  Args:
    num_classes: rows of the gamma and beta tables, >= 0 (0: unconditional).
    momentum: momentum of the moving statistics.
    epsilon: added to the variance.
    cross_replica: all-reduce the batch moments over the strategy's replicas.
    gamma_initializer: initializer of gamma [num_classes, C] (or [C]).
    beta_initializer: initializer of beta [num_classes, C] (or [C]).
    moving_mean_initializer: initializer of moving_mean [C].
    moving_variance_initializer: initializer of moving_variance [C].
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); autocast defaults to False.

  Call arguments:
    inputs: float [B, H, W, C] or [B, C] (float32, or the compute dtype under mixed precision).
    labels: int [B] in [0, num_classes); needed when num_classes > 0, ignored otherwise.
    training: bool; True normalizes with the batch moments and updates the moving statistics.

  Returns:
    The normalized inputs: same shape and dtype as `inputs`.
  """

  def __init__(self, num_classes=0, momentum=0.999, epsilon=1e-5, cross_replica=False,
               gamma_initializer="ones", beta_initializer="zeros",
               moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs):
    kwargs.setdefault("autocast", False)
    super().__init__(**kwargs)
    if int(num_classes) < 0:
      raise ValueError(f"num_classes must be >= 0, got {num_classes}.")
    self.num_classes = int(num_classes)
    self.momentum = float(momentum)
    self.epsilon = float(epsilon)
    self.cross_replica = bool(cross_replica)
    self.gamma_initializer = keras.initializers.get(gamma_initializer)
    self.beta_initializer = keras.initializers.get(beta_initializer)
    self.moving_mean_initializer = keras.initializers.get(moving_mean_initializer)
    self.moving_variance_initializer = keras.initializers.get(moving_variance_initializer)

  def build(self, input_shape):
    c = int(input_shape[-1])
    table = (self.num_classes, c) if self.num_classes else (c,)
    self.gamma = self.add_weight(name="gamma", shape=table, initializer=self.gamma_initializer)
    self.beta = self.add_weight(name="beta", shape=table, initializer=self.beta_initializer)
    self.moving_mean = self.add_weight(name="moving_mean", shape=(c,),
                                       initializer=self.moving_mean_initializer,
                                       trainable=False, aggregation="mean")
    self.moving_variance = self.add_weight(name="moving_variance", shape=(c,),
                                           initializer=self.moving_variance_initializer,
                                           trainable=False, aggregation="mean")

  def _batch_moments(self, x):
    axes = list(range(len(x.shape) - 1))
    if not self.cross_replica:
      mean, var = tf.nn.moments(x, axes)
      return mean, var
    ctx = tf.distribute.get_replica_context()
    n = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
    sums = tf.stack([tf.reduce_sum(x, axes), tf.reduce_sum(tf.square(x), axes)])
    if ctx is not None:
      sums = ctx.all_reduce(tf.distribute.ReduceOp.SUM, sums)
      n = n * ctx.num_replicas_in_sync
    mean = sums[0] / n
    var = tf.maximum(sums[1] / n - tf.square(mean), 0.0)
    return mean, var

  def _fused_batch_norm(self, x, scale, offset):
    """(scale * (x - mean) / sqrt(var + eps) + offset in x's dtype, mean, biased var in
    float32) of a [B, H, W, C] batch by one FusedBatchNormV3 op; scale, offset float32 [C].
    Forward and backward are one oneDNN kernel each on CPU (instead of ~10 elementwise and
    reduction ops), and a bfloat16 x needs no cast (the op accumulates in float32)."""
    # The raw op, not tf.compat.v1.nn.fused_batch_norm: that raises epsilon to 1.001e-5 (cuDNN).
    y, mean, var, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=scale, offset=offset, mean=tf.zeros([0], tf.float32),
        variance=tf.zeros([0], tf.float32), epsilon=self.epsilon, exponential_avg_factor=1.0,
        data_format="NHWC", is_training=True)
    n = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
    return y, mean, var * ((n - 1.0) / n)  # the op returns the Bessel-corrected variance

  def _affine(self, x, mean, var, gamma, beta):
    """gamma * (x - mean) / sqrt(var + eps) + beta computed as x * s + t (two full-size ops) in
    x's dtype; s and t [B or 1, .., C] in float32 from the float32 statistics."""
    scale = gamma * tf.math.rsqrt(var + self.epsilon)
    shift = beta - mean * scale
    return x * tf.cast(scale, x.dtype) + tf.cast(shift, x.dtype)

  def call(self, inputs, labels=None, training=False):
    x = tf.convert_to_tensor(inputs)
    if self.num_classes:
      if labels is None:
        raise ValueError("ConditionalBatchNorm with num_classes > 0 needs labels.")
      labels = tf.cast(labels, tf.int32)
      shape = [-1] + [1] * (len(x.shape) - 2) + [x.shape[-1]]
      gamma = tf.reshape(tf.gather(self.gamma, labels), shape)
      beta = tf.reshape(tf.gather(self.beta, labels), shape)
    else:
      gamma, beta = tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta)
    if not training:
      return self._affine(x, self.moving_mean, self.moving_variance, gamma, beta)
    if self.cross_replica or len(x.shape) != 4:
      mean, var = self._batch_moments(tf.cast(x, tf.float32))
      y = self._affine(x, mean, var, gamma, beta)
    elif self.num_classes:  # per-example gamma, beta: normalize in the op, then scale
      c = x.shape[-1]
      x_hat, mean, var = self._fused_batch_norm(x, tf.ones([c]), tf.zeros([c]))
      y = x_hat * tf.cast(gamma, x.dtype) + tf.cast(beta, x.dtype)
    else:
      y, mean, var = self._fused_batch_norm(x, gamma, beta)
    m = self.momentum
    self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * mean)
    self.moving_variance.assign(m * self.moving_variance + (1.0 - m) * var)
    return y

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({
        "num_classes": self.num_classes, "momentum": self.momentum, "epsilon": self.epsilon,
        "cross_replica": self.cross_replica,
        "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
        "beta_initializer": keras.initializers.serialize(self.beta_initializer),
        "moving_mean_initializer": keras.initializers.serialize(self.moving_mean_initializer),
        "moving_variance_initializer":
            keras.initializers.serialize(self.moving_variance_initializer)})
    return config
