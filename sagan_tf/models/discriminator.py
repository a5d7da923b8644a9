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


class DBlock(keras.layers.Layer):
  """Residual down-block. Input [B, H, W, C_in]; output [B, H/2, W/2, C] (or [B, H, W, C]).

  optimized (first block): SN conv3, ReLU, SN conv3, avgpool; shortcut avgpool, SN conv1.
  otherwise (pre-activation): ReLU, SN conv3, ReLU, SN conv3, [avgpool]; shortcut SN conv1,
  [avgpool] (computed as [avgpool], SN conv1: the same values, fewer FLOPs), present only when
  downsampling or the channel count changes.
  """

  def __init__(self, out_channels, downsample, optimized, sn, **kwargs):
    super().__init__(**kwargs)
    self.out_channels, self.downsample, self.optimized = out_channels, downsample, optimized
    self.conv1 = SNConv2D(out_channels, 3, name="conv1", **sn)
    self.conv2 = SNConv2D(out_channels, 3, name="conv2", **sn)
    self._sn = sn
    self.shortcut = None

  def build(self, input_shape):
    if self.optimized or self.downsample or int(input_shape[-1]) != self.out_channels:
      self.shortcut = SNConv2D(self.out_channels, 1, name="shortcut", **self._sn)

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


class Discriminator(BlockStackMixin, keras.Model):
  """SAGAN projection discriminator for input resolution 32, 64, 128 or 256.

  call(images, labels, training=False, update_u=False, return_attention=False):
    images: float [B, R, R, 3] in [-1, 1]; labels: int [B] in [0, num_classes) (ignored when
    num_classes = 0: no projection term). Returns logits float32 [B]; with return_attention also
    a dict {layer name: attention map float32 [B, N, N/4]}.
  attention_impl, attention_query_block: as in Generator (maps computed only when returned).
  Spectral-norm u moves only when update_u is True (the authors': on real data, not on fake).
  """

  def __init__(self, resolution, ch=64, num_classes=1000, attention_resolutions=(32,),
               sn_power_iterations=1, sn_stop_gradient=False, attention_impl="auto",
               attention_query_block=DEFAULT_QUERY_BLOCK, **kwargs):
    kwargs.setdefault("name", "discriminator")
    super().__init__(**kwargs)
    specs = architectures.discriminator_blocks(resolution, ch, attention_resolutions)
    self.resolution, self.ch, self.num_classes = int(resolution), int(ch), int(num_classes)
    self.attention_resolutions = tuple(int(r) for r in attention_resolutions)
    self._config = dict(sn_power_iterations=sn_power_iterations,
                        sn_stop_gradient=sn_stop_gradient, attention_impl=attention_impl,
                        attention_query_block=attention_query_block)
    sn = dict(power_iterations=sn_power_iterations, stop_gradient=sn_stop_gradient)
    self._set_blocks(
        [DBlock(spec.out_channels, spec.downsample, i == 0, sn, name=f"block{i}")
         for i, spec in enumerate(specs)],
        {i: SelfAttention(name=f"attention{spec.resolution}", impl=attention_impl,
                          query_block_size=attention_query_block, **sn)
         for i, spec in enumerate(specs) if spec.attention})
    self.linear = SNDense(1, name="linear", **sn)
    self.embedding = (SNEmbedding(self.num_classes, specs[-1].out_channels, name="embedding",
                                  **sn) if self.num_classes else None)

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

  def build_weights(self):
    """Creates every variable (one call on a batch of 2); returns self."""
    x = tf.zeros([2, self.resolution, self.resolution, 3])
    self(x, tf.zeros([2], tf.int32) if self.num_classes else None)
    return self

  def get_config(self):
    return {"name": self.name, "resolution": self.resolution, "ch": self.ch,
            "num_classes": self.num_classes,
            "attention_resolutions": self.attention_resolutions, **self._config}
