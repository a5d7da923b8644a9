"""SelfAttention vs a plain numpy reference of the authors' block (sn_non_local_block_sim)."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import SelfAttention

B, H, W, C = 2, 4, 6, 16  # H != W checks the row-major flattening of queries and pooled keys


def l2n(x):
  return x / (np.sqrt(np.sum(np.square(x))) + 1e-12)


def np_sn_matrix(kernel, u):
  """W_bar = W / sigma of a 1x1 conv kernel [1, 1, C_in, C_out] after one power iteration."""
  w = kernel.astype(np.float64).reshape(-1, kernel.shape[-1])
  u = u.astype(np.float64)
  v = l2n(u @ w.T)
  u1 = l2n(v @ w)
  sigma = (v @ w @ u1.T)[0, 0]
  return w / sigma, u1


def np_maxpool2(t):
  b, h, w, c = t.shape
  return t.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def np_softmax(logits):
  e = np.exp(logits - logits.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


def np_self_attention(x, convs, gamma):
  """convs: dict name -> (kernel, u). Returns (y, attention, o, {name: u'})."""
  x = x.astype(np.float64)
  b, h, w, c = x.shape
  mats, new_u = {}, {}
  for name, (kernel, u) in convs.items():
    mats[name], new_u[name] = np_sn_matrix(kernel, u)
  theta = (x @ mats["query"]).reshape(b, h * w, c // 8)
  phi = np_maxpool2(x @ mats["key"]).reshape(b, h * w // 4, c // 8)
  g = np_maxpool2(x @ mats["value"]).reshape(b, h * w // 4, c // 2)
  attention = np_softmax(np.einsum("bnd,bmd->bnm", theta, phi))  # no 1/sqrt(d)
  o = np.einsum("bnm,bmd->bnd", attention, g).reshape(b, h, w, c // 2) @ mats["output"]
  return x + gamma * o, attention, o, new_u


def make_layer(rng, gamma=0.7):
  layer = SelfAttention()
  layer.build((None, H, W, C))
  convs = {}
  for name, conv in [("query", layer.query_conv), ("key", layer.key_conv),
                     ("value", layer.value_conv), ("output", layer.output_conv)]:
    assert conv.bias is None  # the authors' 1x1 convs have no bias
    kernel = rng.standard_normal(conv.kernel.shape).astype(np.float32)
    u = rng.standard_normal(conv.sn_u.shape).astype(np.float32)
    conv.kernel.assign(kernel)
    conv.sn_u.assign(u)
    convs[name] = (kernel, u)
  layer.gamma.assign(gamma)
  return layer, convs


def _convs(layer):
  return {"query": layer.query_conv, "key": layer.key_conv, "value": layer.value_conv,
          "output": layer.output_conv}


def test_matches_numpy_reference():
  rng = np.random.default_rng(0)
  layer, convs = make_layer(rng, gamma=0.7)
  x = rng.standard_normal((B, H, W, C)).astype(np.float32)
  y, attention = layer(x, return_attention=True)
  y_ref, att_ref, o_ref, _ = np_self_attention(x, convs, 0.7)
  assert np.max(np.abs(o_ref)) > 0.1  # the attention branch contributes visibly
  assert np.max(np.abs(y.numpy() - y_ref)) < 1e-4
  assert np.max(np.abs(attention.numpy() - att_ref)) < 1e-4
  # Default call returns the output alone.
  assert np.max(np.abs(layer(x).numpy() - y_ref)) < 1e-4


def test_update_u_moves_every_u_as_numpy():
  rng = np.random.default_rng(1)
  layer, convs = make_layer(rng)
  x = rng.standard_normal((B, H, W, C)).astype(np.float32)
  layer(x)
  for name, conv in _convs(layer).items():
    np.testing.assert_array_equal(conv.sn_u.numpy(), convs[name][1])
  layer(x, update_u=True)
  _, _, _, new_u = np_self_attention(x, convs, 0.7)
  for name, conv in _convs(layer).items():
    np.testing.assert_allclose(conv.sn_u.numpy(), new_u[name], rtol=1e-4, atol=1e-6)
    assert np.max(np.abs(conv.sn_u.numpy() - convs[name][1])) > 1e-3


def test_gamma_zero_is_identity():
  rng = np.random.default_rng(2)
  layer, _ = make_layer(rng, gamma=0.0)
  x = rng.standard_normal((B, H, W, C)).astype(np.float32)
  np.testing.assert_array_equal(layer(x).numpy(), x)
  # gamma is initialised to 0: a fresh block starts as the identity.
  fresh = SelfAttention()
  np.testing.assert_array_equal(fresh(x).numpy(), x)
  assert float(fresh.gamma.numpy()) == 0.0 and fresh.gamma.trainable


def test_attention_map_shape_and_rows_sum_to_one():
  rng = np.random.default_rng(3)
  layer, _ = make_layer(rng)
  x = rng.standard_normal((B, H, W, C)).astype(np.float32)
  _, attention = layer(x, return_attention=True)
  assert attention.shape == (B, H * W, H * W // 4)
  assert attention.dtype == tf.float32
  a = attention.numpy()
  assert np.all(a >= 0)
  np.testing.assert_allclose(a.sum(axis=-1), 1.0, atol=1e-5)


def test_gradients_reach_gamma_and_kernels():
  rng = np.random.default_rng(4)
  layer, convs = make_layer(rng, gamma=0.0)  # gamma = 0: the gradient still reaches gamma
  x = rng.standard_normal((B, H, W, C)).astype(np.float32)
  up = rng.standard_normal((B, H, W, C)).astype(np.float32)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x) * up)
  grads = tape.gradient(loss, [layer.gamma] + [c.kernel for c in _convs(layer).values()])
  _, _, o_ref, _ = np_self_attention(x, convs, 0.0)
  # d loss / d gamma = sum(up * o).
  expected = float(np.sum(up * o_ref))
  assert abs(expected) > 1e-2
  assert abs(float(grads[0]) - expected) < 1e-3 * max(1.0, abs(expected))
  # With gamma != 0 every kernel gets a gradient.
  layer.gamma.assign(0.7)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x) * up)
  for g in tape.gradient(loss, [c.kernel for c in _convs(layer).values()]):
    assert g is not None and np.max(np.abs(g.numpy())) > 0


@pytest.mark.parametrize("shape,match", [
    ((None, 4, 4, 12), "divisible by 8"),
    ((None, 4, 4, 4), "divisible by 8"),
    ((None, 5, 4, 16), "even"),
])
def test_bad_shapes_raise(shape, match):
  with pytest.raises(ValueError, match=match):
    SelfAttention().build(shape)


def test_get_config():
  layer = SelfAttention(power_iterations=2, stop_gradient=True, name="attn")
  config = layer.get_config()
  assert config["power_iterations"] == 2 and config["stop_gradient"] is True
  assert SelfAttention.from_config(config).get_config() == config
