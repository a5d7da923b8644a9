"""GAN losses vs numpy formulas."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import losses


def np_sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


REFERENCES = {
    # name: (d reference, g reference), per example
    "hinge": (lambda r, f: np.maximum(0, 1 - r) + np.maximum(0, 1 + f),
              lambda f: -f),
    "non_saturating": (lambda r, f: -np.log(np_sigmoid(r)) - np.log(1 - np_sigmoid(f)),
                       lambda f: -np.log(np_sigmoid(f))),
    "wasserstein": (lambda r, f: f - r,
                    lambda f: -f),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_losses_match_numpy(name):
  rng = np.random.default_rng(0)
  # Values on both sides of the hinge margins (|x| < 1 and |x| > 1).
  real = rng.uniform(-4, 4, 64).astype(np.float32)
  fake = rng.uniform(-4, 4, 64).astype(np.float32)
  d_fn, g_fn = losses.get(name)
  d_ref, g_ref = REFERENCES[name]
  d_loss, g_loss = d_fn(tf.constant(real), tf.constant(fake)), g_fn(tf.constant(fake))
  assert d_loss.shape == (64,) and g_loss.shape == (64,)
  np.testing.assert_allclose(d_loss.numpy(), d_ref(real.astype(np.float64),
                                                    fake.astype(np.float64)),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(g_loss.numpy(), g_ref(fake.astype(np.float64)),
                             rtol=1e-5, atol=1e-5)


def test_hinge_values():
  d = losses.hinge_d(tf.constant([2.0, 0.5, -1.0]), tf.constant([-2.0, 0.5, 3.0])).numpy()
  np.testing.assert_allclose(d, [0.0 + 0.0, 0.5 + 1.5, 2.0 + 4.0])
  np.testing.assert_allclose(losses.hinge_g(tf.constant([1.5, -2.0])).numpy(), [-1.5, 2.0])


def test_non_saturating_is_stable_for_large_logits():
  big = tf.constant([-200.0, 200.0])
  d = losses.non_saturating_d(big, -big).numpy()
  g = losses.non_saturating_g(big).numpy()
  assert np.all(np.isfinite(d)) and np.all(np.isfinite(g))
  np.testing.assert_allclose(d, [400.0, 0.0], atol=1e-4)
  np.testing.assert_allclose(g, [200.0, 0.0], atol=1e-4)


def test_get_unknown_lists_names():
  with pytest.raises(ValueError) as info:
    losses.get("x")
  for name in ("hinge", "non_saturating", "wasserstein"):
    assert name in str(info.value)
  assert losses.get("hinge") == (losses.hinge_d, losses.hinge_g)
