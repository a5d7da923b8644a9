"""The SAGAN self-attention block, as in the authors' code (not the paper's text).

    q = SNConv1x1(C/8)(x)                          [B, N, C/8],  N = H*W
    k = maxpool2x2(SNConv1x1(C/8)(x))              [B, N/4, C/8]
    v = maxpool2x2(SNConv1x1(C/2)(x))              [B, N/4, C/2]
    a = softmax(q k^T) over keys (no 1/sqrt(d))    [B, N, N/4]
    o = SNConv1x1(C)(reshape(a v, [B, H, W, C/2]))
    y = x + gamma * o,   gamma a trainable scalar initialised to 0.

All four 1x1 convolutions have no bias.
"""

import keras
import tensorflow as tf

from sagan_tf.layers.spectral import SNConv2D


class SelfAttention(keras.layers.Layer):
  """Self-attention with 2x2 max-pooled keys and values.

  Input: float [B, H, W, C] with H, W even and C divisible by 8.
  Output: float [B, H, W, C]; with `return_attention=True` also the attention map
  float32 [B, H*W, H*W/4] (row i: the weights query i gives to the pooled key positions, in
  row-major order over the [H/2, W/2] pooled grid; each row sums to 1).
  """

  def __init__(self, power_iterations=1, stop_gradient=False, **kwargs):
    super().__init__(**kwargs)
    self.power_iterations = int(power_iterations)
    self.stop_gradient = bool(stop_gradient)

  def build(self, input_shape):
    _, h, w, c = input_shape
    if c is None or c % 8:
      raise ValueError(f"SelfAttention needs channels divisible by 8, got {c}.")
    if h is not None and (h % 2 or w % 2):
      raise ValueError(f"SelfAttention needs even height and width, got {h}x{w}.")
    sn = {"kernel_size": 1, "use_bias": False, "power_iterations": self.power_iterations,
          "stop_gradient": self.stop_gradient}
    self.query_conv = SNConv2D(c // 8, name="query", **sn)
    self.key_conv = SNConv2D(c // 8, name="key", **sn)
    self.value_conv = SNConv2D(c // 2, name="value", **sn)
    self.output_conv = SNConv2D(c, name="output", **sn)
    self.query_conv.build(input_shape)
    self.key_conv.build(input_shape)
    self.value_conv.build(input_shape)
    self.output_conv.build(tuple(input_shape[:-1]) + (c // 2,))
    self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

  def call(self, inputs, update_u=False, return_attention=False):
    x = inputs
    b = tf.shape(x)[0]
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    pool = lambda t: tf.nn.max_pool2d(t, ksize=2, strides=2, padding="VALID")
    q = tf.reshape(self.query_conv(x, update_u=update_u), [b, h * w, c // 8])
    k = tf.reshape(pool(self.key_conv(x, update_u=update_u)), [b, h * w // 4, c // 8])
    v = tf.reshape(pool(self.value_conv(x, update_u=update_u)), [b, h * w // 4, c // 2])
    logits = tf.matmul(q, k, transpose_b=True)
    attention = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
    o = tf.matmul(tf.cast(attention, v.dtype), v)
    o = self.output_conv(tf.reshape(o, [b, h, w, c // 2]), update_u=update_u)
    y = x + tf.cast(self.gamma, x.dtype) * o
    return (y, attention) if return_attention else y

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({"power_iterations": self.power_iterations,
                   "stop_gradient": self.stop_gradient})
    return config
