"""The SAGAN generator: SN linear -> up-blocks (conditional BN) -> BN, ReLU, SN conv, tanh.

Spectral norm in G is the authors' (code and paper); spectral_norm=False builds every layer
plain instead (PlainDense / PlainConv2D: the same shapes and initialisers, no u), G of the
paper's Figure 3 baseline ("SN on D only", SNGAN with projection).
"""

import keras
import tensorflow as tf

from sagan_tf.layers import (ConditionalBatchNorm, PlainConv2D, PlainDense, SelfAttention,
                             SNConv2D, SNDense)
from sagan_tf.layers.attention import DEFAULT_QUERY_BLOCK
from sagan_tf import architectures
from sagan_tf.models.block_stack import BlockStackMixin
from sagan_tf.models.validation import check_labels, check_width


def _upsample(x):
  return tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)  # nearest neighbour, 2x


def _upsampled(shape):
  """The shape [B, 2H, 2W, C] _upsample gives for [B, H, W, C]."""
  b, h, w, c = shape
  return (b, 2 * h, 2 * w, c)


def _conv(filters, kernel_size, sn, **kwargs):
  """SNConv2D(filters, kernel_size, **sn, **kwargs), or PlainConv2D when sn is None."""
  if sn is None:
    return PlainConv2D(filters, kernel_size, **kwargs)
  return SNConv2D(filters, kernel_size, **sn, **kwargs)


@keras.saving.register_keras_serializable(package="sagan_tf")
class GBlock(keras.layers.Layer):
  """Residual up-block: CBN, ReLU, 2x up, SN conv3, CBN, ReLU, SN conv3; shortcut 2x up, SN conv1
  (computed as SN conv1, 2x up: the same values, a quarter of the FLOPs).

  Args:
    out_channels: output channels.
    num_classes: classes of the conditional BN tables (0: unconditional).
    sn: dict of SNConv2D arguments (power_iterations, stop_gradient), or None: plain
      convolutions (PlainConv2D, no spectral norm).
    bn: dict of ConditionalBatchNorm arguments (momentum, cross_replica).
    **kwargs: keras.layers.Layer arguments (name, dtype, ...); the dtype policy is passed on to
      the sublayers.

  Call arguments:
    x: float [B, H, W, C_in].
    labels: int [B] in [0, num_classes) (None when num_classes = 0).
    training: bool; BN with batch moments (and moving statistics updated) when True.
    update_u: bool; True stores the SN convolutions' new u (ignored when sn is None).

  Returns:
    [B, 2H, 2W, out_channels] in the compute dtype.
  """

  def __init__(self, out_channels, num_classes, sn, bn, **kwargs):
    super().__init__(**kwargs)
    self.out_channels, self.num_classes = int(out_channels), int(num_classes)
    self._sn, self._bn = (None if sn is None else dict(sn)), dict(bn)
    sub = dict(dtype=self.dtype_policy)
    self.bn1 = ConditionalBatchNorm(num_classes, name="bn1", **bn, **sub)
    self.bn2 = ConditionalBatchNorm(num_classes, name="bn2", **bn, **sub)
    self.conv1 = _conv(out_channels, 3, self._sn, name="conv1", **sub)
    self.conv2 = _conv(out_channels, 3, self._sn, name="conv2", **sub)
    self.shortcut = _conv(out_channels, 1, self._sn, name="shortcut", **sub)

  def build(self, input_shape):
    """Creates the sublayers' variables from x's shape [B, H, W, C_in] in call order (the order
    fixes which seeded draws each takes), without tracing a call."""
    up = _upsampled(input_shape)
    out = self.compute_output_shape(input_shape)
    self.bn1.build(input_shape)
    self.conv1.build(up)
    self.bn2.build(out)
    self.conv2.build(out)
    self.shortcut.build(input_shape)

  def compute_output_shape(self, input_shape):
    """[B, 2H, 2W, out_channels] for x of shape [B, H, W, C_in]."""
    return _upsampled(input_shape)[:-1] + (self.out_channels,)

  def call(self, x, labels, training=False, update_u=False):
    h = tf.nn.relu(self.bn1(x, labels, training=training))
    h = self.conv1(_upsample(h), update_u=update_u)
    h = tf.nn.relu(self.bn2(h, labels, training=training))
    h = self.conv2(h, update_u=update_u)
    # conv1x1(up(x)) = up(conv1x1(x)) (a 1x1 conv acts per pixel): convolving first costs 1/4.
    return h + _upsample(self.shortcut(x, update_u=update_u))

  def get_config(self):
    config = super().get_config()
    config.update({"out_channels": self.out_channels, "num_classes": self.num_classes,
                   "sn": None if self._sn is None else dict(self._sn), "bn": dict(self._bn)})
    return config


