"""The SAGAN generator: SN linear -> up-blocks (conditional BN) -> BN, ReLU, SN conv, tanh."""

import keras
import tensorflow as tf

from sagan_tf.layers import ConditionalBatchNorm, SelfAttention, SNConv2D, SNDense
from sagan_tf.layers.attention import DEFAULT_QUERY_BLOCK
from sagan_tf import architectures
from sagan_tf.models.block_stack import BlockStackMixin
from sagan_tf.models.validation import check_labels, check_width


def _upsample(x):
  return tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)  # nearest neighbour, 2x


class GBlock(keras.layers.Layer):
  """Residual up-block: CBN, ReLU, 2x up, SN conv3, CBN, ReLU, SN conv3; shortcut 2x up, SN conv1
  (computed as SN conv1, 2x up: the same values, a quarter of the FLOPs).

  Input [B, H, W, C_in] and labels [B]; output [B, 2H, 2W, out_channels].
  """

  def __init__(self, out_channels, num_classes, sn, bn, **kwargs):
    super().__init__(**kwargs)
    self.out_channels = out_channels
    self.bn1 = ConditionalBatchNorm(num_classes, name="bn1", **bn)
    self.bn2 = ConditionalBatchNorm(num_classes, name="bn2", **bn)
    self.conv1 = SNConv2D(out_channels, 3, name="conv1", **sn)
    self.conv2 = SNConv2D(out_channels, 3, name="conv2", **sn)
    self.shortcut = SNConv2D(out_channels, 1, name="shortcut", **sn)

  def call(self, x, labels, training=False, update_u=False):
    h = tf.nn.relu(self.bn1(x, labels, training=training))
    h = self.conv1(_upsample(h), update_u=update_u)
    h = tf.nn.relu(self.bn2(h, labels, training=training))
    h = self.conv2(h, update_u=update_u)
    # conv1x1(up(x)) = up(conv1x1(x)) (a 1x1 conv acts per pixel): convolving first costs 1/4.
    return h + _upsample(self.shortcut(x, update_u=update_u))


class Generator(BlockStackMixin, keras.Model):
  """SAGAN generator for output resolution 32, 64, 128 or 256.

  call(z, labels, training=False, update_u=None, return_attention=False):
    z: float32 [B, z_dim]; labels: int [B] in [0, num_classes) (ignored when num_classes = 0).
    Returns images float32 [B, R, R, 3] in [-1, 1]; with return_attention also a dict
    {layer name: attention map float32 [B, N, N/4]}.
  attention_impl, attention_query_block: SelfAttention's impl and query_block_size (same math;
  "blocked" keeps the attention map's memory O(H*W)); maps are computed only when returned.
  BN uses batch moments when training and moving statistics otherwise. Spectral-norm u moves
  when update_u is True; by default it moves exactly when training (the authors' code moves
  G's u on every training forward pass).
  """

  def __init__(self, resolution, ch=64, z_dim=128, num_classes=1000,
               attention_resolutions=(32,), sn_power_iterations=1, sn_stop_gradient=False,
               bn_momentum=0.999, head_bn_momentum=0.9999, cross_replica_bn=False,
               attention_impl="auto", attention_query_block=DEFAULT_QUERY_BLOCK, **kwargs):
    kwargs.setdefault("name", "generator")
    super().__init__(**kwargs)
    initial, blocks = architectures.generator_blocks(resolution, ch, attention_resolutions)
    self.resolution, self.ch, self.z_dim = int(resolution), int(ch), int(z_dim)
    self.num_classes = int(num_classes)
    self.attention_resolutions = tuple(int(r) for r in attention_resolutions)
    self._config = dict(sn_power_iterations=sn_power_iterations,
                        sn_stop_gradient=sn_stop_gradient, bn_momentum=bn_momentum,
                        head_bn_momentum=head_bn_momentum, cross_replica_bn=cross_replica_bn,
                        attention_impl=attention_impl, attention_query_block=attention_query_block)
    sn = dict(power_iterations=sn_power_iterations, stop_gradient=sn_stop_gradient)
    bn = dict(momentum=bn_momentum, cross_replica=cross_replica_bn)
    self.initial_channels = initial
    self.linear = SNDense(4 * 4 * initial, name="linear", **sn)
    self._set_blocks(
        [GBlock(spec.out_channels, self.num_classes, sn, bn, name=f"block{i}")
         for i, spec in enumerate(blocks)],
        {i: SelfAttention(name=f"attention{spec.resolution}", impl=attention_impl,
                          query_block_size=attention_query_block, **sn)
         for i, spec in enumerate(blocks) if spec.attention})
    self.head_bn = ConditionalBatchNorm(0, momentum=head_bn_momentum,
                                        cross_replica=cross_replica_bn, name="head_bn")
    self.head_conv = SNConv2D(3, 3, name="head_conv", **sn)

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

  def build_weights(self):
    """Creates every variable (one inference call on a batch of 2); returns self."""
    z = tf.zeros([2, self.z_dim])
    self(z, tf.zeros([2], tf.int32) if self.num_classes else None, training=False)
    return self

  def get_config(self):
    return {"name": self.name, "resolution": self.resolution, "ch": self.ch,
            "z_dim": self.z_dim, "num_classes": self.num_classes,
            "attention_resolutions": self.attention_resolutions, **self._config}
