"""The SAGAN projection discriminator: residual down-blocks, ReLU, sum pooling, SN linear
plus the projection term <h, SN-embedding(y)>. No normalization layers."""

import keras
import tensorflow as tf

from sagan_tf.layers import SelfAttention, SNConv2D, SNDense, SNEmbedding
from sagan_tf.layers.attention import DEFAULT_QUERY_BLOCK
from sagan_tf import architectures
from sagan_tf.models.block_stack import BlockStackMixin
from sagan_tf.models.validation import check_labels, check_width


def _downsample(x):
  return tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="VALID")


@keras.saving.register_keras_serializable(package="sagan_tf")
class DBlock(keras.layers.Layer):
  """Residual down-block.

  optimized (first block): SN conv3, ReLU, SN conv3, avgpool; shortcut avgpool, SN conv1.
  otherwise (pre-activation): ReLU, SN conv3, ReLU, SN conv3, [avgpool]; shortcut SN conv1,
  [avgpool] (computed as [avgpool], SN conv1: the same values, fewer FLOPs), present only when
  downsampling or the channel count changes (created in build(), from the input's channels).

  Args:
    out_channels: output channels.
    downsample: halve the resolution (always True for the optimized block).
    optimized: the first block's form (no pre-activation).
    sn: dict of SNConv2D arguments (power_iterations, stop_gradient).
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); the dtype policy is passed on to
      the sublayers.

  Call arguments:
    x: float [B, H, W, C_in].
    update_u: bool; True stores the SN convolutions' new u.

  Returns:
    [B, H/2, W/2, out_channels] ([B, H, W, out_channels] without downsample) in the compute
    dtype.
  """

  def __init__(self, out_channels, downsample, optimized, sn, **kwargs):
    super().__init__(**kwargs)
    self.out_channels = int(out_channels)
    self.downsample, self.optimized = bool(downsample), bool(optimized)
    self.conv1 = SNConv2D(out_channels, 3, name="conv1", dtype=self.dtype_policy, **sn)
    self.conv2 = SNConv2D(out_channels, 3, name="conv2", dtype=self.dtype_policy, **sn)
    self._sn = dict(sn)
    self.shortcut = None

  def build(self, input_shape):
    """Creates the sublayers' variables from x's shape [B, H, W, C_in] in call order (the order
    fixes which seeded draws each takes), without tracing a call."""
    if self.optimized or self.downsample or int(input_shape[-1]) != self.out_channels:
      self.shortcut = SNConv2D(self.out_channels, 1, name="shortcut", dtype=self.dtype_policy,
                               **self._sn)
    inner = tuple(input_shape[:-1]) + (self.out_channels,)
    self.conv1.build(input_shape)
    self.conv2.build(inner)
    if self.shortcut is not None:  # on the pooled x, or on x: the same channels
      self.shortcut.build(input_shape)

  def compute_output_shape(self, input_shape):
    """[B, H/2, W/2, out_channels] ([B, H, W, out_channels] without downsample)."""
    b, h, w, _ = input_shape
    if self.downsample:
      h, w = h // 2, w // 2
    return (b, h, w, self.out_channels)

  def call(self, x, update_u=False):
    # max(x, 0), not tf.nn.relu: x (the previous block's residual sum) also feeds this block's
    # sum, and TF 2.21's Grappler remapper fuses "conv, bias, add, Relu" without checking the
    # add's other uses, then fails on the whole graph ("remapper failed: ... fanout ... exist for
    # missing node"), losing every fusion. The same values; the gradient differs only at x == 0.
    h = x if self.optimized else tf.maximum(x, tf.zeros([], x.dtype))
    h = self.conv2(tf.nn.relu(self.conv1(h, update_u=update_u)), update_u=update_u)
    if self.downsample:
      h = _downsample(h)
    if self.optimized:
      return h + self.shortcut(_downsample(x), update_u=update_u)
    # avgpool(conv1x1(x)) = conv1x1(avgpool(x)) (both linear, the 1x1 conv per pixel): pooling
    # first costs a quarter of the FLOPs.
    sc = _downsample(x) if self.downsample else x
    if self.shortcut is not None:
      sc = self.shortcut(sc, update_u=update_u)
    return h + sc

  def get_config(self):
    config = super().get_config()
    config.update({"out_channels": self.out_channels, "downsample": self.downsample,
                   "optimized": self.optimized, "sn": dict(self._sn)})
    return config


