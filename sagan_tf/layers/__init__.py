"""Keras 3 layers of SAGAN. They know nothing of GANs, configs or training."""

from sagan_tf.layers.attention import SelfAttention
from sagan_tf.layers.normalization import ConditionalBatchNorm
from sagan_tf.layers.plain import PlainConv2D, PlainDense
from sagan_tf.layers.spectral import SNConv2D, SNDense, SNEmbedding, power_iteration

__all__ = ["ConditionalBatchNorm", "PlainConv2D", "PlainDense", "SelfAttention", "SNConv2D",
           "SNDense", "SNEmbedding", "power_iteration"]
