"""GAN losses as small pure functions of discriminator logits.

Each returns per-example losses float32 [B]; the training step reduces them with the global
batch size (tf.nn.compute_average_loss), so the mean over the global batch is what is optimized.
"""

import tensorflow as tf

from sagan_tf import choices


def hinge_d(real_logits, fake_logits):
  """relu(1 - D(x)) + relu(1 + D(G(z))), per example. Shapes [B] -> [B]."""
  return tf.nn.relu(1.0 - real_logits) + tf.nn.relu(1.0 + fake_logits)


def hinge_g(fake_logits):
  """-D(G(z)), per example."""
  return -fake_logits


def non_saturating_d(real_logits, fake_logits):
  """softplus(-D(x)) + softplus(D(G(z))) = -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z))))."""
  return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


def non_saturating_g(fake_logits):
  """softplus(-D(G(z))) = -log sigmoid(D(G(z)))."""
  return tf.nn.softplus(-fake_logits)


def wasserstein_d(real_logits, fake_logits):
  """D(G(z)) - D(x)."""
  return fake_logits - real_logits


def wasserstein_g(fake_logits):
  """-D(G(z))."""
  return -fake_logits


LOSSES = dict(zip(choices.LOSSES, (
    (hinge_d, hinge_g), (non_saturating_d, non_saturating_g), (wasserstein_d, wasserstein_g))))


def get(name):
  """Returns (d_loss_fn, g_loss_fn) for a loss name."""
  if name not in LOSSES:
    raise ValueError(f"Unknown loss {name!r}; choose one of {sorted(LOSSES)}.")
  return LOSSES[name]