@keras.saving.register_keras_serializable(package="sagan_tf")
class Discriminator(BlockStackMixin, keras.Model):
  """SAGAN projection discriminator for input resolution 32, 64, 128 or 256.

  The variables are created by build() (build_weights(), or the first call); keras.saving
  recreates them the same way on loading (build_from_config).

  Args:
    resolution: input side R, one of SUPPORTED_RESOLUTIONS.
    ch: base channel width (block widths are multiples of it).
    num_classes: classes of the projection embedding (0: unconditional, no projection term).
    attention_resolutions: feature-map sides at which a SelfAttention layer follows the first
      block of that side.
    sn_power_iterations: power iterations of every SN layer, >= 1.
    sn_stop_gradient: stop gradients through the power iterations' u' and v.
    attention_impl: SelfAttention impl ("auto", "naive" or "blocked"; as in Generator).
    attention_query_block: SelfAttention query_block_size.
    **kwargs: keras.Model arguments (name, default "discriminator"; dtype, ...); the dtype
      policy is passed on to every layer.

  Call arguments:
    images: float32 [B, R, R, 3] in [-1, 1].
    labels: int [B] in [0, num_classes) (ignored when num_classes = 0).
    training: unused (no normalization layers); kept for the Keras call convention.
    update_u: bool; True stores every SN layer's new u (the authors': on real data, not on
      fake).
    return_attention: bool; True also returns the attention maps (computed only then).

  Returns:
    Logits float32 [B]; with return_attention=True the pair (logits, {layer name: attention
    map float32 [B, N, N/4]}), N = H*W of that layer's input.
  """

  def __init__(self, resolution, ch=64, num_classes=1000, attention_resolutions=(32,),
               sn_power_iterations=1, sn_stop_gradient=False, attention_impl="auto",
               attention_query_block=DEFAULT_QUERY_BLOCK, **kwargs):
    kwargs.setdefault("name", "discriminator")
    super().__init__(**kwargs)
    specs = architectures.discriminator_blocks(resolution, ch, attention_resolutions)
    self.resolution, self.ch, self.num_classes = int(resolution), int(ch), int(num_classes)
    self.attention_resolutions = tuple(int(r) for r in attention_resolutions)
    self.sn_power_iterations, self.sn_stop_gradient = sn_power_iterations, sn_stop_gradient
    self.attention_impl, self.attention_query_block = attention_impl, attention_query_block
    sub = dict(dtype=self.dtype_policy)
    sn = dict(power_iterations=sn_power_iterations, stop_gradient=sn_stop_gradient)
    self._set_blocks(
        [DBlock(spec.out_channels, spec.downsample, i == 0, sn, name=f"block{i}", **sub)
         for i, spec in enumerate(specs)],
        {i: SelfAttention(name=f"attention{spec.resolution}", impl=attention_impl,
                          query_block_size=attention_query_block, **sn, **sub)
         for i, spec in enumerate(specs) if spec.attention})
    self.linear = SNDense(1, name="linear", **sn, **sub)
    self.embedding = (SNEmbedding(self.num_classes, specs[-1].out_channels, name="embedding",
                                  **sn, **sub) if self.num_classes else None)

  def call(self, images, labels=None, training=False, update_u=False, return_attention=False):
    del training  # no normalization layers; kept for the Keras call convention
    images = tf.convert_to_tensor(images)
    check_width("images", images, (self.resolution, self.resolution, 3))
    labels = check_labels(labels, self.num_classes)
    h, maps, attention = images, {}, self.attention
    for i, block in enumerate(self.blocks):
      h = block(h, update_u=update_u)
      if i in attention:
        layer = attention[i]
        out = layer(h, update_u=update_u, return_attention=return_attention)
        h, maps[layer.name] = out if return_attention else (out, None)
    h = tf.reduce_sum(tf.nn.relu(h), axis=[1, 2])  # sum pooling [B, C]
    logits = tf.squeeze(self.linear(h, update_u=update_u), axis=1)
    if self.embedding is not None:
      emb = tf.cast(self.embedding(labels, update_u=update_u), h.dtype)
      logits = logits + tf.reduce_sum(h * emb, axis=1)
    logits = tf.cast(logits, tf.float32)
    return (logits, maps) if return_attention else logits

  def build(self, images_shape):
    """Creates every variable from the images' shape [B, R, R, 3], layer by layer in call
    order (the order fixes which seeded draws each takes), without tracing a call."""
    shape, attention = tuple(images_shape), self.attention
    for i, block in enumerate(self.blocks):
      block.build(shape)
      shape = block.compute_output_shape(shape)
      if i in attention:
        attention[i].build(shape)
    self.linear.build((shape[0], shape[-1]))
    if self.embedding is not None:
      self.embedding.build((shape[0],))

  def build_weights(self):
    """Creates every variable (no call: u keeps its initial value); returns self."""
    if not self.built:
      self.build((None, self.resolution, self.resolution, 3))
    return self

  def build_from_config(self, config):
    """Creates every variable on loading (keras.saving): build_weights()."""
    if config:
      self.build_weights()

  def get_config(self):
    config = super().get_config()
    config.update({
        "resolution": self.resolution, "ch": self.ch, "num_classes": self.num_classes,
        "attention_resolutions": self.attention_resolutions,
        "sn_power_iterations": self.sn_power_iterations,
        "sn_stop_gradient": self.sn_stop_gradient, "attention_impl": self.attention_impl,
        "attention_query_block": self.attention_query_block})
    return config
