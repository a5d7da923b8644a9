"""Tests of the training iteration's sub-step order (sagan_tf/training/gan_step.py).

The G sub-step's loss is recomputed independently, from a second trainer with the same initial
weights: with the authors' order (G, then D) it sees the initial D; with D first it sees the D
after one update.
"""

import os
import runpy

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.training.gan_step import GANTrainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(order):
  c = runpy.run_path(os.path.join(REPO, "experiments", "cpu_demo.py"))["get_config"]()
  c.update(dict(num_classes=4, g_ch=8, d_ch=8, global_batch_size=4, substep_order=order))
  return c


def _real_batches(config):
  rng = np.random.RandomState(0)
  images = rng.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
  labels = rng.randint(0, config.num_classes, 8).astype(np.int32)
  ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(config.global_batch_size)
  return iter(tf.distribute.get_strategy().experimental_distribute_dataset(ds.repeat()))


def _g_loss_with_initial_d(config):
  """-mean D0(G0(z, y)) for the G sub-step's noise, on a fresh trainer (same seeded init)."""
  t = GANTrainer(config, tf.distribute.get_strategy())
  z, y = t._noise(tf.constant(0, tf.int64), config.d_steps, config.global_batch_size)
  fake = t.generator(z, y, training=True)
  return float(-tf.reduce_mean(t.discriminator(fake, y, training=True, update_u=False)))


@pytest.mark.parametrize("order", ["g_then_d", "d_then_g"])
def test_generator_step_sees_the_discriminator_of_its_order(order):
  config = _config(order)
  expected_if_g_first = _g_loss_with_initial_d(config)
  trainer = GANTrainer(config, tf.distribute.get_strategy())
  metrics, finite = trainer.train(_real_batches(config), 1)
  assert finite
  if order == "g_then_d":
    np.testing.assert_allclose(metrics["g_loss"], expected_if_g_first, rtol=1e-5, atol=1e-6)
  else:  # D moved first (lr 4e-4 on random data): G's loss reads the updated D
    assert abs(metrics["g_loss"] - expected_if_g_first) > 1e-4
