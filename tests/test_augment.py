"""DiffAugment (sagan_tf/augment.py) against an independent numpy reference of each transform
for fixed parameters (translation as a slice of a zero-padded copy, cutout as a slice set to
zero), the drawn parameters' ranges, the policy's order, slices of one global draw,
determinism, gradients (tape against finite differences of the reference), XLA."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import augment
from sagan_tf import choices
from sagan_tf import config as config_lib

POLICY = "color,translation,cutout"


def np_color(x, brightness, saturation, contrast):
  x = x + brightness[:, None, None, None]
  mean = x.mean(axis=3, keepdims=True)
  x = (x - mean) * saturation[:, None, None, None] + mean
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  return (x - mean) * contrast[:, None, None, None] + mean


def np_translation(x, shift):
  """out[i, j] = x[i + dy, j + dx]: a window of a copy zero-padded by a whole image each side."""
  n, h, w, c = x.shape
  out = np.empty_like(x)
  for b, (dy, dx) in enumerate(shift):
    padded = np.zeros((3 * h, 3 * w, c), x.dtype)
    padded[h:2 * h, w:2 * w] = x[b]
    out[b] = padded[h + dy:2 * h + dy, w + dx:2 * w + dx]
  return out


def np_cutout(x, center):
  n, h, w, _ = x.shape
  k_h, k_w = int(h / 2 + 0.5), int(w / 2 + 0.5)
  out = x.copy()
  for b, (cy, cx) in enumerate(center):
    top, left = cy - k_h // 2, cx - k_w // 2
    out[b, max(top, 0):max(top + k_h, 0), max(left, 0):max(left + k_w, 0)] = 0
  return out


def _images(n=6, size=32, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype(np.float32)


FIXED = dict(  # 6 examples: edges of the drawn ranges at 32 px (r = 4, cutout side 16)
    brightness=np.array([-0.5, 0.0, 0.3, 0.49, -0.2, 0.1], np.float32),
    saturation=np.array([0.0, 1.0, 1.9, 0.5, 1.2, 0.7], np.float32),
    contrast=np.array([0.5, 1.0, 1.49, 0.8, 1.1, 0.6], np.float32),
    translation=np.array([[0, 0], [4, -4], [-4, 4], [-3, 2], [1, 0], [0, -1]], np.int32),
    cutout=np.array([[0, 0], [32, 32], [16, 5], [1, 31], [8, 8], [24, 0]], np.int32))


def test_each_op_matches_numpy_for_fixed_parameters():
  x = _images()
  got = augment.color(tf.constant(x), *(FIXED[k] for k in ("brightness", "saturation",
                                                           "contrast")))
  want = np_color(x.astype(np.float64), *(FIXED[k].astype(np.float64) for k in (
      "brightness", "saturation", "contrast")))
  np.testing.assert_allclose(got.numpy(), want, atol=2e-6)
  np.testing.assert_array_equal(augment.translation(tf.constant(x), FIXED["translation"]),
                                np_translation(x, FIXED["translation"]))
  np.testing.assert_array_equal(augment.cutout(tf.constant(x), FIXED["cutout"]),
                                np_cutout(x, FIXED["cutout"]))


def test_the_transforms_do_what_they_say():
  x = _images(n=2) + 2.0  # no zeros of its own
  # Brightness alone (saturation 1, contrast 1) adds the drawn value.
  got = augment.color(tf.constant(x), np.array([0.25, -0.4]), np.ones(2), np.ones(2)).numpy()
  np.testing.assert_allclose(got - x, np.array([0.25, -0.4])[:, None, None, None]
                             * np.ones_like(x), atol=1e-6)
  # Translation by (2, -3): rows move up by 2, columns right by 3, zeros fill the rest.
  got = augment.translation(tf.constant(x), tf.constant([[2, -3], [0, 0]])).numpy()
  np.testing.assert_array_equal(got[0, :30, 3:], x[0, 2:, :29])
  assert not got[0, 30:].any() and not got[0, :, :3].any()
  np.testing.assert_array_equal(got[1], x[1])
  # Cutout centred at (10, 31): rows 2..17, columns 23..31 (clipped at the edge) are zero.
  got = augment.cutout(tf.constant(x), tf.constant([[10, 31], [0, 0]])).numpy()
  zero = np.zeros((32, 32), bool)
  zero[2:18, 23:32] = True
  np.testing.assert_array_equal((got[0] == 0).all(-1), zero)
  np.testing.assert_array_equal(got[0][~zero], x[0][~zero])
  assert (got[1] == 0).all(-1).sum() == 8 * 8  # centred at a corner: a quarter of the square


@pytest.mark.parametrize("size,shift,side", [(32, 4, 16), (64, 8, 32), (128, 16, 64)])
def test_drawn_parameters_cover_the_authors_ranges(size, shift, side):
  p = {k: v.numpy() for k, v in augment.draw(tf.constant([1, 2], tf.int64), 4000, size,
                                             size).items()}
  assert p["brightness"].min() >= -0.5 and p["brightness"].max() < 0.5
  assert p["saturation"].min() >= 0.0 and p["saturation"].max() < 2.0
  assert p["contrast"].min() >= 0.5 and p["contrast"].max() < 1.5
  for axis in (0, 1):
    assert set(p["translation"][:, axis]) == set(range(-shift, shift + 1))
    assert set(p["cutout"][:, axis]) == set(range(0, size + 1 - side % 2))
  assert abs(np.corrcoef(p["brightness"], p["saturation"])[0, 1]) < 0.1  # own streams


def _params(seed, x, num=None, start=0):
  """Rows [start, start + B) of draw's parameters, as numpy."""
  return {k: v.numpy()[start:start + len(x)]
          for k, v in augment.draw(seed, num or len(x), x.shape[1], x.shape[2]).items()}


