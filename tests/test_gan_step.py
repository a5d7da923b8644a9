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

from sagan_tf import augment
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


def _hinge_d_loss(d_real, d_fake):
  return tf.reduce_mean(tf.nn.relu(1.0 - d_real)) + tf.reduce_mean(tf.nn.relu(1.0 + d_fake))


def test_fused_discriminator_pass_equals_two_passes_for_a_frozen_u():
  # One D call on [real; fake] against two calls, both with u frozen: the same logits and the
  # same gradients for every D variable (D has no batch coupling; sigma comes from one power
  # iteration from the stored u in each call).
  config = _config("g_then_d")
  t = GANTrainer(config, tf.distribute.get_strategy())
  d, n = t.discriminator, config.global_batch_size
  rng = np.random.RandomState(1)
  real = tf.constant(rng.uniform(-1, 1, (n, 32, 32, 3)), tf.float32)
  fake = tf.constant(rng.uniform(-1, 1, (n, 32, 32, 3)), tf.float32)
  y_real = tf.constant(rng.randint(0, config.num_classes, n), tf.int32)
  y_fake = tf.constant(rng.randint(0, config.num_classes, n), tf.int32)
  u_before = [v.numpy() for v in d.non_trainable_variables]

  def loss_and_grads(fused):
    with tf.GradientTape() as tape:
      if fused:
        logits = d(tf.concat([real, fake], 0), tf.concat([y_real, y_fake], 0), update_u=False)
        d_real, d_fake = logits[:n], logits[n:]
      else:
        d_real, d_fake = d(real, y_real, update_u=False), d(fake, y_fake, update_u=False)
      loss = _hinge_d_loss(d_real, d_fake)
    return [d_real, d_fake] + tape.gradient(loss, d.trainable_variables)

  two, one = loss_and_grads(False), loss_and_grads(True)
  assert len(one) == len(d.trainable_variables) + 2
  for got, want in zip(one, two):
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5 * scale, rtol=0)
  for v, before in zip(d.non_trainable_variables, u_before):
    np.testing.assert_array_equal(v.numpy(), before)


@pytest.mark.parametrize("fused", [True, False])
def test_discriminator_substep_reads_u_as_documented(fused):
  # The D sub-step's logits against an independent recomputation on a second trainer with the
  # same initial weights: fused, both halves use sigma from one power iteration from the stored
  # u (so equal the frozen-u logits); separate, the real half does and stores u', and the fake
  # half starts one more iteration from u' (equal to the frozen-u logits only up to that step).
  config = _config("g_then_d")
  config.d_fused_pass = fused
  trainer = GANTrainer(config, tf.distribute.get_strategy())
  reference = GANTrainer(config, tf.distribute.get_strategy())
  n, step = config.global_batch_size, tf.constant(0, tf.int64)
  rng = np.random.RandomState(2)
  images = tf.constant(rng.uniform(-1, 1, (n, 32, 32, 3)), tf.float32)
  labels = tf.constant(rng.randint(0, config.num_classes, n), tf.int32)
  d_loss, d_real, d_fake = trainer._d_substep(images, labels, step, 0, n)
  z, fake_labels = reference._noise(step, 0, n)
  fake = reference.generator(z, fake_labels, training=True)
  d = reference.discriminator
  want_real = d(images, labels, update_u=False)
  want_fake = d(fake, fake_labels, update_u=False)
  np.testing.assert_allclose(d_real.numpy(), want_real.numpy(), rtol=1e-5, atol=1e-5)
  if fused:
    np.testing.assert_allclose(d_fake.numpy(), want_fake.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(d_loss), float(_hinge_d_loss(want_real, want_fake)),
                               rtol=1e-5)
  else:
    assert np.max(np.abs(d_fake.numpy() - want_fake.numpy())) > 1e-6
  d(images, labels, update_u=True)  # stores u' in the reference: both D's now hold the same u
  for got, want in zip(trainer.discriminator.non_trainable_variables, d.non_trainable_variables):
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


# DiffAugment: the documented seeds (gan_step's docstring) of sub-step k of iteration s are
# (config.seed, s * (d_steps + 1) + k + offset), offset 2 * 2**40 for real and 3 * 2**40 for
# fake images; the augmentations are recomputed here with sagan_tf.augment (tested against
# numpy in tests/test_augment.py). The expected values come from the same trainer just before
# each sub-step, with u frozen: a training-mode G or D output depends on its weights and u
# only, and a sub-step's pass computes sigma from the stored u as a frozen-u pass does (for D:
# the fused pass, test_discriminator_substep_reads_u_as_documented).
POLICY = "color,translation,cutout"
AUGMENT_REAL, AUGMENT_FAKE = 2 * 2**40, 3 * 2**40


def _augmented(config, images, step, substep, offset):
  seed = tf.constant([config.seed, step * (config.d_steps + 1) + substep + offset], tf.int64)
  return augment.augment(images, POLICY, seed)


