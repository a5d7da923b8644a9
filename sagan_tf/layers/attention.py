"""The SAGAN self-attention block, as in the authors' code (not the paper's text).

    q = SNConv1x1(C/8)(x)                          [B, N, C/8],  N = H*W
    k = maxpool2x2(SNConv1x1(C/8)(x))              [B, N/4, C/8]
    v = maxpool2x2(SNConv1x1(C/2)(x))              [B, N/4, C/2]
    a = softmax(q k^T) over keys (no 1/sqrt(d))    [B, N, N/4]
    o = SNConv1x1(C)(reshape(a v, [B, H, W, C/2]))
    y = x + gamma * o,   gamma a trainable scalar initialised to 0.

All four 1x1 convolutions have no bias. With spectral_norm=False they are plain convolutions
(PlainConv2D: the same variables less u), for a generator without spectral norm.

Two implementations of `a v`, with the same math:
  naive    the whole map `a` at once: N * N/4 float32 per image (256 MiB at 128x128), kept
           for the backward pass by autodiff.
  blocked  queries in blocks of `query_block_size`: each block's softmax rows over all N/4
           keys (exact, max-subtracted), one block at a time in a tf.while_loop; the gradient
           recomputes each block's rows instead of storing them (tf.custom_gradient). Peak
           memory of the map: block * N/4 floats per image, O(N) for a fixed block.
Keys and values are only N/4 rows, so every query block sees all keys at once and no
running (online) softmax over key blocks is needed. The blocked gradient is first-order only
(no gradient of the gradient, which the GAN losses here never take).
"""

import keras
import tensorflow as tf

from sagan_tf.choices import ATTENTION_IMPLS as IMPLS
from sagan_tf.layers.plain import PlainConv2D
from sagan_tf.layers.spectral import SNConv2D

DEFAULT_QUERY_BLOCK = 1024
# "auto" takes the blocked path above this many positions N = H*W: at 128x128 (a 256 MiB map per
# image) and above; at 64x64 (16 MiB per image) and below the naive path is kept.
DEFAULT_AUTO_MIN_POSITIONS = 64 * 64


def attention_weights(q, k):
  """softmax(q k^T) over keys in q's dtype: q [B, T, D], k [B, M, D] -> [B, T, M].

  Under mixed_bfloat16 the logits come out of a bfloat16 matmul and the weights go into one, so
  a float32 softmax in between (two casts of the whole map) would change only the rounding of a
  map that is rounded to bfloat16 next anyway; the softmax kernel itself subtracts the row max.
  """
  return tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)


def naive_attention(q, k, v):
  """(a v in v's dtype [B, N, Dv], the map a [B, N, M] in q's dtype) for q [B, N, D],
  k [B, M, D], v [B, M, Dv]."""
  attention = attention_weights(q, k)
  return tf.matmul(tf.cast(attention, v.dtype), v), attention


