"""Spectral normalization as in the SAGAN authors' code, and the SN layers built on it.

The kernel W is reshaped to a matrix [-1, out]. A persistent, non-trainable vector u [1, out]
drives the power iteration run on every forward pass:

    v = l2n(u W^T),  u' = l2n(v W),  sigma = v W u'^T,  W_bar = W / sigma

with l2n(x) = x / (||x|| + 1e-12). The raw kernel W is the trainable variable the optimizer
updates; W_bar is computed in the forward pass and never stored. Whether a call stores u' back
into u is decided by the caller (`update_u`): the generator always does when training, the
discriminator does on real data and not on fake data. By default gradients flow through u' and v
(the authors' code); `stop_gradient=True` stops them (TF-GAN, compare_gan, and the paper's
Miyato et al. formulation).

SNConv2D and SNDense are sagan_tf.layers.plain's PlainConv2D and PlainDense (same arguments,
variables and call) with the kernel normalized and u added.
"""

import keras
import tensorflow as tf

from sagan_tf.layers.plain import PlainConv2D, PlainDense

_EPS = 1e-12


def _l2n(x):
  return x / (tf.norm(x) + _EPS)


def power_iteration(w_mat, u, num_iterations=1, stop_gradient=False):
  """Runs the power iteration on a weight matrix.

  Args:
    w_mat: float32 [M, N] weight matrix (the kernel reshaped to [-1, out]).
    u: float32 [1, N] current estimate of the leading right singular vector.
    num_iterations: number of iterations, >= 1.
    stop_gradient: stop gradients through u' and v.

  Returns:
    (sigma, u_new): sigma a float32 scalar estimate of the largest singular value of w_mat,
    u_new the updated [1, N] vector.
  """
  v = None
  for _ in range(num_iterations):
    v = _l2n(tf.matmul(u, w_mat, transpose_b=True))  # [1, M]
    u = _l2n(tf.matmul(v, w_mat))                     # [1, N]
  if stop_gradient:
    u = tf.stop_gradient(u)
    v = tf.stop_gradient(v)
  sigma = tf.squeeze(tf.matmul(tf.matmul(v, w_mat), u, transpose_b=True))
  return sigma, u


class SpectralNormMixin:
  """Adds the persistent u vector and `normalized(kernel, update_u)` to a layer.

  The using layer calls `_build_sn(out_dim)` in build() and `normalized(kernel, update_u)` in
  call(). Layers using it set `autocast=False`, so the iteration runs in float32 even under a
  mixed-precision policy; the result is cast to the compute dtype by the caller.
  """

  def _init_sn(self, power_iterations, stop_gradient):
    if int(power_iterations) < 1:
      raise ValueError(
          f"power_iterations must be >= 1, got {power_iterations}.")
    self.power_iterations = int(power_iterations)
    self.stop_gradient = bool(stop_gradient)

  def _build_sn(self, out_dim):
    # The initializer of u is a fixed part of the algorithm (the authors' code draws u from a
    # truncated normal), not an argument, as in keras.layers.SpectralNormalization.
    # only_first_replica: u depends only on the (mirrored) kernel, so every replica computes the
    # same value and the first replica's assign is the one kept; assign() works in replica context.
    self.sn_u = self.add_weight(
        name="sn_u", shape=(1, out_dim),
        initializer=keras.initializers.TruncatedNormal(stddev=1.0),
        trainable=False, aggregation="only_first_replica")

  def normalized(self, kernel, update_u):
    """Returns (W / sigma with the kernel's shape, sigma); stores u' when update_u is True."""
    w = tf.convert_to_tensor(kernel, dtype=tf.float32)
    w_mat = tf.reshape(w, [-1, w.shape[-1]])
    sigma, u_new = power_iteration(
        w_mat, tf.convert_to_tensor(self.sn_u), self.power_iterations, self.stop_gradient)
    if update_u:
      self.sn_u.assign(tf.stop_gradient(u_new))
    return w / sigma, sigma

  def _sn_config(self):
    return {"power_iterations": self.power_iterations, "stop_gradient": self.stop_gradient}