def test_substeps_see_diffaugmented_images():
  config = _config("g_then_d")
  config.diffaugment = POLICY
  t = GANTrainer(config, tf.distribute.get_strategy())
  g, d, n, k = t.generator, t.discriminator, config.global_batch_size, config.d_steps
  # G sub-step of iteration 0: D sees the augmented fakes.
  z, y = t._noise(tf.constant(0, tf.int64), k, n)
  fake = _augmented(config, g(z, y, training=True, update_u=False), 0, k, AUGMENT_FAKE)
  want = -tf.reduce_mean(d(fake, y, training=True, update_u=False))
  g_loss = t._g_substep(tf.constant(0, tf.int64), n)
  np.testing.assert_allclose(float(g_loss), float(want), rtol=1e-5, atol=1e-6)
  # D sub-step 0 of iteration 3: augmented real and augmented fake images.
  step = 3
  rng = np.random.RandomState(4)
  images = tf.constant(rng.uniform(-1, 1, (n, 32, 32, 3)), tf.float32)
  labels = tf.constant(rng.randint(0, config.num_classes, n), tf.int32)
  z, fake_labels = t._noise(tf.constant(step, tf.int64), 0, n)
  fake = g(z, fake_labels, training=True, update_u=False)
  want_real = d(_augmented(config, images, step, 0, AUGMENT_REAL), labels, update_u=False)
  want_fake = d(_augmented(config, fake, step, 0, AUGMENT_FAKE), fake_labels, update_u=False)
  plain_real = d(images, labels, update_u=False)
  _, d_real, d_fake = t._d_substep(images, labels, tf.constant(step, tf.int64), 0, n)
  np.testing.assert_allclose(d_real.numpy(), want_real.numpy(), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(d_fake.numpy(), want_fake.numpy(), rtol=1e-5, atol=1e-5)
  assert np.max(np.abs(plain_real.numpy() - want_real.numpy())) > 1e-4


# Without spectral norm in G (config.g_spectral_norm=False, the paper's Figure 3 baseline): G
# and the EMA G hold no u, D keeps its own; an iteration trains every G weight.


def test_one_iteration_without_spectral_norm_in_g():
  config = _config("g_then_d")
  config.g_spectral_norm = False
  trainer = GANTrainer(config, tf.distribute.get_strategy())
  g, ema, d = trainer.generator, trainer.ema_generator, trainer.discriminator
  for model in (g, ema):
    assert model.spectral_norm is False
    assert not [w for w in model.weights if w.path.endswith("/sn_u")]
  assert [w for w in d.weights if w.path.endswith("/sn_u")]
  before = {w.path: w.numpy().copy() for w in g.trainable_weights}
  metrics, finite = trainer.train(_real_batches(config), 1)
  assert finite and int(trainer.step.numpy()) == 1
  moved = [not np.array_equal(w.numpy(), before[w.path]) for w in g.trainable_weights]
  assert sum(moved) > len(moved) // 2
  # Before ema_start_step (cpu_demo's: 500) the EMA G copies G: it holds the new weights.
  for raw, averaged in trainer.ema_pairs:
    np.testing.assert_allclose(averaged.numpy(), raw.numpy(), rtol=1e-6, atol=1e-7)


# The learning-rate schedule: the rate of iteration s is the base rate times the schedule's
# factor at s (sagan_tf/training/schedule.py), for G and D, read from the step counter. The
# expected factor is written here from the formula: linear decay from s0 = 1 to T = 5, at s = 2:
# (T - s) / (T - s0) = 3 / 4.
SCHEDULE = dict(lr_schedule="linear_decay", num_train_steps=5, lr_decay_start_step=1)
STEP, FACTOR = 2, 3 / 4


def _updates_at_step(schedule):
  """A fresh trainer at iteration STEP (same seeded initial weights for every config) and the
  change of G's trainable weights in its G sub-step and of D's in its D sub-step (float64),
  each sub-step run from the initial state of both networks (G's weights, u and BN statistics
  are put back before the D sub-step), so each is the first Adam update of the same gradient.
  The sub-steps run eagerly, as replica_step calls them."""
  config = _config("g_then_d")
  config.update(dict(g_lr=1e-3, d_lr=2e-3, **schedule))
  trainer = GANTrainer(config, tf.distribute.get_strategy())
  trainer.step.assign(STEP)
  g, d, n = trainer.generator, trainer.discriminator, config.global_batch_size
  step = tf.constant(STEP, tf.int64)
  initial_g = [w.numpy() for w in g.weights]
  before = [w.numpy().astype(np.float64) for w in g.trainable_weights]
  trainer._g_substep(step, n)
  updates = {"generator": [w.numpy() - b for w, b in zip(g.trainable_weights, before)]}
  for w, value in zip(g.weights, initial_g):
    w.assign(value)
  rng = np.random.RandomState(5)
  images = tf.constant(rng.uniform(-1, 1, (n, 32, 32, 3)), tf.float32)
  labels = tf.constant(rng.randint(0, config.num_classes, n), tf.int32)
  before = [w.numpy().astype(np.float64) for w in d.trainable_weights]
  trainer._d_substep(images, labels, step, 0, n)
  updates["discriminator"] = [w.numpy() - b for w, b in zip(d.trainable_weights, before)]
  return trainer, updates


def test_the_rate_of_iteration_s_is_the_base_rate_times_the_schedule():
  constant, want = _updates_at_step({})
  decayed, got = _updates_at_step(SCHEDULE)
  assert constant.learning_rates(STEP) == pytest.approx({"generator": 1e-3,
                                                         "discriminator": 2e-3})
  assert decayed.learning_rates(STEP) == pytest.approx({"generator": 1e-3 * FACTOR,
                                                        "discriminator": 2e-3 * FACTOR})
  # The optimizers' variables keep the base rates (what checkpoints and resumes hold).
  assert float(decayed.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
  assert float(decayed.d_optimizer.learning_rate.numpy()) == pytest.approx(2e-3)
  for network in ("generator", "discriminator"):
    big = 0
    for a, b in zip(want[network], got[network]):
      # atol: float32 rounding of weights up to ~2 in magnitude (BN gammas start at 1), against
      # updates of ~1e-3: a wrong factor is off by ~2.5e-4.
      np.testing.assert_allclose(b, FACTOR * a, rtol=1e-5, atol=2.5e-7, err_msg=network)
      big += int(np.sum(np.abs(a) > 1e-4))
    assert big > 100, network  # the comparison covers real updates
