"""Holding a network's residual blocks and attention layers so that checkpoints see them.

Under Keras 3's TF backend, tf.train.Checkpoint tracks a model's direct attributes only, not
layers kept in lists or dicts. So block i is the attribute `block{i}` and the attention layer
after it `attention_after{i}`; `blocks` and `attention` give them back in order.
"""


class BlockStackMixin:
  """Mixin for keras.Model subclasses built from an ordered stack of blocks."""

  def _set_blocks(self, blocks, attention):
    """blocks: [layer]; attention: {block index: SelfAttention layer after that block}."""
    self.num_blocks = len(blocks)
    for i, block in enumerate(blocks):
      setattr(self, f"block{i}", block)
      if i in attention:
        setattr(self, f"attention_after{i}", attention[i])

  @property
  def blocks(self):
    """The blocks, in order."""
    return [getattr(self, f"block{i}") for i in range(self.num_blocks)]

  @property
  def attention(self):
    """{block index: the SelfAttention layer after that block}."""
    return {i: getattr(self, f"attention_after{i}") for i in range(self.num_blocks)
            if hasattr(self, f"attention_after{i}")}