@keras.saving.register_keras_serializable(package="sagan_tf")
class SNConv2D(SpectralNormMixin, PlainConv2D):
  """Spectrally normalized 2D convolution, stride 1, SAME padding: PlainConv2D whose kernel is
  divided by its spectral norm (the power-iteration estimate) on every call.

  Args:
    filters: number of output channels.
    kernel_size: side of the square kernel.
    use_bias: whether to add a bias [filters].
    power_iterations: power iterations per call, >= 1.
    stop_gradient: stop gradients through the power iteration's u' and v.
    kernel_initializer: initializer of the kernel [kernel_size, kernel_size, C_in, filters].
    bias_initializer: initializer of the bias.
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); autocast defaults to False.

  Call arguments:
    inputs: float [B, H, W, C_in] (float32, or the compute dtype under mixed precision).
    update_u: bool; True stores the power iteration's new u in `sn_u`.
    output_scale: None, or a float32 scalar s: returns s * conv(inputs), computed by scaling
      the kernel and bias.

  Returns:
    [B, H, W, filters] in the dtype of `inputs`.
  """

  def __init__(self, filters, kernel_size=3, use_bias=True, power_iterations=1,
               stop_gradient=False, kernel_initializer="glorot_uniform",
               bias_initializer="zeros", **kwargs):
    super().__init__(filters, kernel_size, use_bias, kernel_initializer, bias_initializer,
                     **kwargs)
    self._init_sn(power_iterations, stop_gradient)

  def build(self, input_shape):
    super().build(input_shape)  # kernel, bias, then u: the order of the seeded draws
    self._build_sn(self.filters)

  def _call_kernel(self, update_u):
    """W / sigma in float32; stores u' when update_u is True."""
    return self.normalized(self.kernel, update_u)[0]

  def get_config(self):
    return {**super().get_config(), **self._sn_config()}


@keras.saving.register_keras_serializable(package="sagan_tf")
class SNDense(SpectralNormMixin, PlainDense):
  """Spectrally normalized dense layer: PlainDense whose kernel is divided by its spectral norm
  (the power-iteration estimate) on every call.

  Args:
    units: output width.
    use_bias: whether to add a bias [units].
    power_iterations: power iterations per call, >= 1.
    stop_gradient: stop gradients through the power iteration's u' and v.
    kernel_initializer: initializer of the kernel [D_in, units].
    bias_initializer: initializer of the bias.
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); autocast defaults to False.

  Call arguments:
    inputs: float [B, D_in] (float32, or the compute dtype under mixed precision).
    update_u: bool; True stores the power iteration's new u in `sn_u`.

  Returns:
    [B, units] in the dtype of `inputs`.
  """

  def __init__(self, units, use_bias=True, power_iterations=1, stop_gradient=False,
               kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
    super().__init__(units, use_bias, kernel_initializer, bias_initializer, **kwargs)
    self._init_sn(power_iterations, stop_gradient)

  def build(self, input_shape):
    super().build(input_shape)  # kernel, bias, then u: the order of the seeded draws
    self._build_sn(self.units)

  def _call_kernel(self, update_u):
    """W / sigma in float32; stores u' when update_u is True."""
    return self.normalized(self.kernel, update_u)[0]

  def get_config(self):
    return {**super().get_config(), **self._sn_config()}


@keras.saving.register_keras_serializable(package="sagan_tf")
class SNEmbedding(SpectralNormMixin, keras.layers.Layer):
  """Spectrally normalized embedding table, as the authors' `sn_embedding`.

  The table E [input_dim, output_dim] is normalized as a matrix E^T [output_dim, input_dim],
  so u has shape [1, input_dim] as in the authors' code.

  Args:
    input_dim: number of ids (classes).
    output_dim: embedding width.
    power_iterations: power iterations per call, >= 1.
    stop_gradient: stop gradients through the power iteration's u' and v.
    embeddings_initializer: initializer of the table [input_dim, output_dim].
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); autocast defaults to False.

  Call arguments:
    inputs: int [B] ids in [0, input_dim).
    update_u: bool; True stores the power iteration's new u in `sn_u`.

  Returns:
    float32 [B, output_dim], rows of the normalized table.
  """

  def __init__(self, input_dim, output_dim, power_iterations=1, stop_gradient=False,
               embeddings_initializer="glorot_uniform", **kwargs):
    kwargs.setdefault("autocast", False)
    super().__init__(**kwargs)
    self.input_dim = int(input_dim)
    self.output_dim = int(output_dim)
    self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
    self._init_sn(power_iterations, stop_gradient)

  def build(self, input_shape):
    self.embeddings = self.add_weight(
        name="embeddings", shape=(self.input_dim, self.output_dim),
        initializer=self.embeddings_initializer)
    self._build_sn(self.input_dim)

  def call(self, inputs, update_u=False):
    table_t = tf.transpose(tf.convert_to_tensor(self.embeddings, dtype=tf.float32))
    w_bar_t, _ = self.normalized(table_t, update_u)
    return tf.gather(tf.transpose(w_bar_t), tf.cast(inputs, tf.int32))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape) + (self.output_dim,)

  def get_config(self):
    config = super().get_config()
    config.update({"input_dim": self.input_dim, "output_dim": self.output_dim,
                   "embeddings_initializer":
                       keras.initializers.serialize(self.embeddings_initializer),
                   **self._sn_config()})
    return config