@keras.saving.register_keras_serializable(package="sagan_tf")
class Generator(BlockStackMixin, keras.Model):
  """SAGAN generator for output resolution 32, 64, 128 or 256.

  The variables are created by build() (build_weights(), or the first call); keras.saving
  recreates them the same way on loading (build_from_config).

  Args:
    resolution: output side R, one of SUPPORTED_RESOLUTIONS.
    ch: base channel width (block widths are multiples of it).
    z_dim: latent width.
    num_classes: classes of the conditional BN tables (0: unconditional).
    attention_resolutions: feature-map sides followed by a SelfAttention layer.
    sn_power_iterations: power iterations of every SN layer, >= 1.
    sn_stop_gradient: stop gradients through the power iterations' u' and v.
    spectral_norm: True (the authors'): SN linear, convolutions and attention convolutions;
      False: the same layers plain (no u variables; the two sn_ arguments are then unused).
    bn_momentum: momentum of the blocks' conditional BN moving statistics.
    head_bn_momentum: momentum of the head BN's moving statistics.
    cross_replica_bn: all-reduce the BN batch moments over the strategy's replicas.
    attention_impl: SelfAttention impl ("auto", "naive" or "blocked": the same math; "blocked"
      keeps the attention map's memory O(H*W)).
    attention_query_block: SelfAttention query_block_size.
    **kwargs: keras.Model arguments (name, default "generator"; dtype, ...); the dtype policy
      is passed on to every layer.

  Call arguments:
    z: float32 [B, z_dim].
    labels: int [B] in [0, num_classes) (ignored when num_classes = 0).
    training: bool; True: BN uses the batch moments and updates the moving statistics; False:
      BN uses the moving statistics.
    update_u: None or bool; True stores every SN layer's new u. None (default): as training
      (the authors' code moves G's u on every training forward pass). Without spectral norm
      there is no u to store.
    return_attention: bool; True also returns the attention maps (computed only then).

  Returns:
    Images float32 [B, R, R, 3] in [-1, 1]; with return_attention=True the pair (images,
    {layer name: attention map float32 [B, N, N/4]}), N = H*W of that layer's input.
  """

  def __init__(self, resolution, ch=64, z_dim=128, num_classes=1000,
               attention_resolutions=(32,), sn_power_iterations=1, sn_stop_gradient=False,
               bn_momentum=0.999, head_bn_momentum=0.9999, cross_replica_bn=False,
               attention_impl="auto", attention_query_block=DEFAULT_QUERY_BLOCK,
               spectral_norm=True, **kwargs):
    kwargs.setdefault("name", "generator")
    super().__init__(**kwargs)
    initial, blocks = architectures.generator_blocks(resolution, ch, attention_resolutions)
    self.resolution, self.ch, self.z_dim = int(resolution), int(ch), int(z_dim)
    self.num_classes = int(num_classes)
    self.attention_resolutions = tuple(int(r) for r in attention_resolutions)
    self.sn_power_iterations, self.sn_stop_gradient = sn_power_iterations, sn_stop_gradient
    self.spectral_norm = bool(spectral_norm)
    self.bn_momentum, self.head_bn_momentum = bn_momentum, head_bn_momentum
    self.cross_replica_bn = cross_replica_bn
    self.attention_impl, self.attention_query_block = attention_impl, attention_query_block
    sub = dict(dtype=self.dtype_policy)
    sn = (dict(power_iterations=sn_power_iterations, stop_gradient=sn_stop_gradient)
          if self.spectral_norm else None)
    bn = dict(momentum=bn_momentum, cross_replica=cross_replica_bn)
    self.initial_channels = initial
    self.linear = (SNDense(4 * 4 * initial, name="linear", **sn, **sub) if sn is not None else
                   PlainDense(4 * 4 * initial, name="linear", **sub))
    self._set_blocks(
        [GBlock(spec.out_channels, self.num_classes, sn, bn, name=f"block{i}", **sub)
         for i, spec in enumerate(blocks)],
        {i: SelfAttention(name=f"attention{spec.resolution}", impl=attention_impl,
                          query_block_size=attention_query_block,
                          power_iterations=sn_power_iterations, stop_gradient=sn_stop_gradient,
                          spectral_norm=self.spectral_norm, **sub)
         for i, spec in enumerate(blocks) if spec.attention})
    self.head_bn = ConditionalBatchNorm(0, momentum=head_bn_momentum,
                                        cross_replica=cross_replica_bn, name="head_bn", **sub)
    self.head_conv = _conv(3, 3, sn, name="head_conv", **sub)

  def call(self, z, labels=None, training=False, update_u=None, return_attention=False):
    update_u = bool(training) if update_u is None else update_u
    z = tf.convert_to_tensor(z)
    check_width("z", z, (self.z_dim,))
    labels = check_labels(labels, self.num_classes)
    h = tf.reshape(self.linear(z, update_u=update_u), [-1, 4, 4, self.initial_channels])
    maps, attention = {}, self.attention
    for i, block in enumerate(self.blocks):
      h = block(h, labels, training=training, update_u=update_u)
      if i in attention:
        layer = attention[i]
        out = layer(h, update_u=update_u, return_attention=return_attention)
        h, maps[layer.name] = out if return_attention else (out, None)
    h = tf.nn.relu(self.head_bn(h, training=training))
    images = tf.cast(tf.tanh(self.head_conv(h, update_u=update_u)), tf.float32)
    return (images, maps) if return_attention else images

  def build(self, z_shape):
    """Creates every variable from z's shape [B, z_dim], layer by layer in call order (the
    order fixes which seeded draws each takes), without tracing a call."""
    self.linear.build(z_shape)
    shape = (z_shape[0], 4, 4, self.initial_channels)
    attention = self.attention
    for i, block in enumerate(self.blocks):
      block.build(shape)
      shape = block.compute_output_shape(shape)
      if i in attention:
        attention[i].build(shape)
    self.head_bn.build(shape)
    self.head_conv.build(shape)

  def build_weights(self):
    """Creates every variable (no call: u and the BN statistics keep their initial values);
    returns self."""
    if not self.built:
      self.build((None, self.z_dim))
    return self

  def build_from_config(self, config):
    """Creates every variable on loading (keras.saving): build_weights()."""
    if config:
      self.build_weights()

  def get_config(self):
    config = super().get_config()
    config.update({
        "resolution": self.resolution, "ch": self.ch, "z_dim": self.z_dim,
        "num_classes": self.num_classes, "attention_resolutions": self.attention_resolutions,
        "sn_power_iterations": self.sn_power_iterations,
        "sn_stop_gradient": self.sn_stop_gradient, "bn_momentum": self.bn_momentum,
        "head_bn_momentum": self.head_bn_momentum, "cross_replica_bn": self.cross_replica_bn,
        "attention_impl": self.attention_impl,
        "attention_query_block": self.attention_query_block,
        "spectral_norm": self.spectral_norm})
    return config