def blocked_attention(q, k, v, block_size=DEFAULT_QUERY_BLOCK):
  """softmax(q k^T) v without the whole [B, N, M] map, in forward and in backward.

  q [B, N, D], k [B, M, D], v [B, M, Dv] with static N, M, D, Dv (B may be dynamic); returns
  [B, N, Dv] in v's dtype, equal to naive_attention(q, k, v)[0]. N need not be a multiple of
  block_size: the last block is padded with zero queries whose rows are dropped. The softmax
  runs in q's dtype as in the naive path; its gradient and the accumulated dk, dv are float32.
  """
  n = int(q.shape[1])
  block = max(1, min(int(block_size), n))
  num_blocks = -(-n // block)
  batch = tf.shape(q)[0]

  def split(t):  # [B, N, D] -> [num_blocks, B, block, D] (zero-padded rows at the end)
    t = tf.pad(t, [[0, 0], [0, num_blocks * block - n], [0, 0]])
    t = tf.reshape(t, [batch, num_blocks, block, t.shape[-1]])
    return tf.transpose(t, [1, 0, 2, 3])

  def merge(t):  # [num_blocks, B, block, D] -> [B, N, D]
    t = tf.reshape(tf.transpose(t, [1, 0, 2, 3]), [batch, num_blocks * block, t.shape[-1]])
    return t[:, :n]

  @tf.custom_gradient
  def attend(q, k, v):
    q_blocks = split(q)
    out = tf.map_fn(lambda qi: naive_attention(qi, k, v)[0], q_blocks,
                    fn_output_signature=v.dtype, parallel_iterations=1)

    def grad(d_out):
      d_blocks = split(tf.cast(d_out, v.dtype))

      def body(i, dq, dk, dv):
        qi, di = q_blocks[i], d_blocks[i]
        p = tf.cast(attention_weights(qi, k), tf.float32)             # [B, T, M]
        dv += tf.cast(tf.matmul(tf.cast(p, v.dtype), di, transpose_a=True), tf.float32)
        dp = tf.cast(tf.matmul(di, v, transpose_b=True), tf.float32)  # d loss / d p
        dlogits = p * (dp - tf.reduce_sum(dp * p, axis=-1, keepdims=True))
        dlogits = tf.cast(dlogits, q.dtype)
        dk += tf.cast(tf.matmul(dlogits, qi, transpose_a=True), tf.float32)
        return i + 1, dq.write(i, tf.matmul(dlogits, k)), dk, dv

      zeros = lambda t: tf.zeros(tf.shape(t), tf.float32)
      dq = tf.TensorArray(q.dtype, size=num_blocks, element_shape=q_blocks.shape[1:])
      _, dq, dk, dv = tf.while_loop(lambda i, *_: i < num_blocks, body,
                                    (tf.constant(0), dq, zeros(k), zeros(v)),
                                    parallel_iterations=1)
      return merge(dq.stack()), tf.cast(dk, k.dtype), tf.cast(dv, v.dtype)

    return merge(out), grad

  return attend(q, k, v)


@keras.saving.register_keras_serializable(package="sagan_tf")
class SelfAttention(keras.layers.Layer):
  """Self-attention with 2x2 max-pooled keys and values: y = x + gamma * o (module docstring).

  gamma starts at 0 (the block starts as the identity), a fixed part of the algorithm. The four
  1x1 convolutions (SN by default) are created in build(), from the input's channel count.

  Args:
    power_iterations: power iterations per call of each SN convolution, >= 1.
    stop_gradient: stop gradients through the power iterations' u' and v.
    spectral_norm: True (the authors'): SNConv2D convolutions; False: PlainConv2D (no u;
      power_iterations and stop_gradient are then unused).
    impl: "naive" | "blocked" | "auto" (blocked when H*W > auto_min_positions); see the module
      docstring.
    query_block_size: queries per block of the blocked path, >= 1.
    auto_min_positions: the H*W above which "auto" takes the blocked path, >= 1.
    **kwargs: keras.layers.Layer arguments (name, dtype, ...).

  Call arguments:
    inputs: float [B, H, W, C] with H, W even and C divisible by 8 (cast to the compute dtype).
    update_u: bool; True stores the SN convolutions' new u (ignored without spectral norm).
    return_attention: bool; True also returns the attention map (and so always runs naive).

  Returns:
    [B, H, W, C] in the compute dtype; with return_attention=True the pair (output,
    attention map float32 [B, H*W, H*W/4]). The map is computed in the compute dtype; row i
    holds the weights query i gives to the pooled key positions, in row-major order over the
    [H/2, W/2] pooled grid, and sums to 1.
  """

  def __init__(self, power_iterations=1, stop_gradient=False, impl="auto",
               query_block_size=DEFAULT_QUERY_BLOCK,
               auto_min_positions=DEFAULT_AUTO_MIN_POSITIONS, spectral_norm=True, **kwargs):
    super().__init__(**kwargs)
    if impl not in IMPLS:
      raise ValueError(f"SelfAttention impl={impl!r}; choose one of {IMPLS}.")
    for key, value in (("query_block_size", query_block_size),
                       ("auto_min_positions", auto_min_positions)):
      if int(value) < 1:
        raise ValueError(f"SelfAttention {key}={value} must be >= 1.")
    self.power_iterations = int(power_iterations)
    self.stop_gradient = bool(stop_gradient)
    self.spectral_norm = bool(spectral_norm)
    self.impl = impl
    self.query_block_size = int(query_block_size)
    self.auto_min_positions = int(auto_min_positions)

  def uses_blocked(self, positions):
    """Whether a call over `positions` = H*W queries (without the map) takes the blocked path."""
    return self.impl == "blocked" or (self.impl == "auto"
                                      and positions > self.auto_min_positions)

  def build(self, input_shape):
    _, h, w, c = input_shape
    if c is None or c % 8:
      raise ValueError(f"SelfAttention needs channels divisible by 8, got {c}.")
    if h is not None and (h % 2 or w % 2):
      raise ValueError(f"SelfAttention needs even height and width, got {h}x{w}.")
    args = {"kernel_size": 1, "use_bias": False, "dtype": self.dtype_policy}
    if self.spectral_norm:
      conv = SNConv2D
      args.update(power_iterations=self.power_iterations, stop_gradient=self.stop_gradient)
    else:
      conv = PlainConv2D
    self.query_conv = conv(c // 8, name="query", **args)
    self.key_conv = conv(c // 8, name="key", **args)
    self.value_conv = conv(c // 2, name="value", **args)
    self.output_conv = conv(c, name="output", **args)
    self.query_conv.build(input_shape)
    self.key_conv.build(input_shape)
    self.value_conv.build(input_shape)
    self.output_conv.build(tuple(input_shape[:-1]) + (c // 2,))
    # gamma = 0 is part of the algorithm (the block starts as the identity), not an argument.
    self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

  def call(self, inputs, update_u=False, return_attention=False):
    x = inputs
    b = tf.shape(x)[0]
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    pool = lambda t: tf.nn.max_pool2d(t, ksize=2, strides=2, padding="VALID")
    q = tf.reshape(self.query_conv(x, update_u=update_u), [b, h * w, c // 8])
    k = tf.reshape(pool(self.key_conv(x, update_u=update_u)), [b, h * w // 4, c // 8])
    v = tf.reshape(pool(self.value_conv(x, update_u=update_u)), [b, h * w // 4, c // 2])
    if return_attention or not self.uses_blocked(h * w):
      o, attention = naive_attention(q, k, v)
    else:
      o, attention = blocked_attention(q, k, v, self.query_block_size), None
    # gamma * conv(o) as conv(o) with gamma * kernel: no full-size multiply (or its gradients).
    y = x + self.output_conv(tf.reshape(o, [b, h, w, c // 2]), update_u=update_u,
                             output_scale=tf.cast(self.gamma, tf.float32))
    return (y, tf.cast(attention, tf.float32)) if return_attention else y

  def compute_output_shape(self, input_shape):
    return tuple(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({"power_iterations": self.power_iterations,
                   "stop_gradient": self.stop_gradient, "spectral_norm": self.spectral_norm,
                   "impl": self.impl,
                   "query_block_size": self.query_block_size,
                   "auto_min_positions": self.auto_min_positions})
    return config