def _reference(x, policy, p):
  """The numpy ops in the policy's order with the parameters p."""
  out = x.astype(np.float64)
  for op in choices.diffaugment_ops(policy):
    if op == "color":
      out = np_color(out, *(p[k].astype(np.float64) for k in ("brightness", "saturation",
                                                              "contrast")))
    elif op == "translation":
      out = np_translation(out, p["translation"])
    else:
      out = np_cutout(out, p["cutout"])
  return out


@pytest.mark.parametrize("policy", [POLICY, "cutout,color", "translation"])
def test_augment_applies_the_policy_in_order(policy):
  x, seed = _images(), tf.constant([7, 11], tf.int64)
  np.testing.assert_allclose(augment.augment(tf.constant(x), policy, seed).numpy(),
                             _reference(x, policy, _params(seed, x)), atol=2e-6)


def test_slices_of_one_draw_deterministic_and_seeded():
  x, seed = tf.constant(_images()), tf.constant([3, 5], tf.int64)
  whole = augment.augment(x, POLICY, seed).numpy()
  part = augment.augment(x[2:4], POLICY, seed, num=6, start=tf.constant(2)).numpy()
  np.testing.assert_array_equal(part, whole[2:4])  # a replica's rows of the global draw
  np.testing.assert_array_equal(augment.augment(x, POLICY, seed).numpy(), whole)
  other = augment.augment(x, POLICY, tf.constant([3, 6], tf.int64)).numpy()
  assert np.abs(other - whole).mean() > 0.1
  assert augment.augment(x, "", seed) is x


def test_gradients_flow_and_match_finite_differences():
  # Every op is linear in x for fixed parameters, so central differences of the float64
  # reference give its gradient up to round-off.
  x = _images(n=2, size=8, seed=3)
  seed = tf.constant([4, 9], tf.int64)
  w = np.random.default_rng(5).normal(size=x.shape)
  p = _params(seed, x)
  for policy in ("color", POLICY):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
      tape.watch(xt)
      loss = tf.reduce_sum(tf.constant(w, tf.float32) * augment.augment(xt, policy, seed))
    grad = tape.gradient(loss, xt).numpy()
    assert np.abs(grad).sum() > 1.0, policy
    flat, eps = x.astype(np.float64).ravel(), 1e-3
    numeric = np.empty_like(flat)
    for i in range(flat.size):
      up, down = flat.copy(), flat.copy()
      up[i] += eps
      down[i] -= eps
      numeric[i] = (np.sum(w * _reference(up.reshape(x.shape), policy, p))
                    - np.sum(w * _reference(down.reshape(x.shape), policy, p))) / (2 * eps)
    np.testing.assert_allclose(grad.ravel(), numeric, atol=1e-4, err_msg=policy)


def test_compiles_with_xla():
  # XLA draws other numbers than TF's kernels from the same stateless seed (its own RNG
  # implementation, as for every stateless op), so the XLA output is checked against the
  # reference with the parameters XLA drew.
  x, seed = tf.constant(_images()), tf.constant([2, 8], tf.int64)

  def both(images, s):
    return (augment.augment(images, POLICY, s, num=12, start=tf.constant(6)),
            augment.draw(s, 12, 32, 32))

  out, params = tf.function(both, jit_compile=True)(x, seed)
  p = {k: v.numpy()[6:12] for k, v in params.items()}
  np.testing.assert_allclose(out.numpy(), _reference(x.numpy(), POLICY, p), atol=2e-6)


@pytest.mark.parametrize("policy", ["colour", "color,color", "color,,cutout"])
def test_bad_policy_is_one_line(policy):
  with pytest.raises(ValueError, match="comma-separated list of distinct ops"):
    choices.diffaugment_ops(policy)
  c = config_lib.base_config()
  c.diffaugment = policy
  with pytest.raises(ValueError) as e:
    config_lib.validate(c)
  assert str(e.value).startswith(f"Invalid config: diffaugment={policy!r}")
  assert "\n" not in str(e.value)
  assert choices.diffaugment_ops(" color, cutout ") == ("color", "cutout")
  assert choices.diffaugment_ops("") == ()
