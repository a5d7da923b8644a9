"""SelfAttention vs a plain numpy reference of the authors' block (sn_non_local_block_sim)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf import models as models_lib
from sagan_tf.layers import PlainConv2D, SelfAttention

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
  """convs: dict name -> (kernel, u), u None for a plain conv (the raw kernel). Returns
  (y, attention, o, {name: u'})."""
  x = x.astype(np.float64)
  b, h, w, c = x.shape
  mats, new_u = {}, {}
  for name, (kernel, u) in convs.items():
    if u is None:
      mats[name], new_u[name] = kernel.astype(np.float64).reshape(-1, kernel.shape[-1]), None
    else:
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


def test_without_spectral_norm_the_convs_are_plain_and_match_numpy():
  rng = np.random.default_rng(5)
  layer = SelfAttention(spectral_norm=False)
  layer.build((None, H, W, C))
  assert layer.get_config()["spectral_norm"] is False
  assert not layer.non_trainable_weights  # no u
  assert sorted(w.name for w in layer.trainable_weights) == ["gamma"] + ["kernel"] * 4
  convs = {}
  for name, conv in _convs(layer).items():
    assert type(conv) is PlainConv2D and conv.bias is None
    kernel = rng.standard_normal(conv.kernel.shape).astype(np.float32)
    conv.kernel.assign(kernel)
    convs[name] = (kernel, None)
  layer.gamma.assign(0.7)
  x = rng.standard_normal((B, H, W, C)).astype(np.float32)
  y, attention = layer(x, update_u=True, return_attention=True)
  y_ref, att_ref, o_ref, _ = np_self_attention(x, convs, 0.7)
  # The raw kernels have spectral norms far from 1: a normalized block would differ.
  assert min(np.linalg.svd(k.reshape(-1, k.shape[-1]), compute_uv=False)[0]
             for k, _ in convs.values()) > 2.0
  assert np.max(np.abs(o_ref)) > 0.1
  np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(attention.numpy(), att_ref, atol=1e-4)
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
  assert clone.get_config() == layer.get_config()
  assert [type(c) for c in _convs(clone).values()] == [PlainConv2D] * 4


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


def test_registered_and_rebuilt_with_the_same_weights():
  assert keras.saving.get_registered_name(SelfAttention) == "sagan_tf>SelfAttention"
  layer = SelfAttention(power_iterations=2, impl="naive", name="attn")
  layer.build((None, H, W, C))
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
  assert type(clone) is SelfAttention and clone.get_config() == layer.get_config()
  assert clone.built  # from the serialized build_config
  assert [(w.path, tuple(w.shape), w.trainable) for w in clone.weights] == [
      (w.path, tuple(w.shape), w.trainable) for w in layer.weights]
  assert clone.gamma.numpy() == 0.0  # gamma starts at 0: the block starts as the identity


def test_sublayers_take_the_layer_dtype_policy():
  layer = SelfAttention(dtype="mixed_bfloat16")
  layer.build((None, H, W, C))
  convs = (layer.query_conv, layer.key_conv, layer.value_conv, layer.output_conv)
  assert {conv.dtype_policy.name for conv in convs} == {"mixed_bfloat16"}
  assert {w.dtype for w in layer.weights} == {"float32"}


# ---------------------------------------------------------------- blocked implementation


def _layer_pair(rng, h, w, c, block):
  """A naive and a blocked SelfAttention with the same random weights (gamma 0.7)."""
  layers = []
  for impl in ("naive", "blocked"):
    layer = SelfAttention(impl=impl, query_block_size=block)
    layer.build((None, h, w, c))
    layers.append(layer)
  for name in ("query", "key", "value", "output"):
    conv = getattr(layers[0], f"{name}_conv")
    kernel = rng.standard_normal(conv.kernel.shape).astype(np.float32)
    u = rng.standard_normal(conv.sn_u.shape).astype(np.float32)
    for layer in layers:
      getattr(layer, f"{name}_conv").kernel.assign(kernel)
      getattr(layer, f"{name}_conv").sn_u.assign(u)
  for layer in layers:
    layer.gamma.assign(0.7)
  return layers


def _output_and_grads(layer, x, up, fn=None):
  """(y, [dL/dx, dL/dgamma, dL/dkernels...]) for L = sum(y * up), optionally under fn."""
  def run(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(y * up)
    return [y] + tape.gradient(loss, [x] + layer.trainable_variables)
  outs = (fn(run) if fn else run)(tf.constant(x))
  return [t.numpy() for t in outs]


def _close(got, want, tol=1e-5):
  """max |got - want| <= tol * max(1, max |want|) (a relative bound for large gradients)."""
  scale = max(1.0, float(np.max(np.abs(want))))
  assert np.max(np.abs(got - want)) <= tol * scale, (np.max(np.abs(got - want)), scale)


# N = H*W = 60 queries, 15 keys: blocks of 7 (do not divide N), 16, 60 (one block), 64 (> N), 1.
@pytest.mark.parametrize("block", [7, 16, 60, 64, 1])
def test_blocked_equals_naive_outputs_and_gradients(block):
  rng = np.random.default_rng(10 + block)
  naive, blocked = _layer_pair(rng, 6, 10, 16, block)
  assert not naive.uses_blocked(60) and blocked.uses_blocked(60)
  x = rng.standard_normal((3, 6, 10, 16)).astype(np.float32)
  up = rng.standard_normal((3, 6, 10, 16)).astype(np.float32)
  want = _output_and_grads(naive, x, up)
  got = _output_and_grads(blocked, x, up)
  assert len(got) == 7  # y, dx, gamma, four kernels
  for g, w in zip(got, want):
    _close(g, w)
  # The naive path itself is the numpy reference's (test_matches_numpy_reference).
  convs = {n: (getattr(naive, f"{n}_conv").kernel.numpy(), getattr(naive, f"{n}_conv").sn_u
               .numpy()) for n in ("query", "key", "value", "output")}
  y_ref, _, _, _ = np_self_attention(x, convs, 0.7)
  _close(got[0], y_ref, 1e-4)


def test_blocked_attention_function_matches_autodiff_of_softmax():
  # The function alone, against plain TF autodiff through softmax(q k^T) v: outputs and the
  # gradients to q, k, v, with B = 2, N = 37 queries (prime), M = 11 keys, blocks of 8.
  from sagan_tf.layers.attention import blocked_attention  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(11)
  q, k, v = (tf.constant(rng.standard_normal(s) * 2, tf.float32)
             for s in ((2, 37, 3), (2, 11, 3), (2, 11, 5)))
  up = tf.constant(rng.standard_normal((2, 37, 5)), tf.float32)

  def grads(fn):
    with tf.GradientTape() as tape:
      tape.watch([q, k, v])
      out = fn()
      loss = tf.reduce_sum(out * up)
    return [out] + tape.gradient(loss, [q, k, v])
  want = grads(lambda: tf.matmul(tf.nn.softmax(tf.matmul(q, k, transpose_b=True)), v))
  got = grads(lambda: blocked_attention(q, k, v, block_size=8))
  for g, w in zip(got, want):
    _close(g.numpy(), w.numpy())


def test_blocked_compiles_with_xla():
  rng = np.random.default_rng(12)
  naive, blocked = _layer_pair(rng, 6, 10, 16, 7)
  x = rng.standard_normal((2, 6, 10, 16)).astype(np.float32)
  up = rng.standard_normal((2, 6, 10, 16)).astype(np.float32)
  want = _output_and_grads(naive, x, up)
  got = _output_and_grads(blocked, x, up, fn=lambda f: tf.function(f, jit_compile=True))
  for g, w in zip(got, want):
    _close(g, w)


def test_blocked_under_mixed_precision_keeps_dtypes():
  # bfloat16 q, k, v (as under mixed_bfloat16): output and gradients in bfloat16, close to the
  # naive path's and to a float32 computation.
  from sagan_tf.layers.attention import (  # pylint: disable=import-outside-toplevel
      blocked_attention, naive_attention)
  rng = np.random.default_rng(13)
  q, k, v = (tf.constant(rng.standard_normal(s), tf.bfloat16)
             for s in ((2, 20, 2), (2, 5, 2), (2, 5, 8)))

  def grads(fn):
    with tf.GradientTape() as tape:
      tape.watch([q, k, v])
      out = fn()
      loss = tf.reduce_sum(tf.cast(out, tf.float32))
    return [out] + tape.gradient(loss, [q, k, v])
  want = grads(lambda: naive_attention(q, k, v)[0])
  got = grads(lambda: blocked_attention(q, k, v, block_size=6))
  q, k, v = (tf.cast(t, tf.float32) for t in (q, k, v))
  exact = grads(lambda: naive_attention(q, k, v)[0])
  for g, w, e in zip(got, want, exact):
    assert g.dtype == tf.bfloat16
    _close(tf.cast(g, tf.float32).numpy(), tf.cast(w, tf.float32).numpy(), 5e-2)
    _close(tf.cast(g, tf.float32).numpy(), e.numpy(), 5e-2)


def _fwd_bwd_peak_bytes(layer, x, repeats=3):
  """Peak bytes of TF's CPU allocator over one forward + backward of layer (under tf.function):
  the least of `repeats` steps (one step in four of a run on an AMD EPYC held about 48 MiB
  more, some buffer of another allocation in the window; the least is the step's own)."""
  @tf.function
  def step(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.reduce_sum(layer(x))
    return tape.gradient(loss, [x] + layer.trainable_variables)
  step(x)  # trace and warm up
  peaks = []
  for _ in range(repeats):
    tf.config.experimental.reset_memory_stats("CPU:0")
    base = tf.config.experimental.get_memory_info("CPU:0")["current"]  # live before the step
    step(x)
    peaks.append(tf.config.experimental.get_memory_info("CPU:0")["peak"] - base)
  return min(peaks)


def test_blocked_never_holds_the_whole_map_and_auto_switches():
  # 64x64 positions, batch 2: the map is 2 x 4096 x 1024 float32 = 32 MiB. Naive forward +
  # backward holds at least that more than blocked (blocks of 128 queries: 1 MiB), and "auto"
  # follows auto_min_positions. (Allocator bytes, not time.) The peaks also hold the 1x1
  # convolutions' work buffers, which depend on the CPU and oneDNN (about 32 MiB on an AMD
  # EPYC with AVX2, about 0 on an Intel AMX machine), the same for every impl: so the impls are
  # compared with each other, not with an absolute bound.
  x = tf.random.stateless_normal([2, 64, 64, 8], [0, 1])
  map_bytes = 2 * 4096 * 1024 * 4

  def peak(**kwargs):
    layer = SelfAttention(query_block_size=128, **kwargs)
    layer.build(x.shape)
    layer.gamma.assign(1.0)
    return _fwd_bwd_peak_bytes(layer, x)
  blocked = peak(impl="blocked")
  assert peak(impl="naive") > blocked + 0.75 * map_bytes
  assert peak(impl="auto", auto_min_positions=4095) < blocked + map_bytes / 4
  assert peak(impl="auto", auto_min_positions=4096) > blocked + 0.75 * map_bytes


def test_blocked_layer_returns_the_map_on_request():
  rng = np.random.default_rng(14)
  naive, blocked = _layer_pair(rng, 4, 6, 16, 5)
  x = rng.standard_normal((2, 4, 6, 16)).astype(np.float32)
  y_n, a_n = naive(x, return_attention=True)
  y_b, a_b = blocked(x, return_attention=True)
  np.testing.assert_allclose(a_b.numpy(), a_n.numpy(), atol=1e-6)
  np.testing.assert_allclose(y_b.numpy(), y_n.numpy(), atol=1e-5)
  assert a_b.shape == (2, 24, 6) and a_b.dtype == tf.float32


def test_impl_arguments_round_trip_and_errors():
  layer = SelfAttention(impl="blocked", query_block_size=33, auto_min_positions=99)
  config = layer.get_config()
  assert (config["impl"], config["query_block_size"], config["auto_min_positions"]) == (
      "blocked", 33, 99)
  assert SelfAttention.from_config(config).get_config() == config
  assert SelfAttention().impl == "auto"
  auto = SelfAttention()
  assert not auto.uses_blocked(64 * 64) and auto.uses_blocked(128 * 128)
  with pytest.raises(ValueError, match="impl='fast'.*'auto', 'naive', 'blocked'"):
    SelfAttention(impl="fast")
  with pytest.raises(ValueError, match="query_block_size=0 must be >= 1"):
    SelfAttention(query_block_size=0)


def test_config_passes_the_impl_to_every_attention_layer():
  c = config_lib.base_config()
  c.update(resolution=32, g_ch=16, d_ch=16, num_classes=3, g_attention=(16,), d_attention=(16,),
           attention_impl="blocked", attention_query_block=40)
  g, d = models_lib.build_models(c, build=False)
  layers = list(g.attention.values()) + list(d.attention.values())
  assert len(layers) == 2
  assert all(l.impl == "blocked" and l.query_block_size == 40 for l in layers)
  assert g.get_config()["attention_impl"] == d.get_config()["attention_impl"] == "blocked"
  assert g.get_config()["attention_query_block"] == 40
  for bad, match in ((dict(attention_impl="fast"), "attention_impl='fast'"),
                     (dict(attention_query_block=0), "attention_query_block=0 must be >= 1")):
    c2 = config_lib.base_config()
    c2.update(bad)
    with pytest.raises(ValueError, match=match):
      config_lib.validate(c2)


def test_models_with_blocked_attention_equal_naive():
  # A 32 px G and D at ch 8 with attention at 16x16 (N = 256) in both, blocks of 40 queries:
  # same images, logits and gradients as naive; the maps are still returned on request.
  results, weights = [], None
  for impl in ("naive", "blocked"):
    c = config_lib.base_config()
    c.update(resolution=32, g_ch=8, d_ch=8, num_classes=3, g_attention=(16,),
             d_attention=(16,), attention_impl=impl, attention_query_block=40)
    g, d = models_lib.build_models(c)
    if weights is None:
      for layer in list(g.attention.values()) + list(d.attention.values()):
        layer.gamma.assign(0.5)
      weights = (g.get_weights(), d.get_weights())
    g.set_weights(weights[0])
    d.set_weights(weights[1])
    z = tf.random.stateless_normal([4, c.z_dim], [1, 2])
    labels = tf.constant([0, 1, 2, 1])
    with tf.GradientTape() as tape:
      images = g(z, labels, training=True, update_u=False)
      logits = d(images, labels)
      loss = tf.reduce_sum(logits)
    grads = tape.gradient(loss, g.trainable_variables + d.trainable_variables)
    _, maps = g(z, labels, training=True, update_u=False, return_attention=True)
    # Without return_attention the models let the layers pick their path: a while loop over
    # query blocks appears in the graphs of G and D exactly when blocked.
    for fn in (lambda: g(z, labels, training=True, update_u=False), lambda: d(images, labels)):
      ops = {op.type for op in tf.function(fn).get_concrete_function().graph.get_operations()}
      assert bool(ops & {"While", "StatelessWhile"}) == (impl == "blocked"), ops
    grads = [tf.convert_to_tensor(t).numpy() for t in grads]  # embedding: IndexedSlices
    results.append([images.numpy(), logits.numpy()] + grads + [maps["attention16"].numpy()])
  # 3e-5: float32 sums in another order (query blocks), over up to B*H*W = 4096 terms; the
  # largest difference seen, 1.1e-5 (AMD EPYC, AVX-512 kernels), was in G biases that feed a BN,
  # whose true gradient is 0 (round-off only). A wrong block (a softmax over a block instead of
  # all keys, a missed query) moves images and gradients by orders of magnitude more.
  for got, want in zip(results[1], results[0]):
    _close(got, want, tol=3e-5)
