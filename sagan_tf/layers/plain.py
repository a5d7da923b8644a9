"""Convolution and dense layers without normalization, with the interface of the SN layers.

`PlainConv2D` and `PlainDense` are the layers `SNConv2D` and `SNDense` (sagan_tf.layers.spectral)
build on: the same arguments (less the power iteration's), initialisers (Glorot-uniform kernel,
zero bias), variables (`kernel`, `bias`) and call arguments, so a network swaps one for the other
(a generator without spectral norm, the paper's Figure 3 baseline). `update_u` is accepted and
ignored: there is no u. The kernel the call uses is `_call_kernel(update_u)`, the raw kernel
here; the SN layers return the normalized one.

Like the SN layers they set `autocast=False`: variables stay float32 and the kernel is cast to
the input's dtype (the compute dtype under mixed precision).
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="sagan_tf")
class PlainConv2D(keras.layers.Layer):
  """2D convolution, stride 1, SAME padding (no normalization of the kernel).

  Args:
    filters: number of output channels.
    kernel_size: side of the square kernel.
    use_bias: whether to add a bias [filters].
    kernel_initializer: initializer of the kernel [kernel_size, kernel_size, C_in, filters].
    bias_initializer: initializer of the bias.
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); autocast defaults to False.

  Call arguments:
    inputs: float [B, H, W, C_in] (float32, or the compute dtype under mixed precision).
    update_u: ignored (the SN layers' argument).
    output_scale: None, or a float32 scalar s: returns s * conv(inputs), computed by scaling
      the kernel and bias.

  Returns:
    [B, H, W, filters] in the dtype of `inputs`.
  """

  def __init__(self, filters, kernel_size=3, use_bias=True, kernel_initializer="glorot_uniform",
               bias_initializer="zeros", **kwargs):
    kwargs.setdefault("autocast", False)
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)

  def build(self, input_shape):
    in_ch = int(input_shape[-1])
    self.kernel = self.add_weight(
        name="kernel", shape=(self.kernel_size, self.kernel_size, in_ch, self.filters),
        initializer=self.kernel_initializer)
    self.bias = (self.add_weight(name="bias", shape=(self.filters,),
                                 initializer=self.bias_initializer)
                 if self.use_bias else None)

  def _call_kernel(self, update_u):
    """The float32 kernel a call convolves with: the raw kernel (update_u is ignored)."""
    del update_u
    return tf.convert_to_tensor(self.kernel, dtype=tf.float32)

  def call(self, inputs, update_u=False, output_scale=None):
    # output_scale scales the kernel and bias: a few hundred multiplies, not one per output.
    kernel = self._call_kernel(update_u)
    bias = self.bias
    if output_scale is not None:
      kernel = kernel * output_scale
      bias = None if bias is None else bias * output_scale
    x = tf.convert_to_tensor(inputs)
    out = tf.nn.conv2d(x, tf.cast(kernel, x.dtype), strides=1, padding="SAME")
    if bias is not None:
      out = tf.nn.bias_add(out, tf.cast(bias, x.dtype))
    return out

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.filters,)

  def get_config(self):
    config = super().get_config()
    config.update({"filters": self.filters, "kernel_size": self.kernel_size,
                   "use_bias": self.use_bias,
                   "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                   "bias_initializer": keras.initializers.serialize(self.bias_initializer)})
    return config


@keras.saving.register_keras_serializable(package="sagan_tf")
class PlainDense(keras.layers.Layer):
  """Dense layer (no normalization of the kernel).

  Args:
    units: output width.
    use_bias: whether to add a bias [units].
    kernel_initializer: initializer of the kernel [D_in, units].
    bias_initializer: initializer of the bias.
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); autocast defaults to False.

  Call arguments:
    inputs: float [B, D_in] (float32, or the compute dtype under mixed precision).
    update_u: ignored (the SN layers' argument).

  Returns:
    [B, units] in the dtype of `inputs`.
  """

  def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform",
               bias_initializer="zeros", **kwargs):
    kwargs.setdefault("autocast", False)
    super().__init__(**kwargs)
    self.units = int(units)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)

  def build(self, input_shape):
    self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), self.units),
                                  initializer=self.kernel_initializer)
    self.bias = (self.add_weight(name="bias", shape=(self.units,),
                                 initializer=self.bias_initializer)
                 if self.use_bias else None)

  def _call_kernel(self, update_u):
    """The float32 kernel a call multiplies by: the raw kernel (update_u is ignored)."""
    del update_u
    return tf.convert_to_tensor(self.kernel, dtype=tf.float32)

  def call(self, inputs, update_u=False):
    x = tf.convert_to_tensor(inputs)
    out = tf.matmul(x, tf.cast(self._call_kernel(update_u), x.dtype))
    if self.bias is not None:
      out = out + tf.cast(self.bias, x.dtype)
    return out

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units,)

  def get_config(self):
    config = super().get_config()
    config.update({"units": self.units, "use_bias": self.use_bias,
                   "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                   "bias_initializer": keras.initializers.serialize(self.bias_initializer)})
    return config
