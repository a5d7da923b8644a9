"""Generator and Discriminator: shapes at every resolution, a numpy forward pass of the authors'
architecture at a tiny width, parameter counts of the paper's 128x128 nets, seeded initial
weights equal to those of the call-traced builds before build() existed, input errors, which
state each call moves, and XLA compilation."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import numpy_reference
from sagan_tf.layers import (ConditionalBatchNorm, PlainConv2D, PlainDense, SelfAttention,
                             SNConv2D, SNDense, SNEmbedding)
from sagan_tf.architectures import SUPPORTED_RESOLUTIONS
from sagan_tf.models import Discriminator, Generator, clone as clone_model
from sagan_tf.models.discriminator import DBlock
from sagan_tf.models.generator import GBlock

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

Z = 16  # z width of the small models


def small_g(resolution=32, num_classes=3, attention=(), ch=8, **kwargs):
  return Generator(resolution, ch=ch, z_dim=Z, num_classes=num_classes,
                   attention_resolutions=attention, **kwargs)


def small_d(resolution=32, num_classes=3, attention=(), ch=8, **kwargs):
  return Discriminator(resolution, ch=ch, num_classes=num_classes,
                       attention_resolutions=attention, **kwargs)


def inputs(rng, batch=2, resolution=32, num_classes=3):
  z = rng.standard_normal((batch, Z)).astype(np.float32)
  x = rng.uniform(-1, 1, (batch, resolution, resolution, 3)).astype(np.float32)
  labels = rng.integers(0, max(num_classes, 1), batch).astype(np.int32)
  return z, x, labels


def n_params(model):
  return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def state(model):
  return {w.path: w.numpy().copy() for w in model.weights}


# ----------------------------------------------------------------------------------------------
# shapes


def test_supported_resolutions():
  assert tuple(SUPPORTED_RESOLUTIONS) == (32, 64, 128, 256)


@pytest.mark.parametrize("resolution,num_classes", [(32, 0), (64, 5), (128, 0), (256, 5)])
def test_every_resolution_builds_and_has_the_right_outputs(resolution, num_classes):
  rng = np.random.default_rng(resolution + num_classes)
  g = small_g(resolution, num_classes)
  d = small_d(resolution, num_classes)
  z, _, labels = inputs(rng, 2, resolution, num_classes)
  lab = labels if num_classes else None
  images = g(z, lab, training=True)
  assert images.shape == (2, resolution, resolution, 3) and images.dtype == tf.float32
  images = g(z, lab).numpy()  # inference
  assert images.shape == (2, resolution, resolution, 3)
  assert np.all(np.abs(images) <= 1.0) and np.all(np.isfinite(images))
  logits = d(images, lab)
  assert logits.shape == (2,) and logits.dtype == tf.float32
  assert np.all(np.isfinite(logits.numpy()))
  if not num_classes:
    assert d.embedding is None
    # Unconditional nets ignore labels.
    np.testing.assert_array_equal(d(images, np.array([0, 7])).numpy(), logits.numpy())
    np.testing.assert_array_equal(g(z, np.array([0, 7])).numpy(), images)


@pytest.mark.parametrize("g_attention,d_attention", [((), (16, 8)), ((8, 32, 64), ())])
def test_attention_subsets_and_maps(g_attention, d_attention):
  rng = np.random.default_rng(0)
  g = small_g(64, attention=g_attention)
  d = small_d(64, attention=d_attention)
  z, _, labels = inputs(rng, 2, 64)
  images, g_maps = g(z, labels, return_attention=True)
  logits, d_maps = d(images, labels, return_attention=True)
  assert images.shape == (2, 64, 64, 3) and logits.shape == (2,)
  assert sorted(g_maps) == sorted(f"attention{r}" for r in g_attention)
  assert sorted(d_maps) == sorted(f"attention{r}" for r in d_attention)
  for maps in (g_maps, d_maps):
    for name, a in maps.items():
      r = int(name[len("attention"):])
      assert a.shape == (2, r * r, r * r // 4) and a.dtype == tf.float32
      np.testing.assert_allclose(a.numpy().sum(-1), 1.0, atol=1e-5)
  # One trainable gamma per attention block.
  for model, attn in ((g, g_attention), (d, d_attention)):
    gammas = [w for w in model.trainable_weights if w.path.endswith("/gamma")
              and "/attention" in w.path]
    assert len(gammas) == len(attn)


# ----------------------------------------------------------------------------------------------
# numpy forward passes of the authors' networks (resolution 32, ch 8)


def l2n(x):
  return x / (np.sqrt(np.sum(np.square(x))) + 1e-12)


def sn(p, prefix, transpose=False):
  """W / sigma after one power iteration from the stored u (float64), and the new u; for a
  layer without u (a generator without spectral norm) the raw W and None."""
  w = p[prefix + "/kernel"] if not transpose else p[prefix + "/embeddings"].T
  w = w.astype(np.float64)
  if prefix + "/sn_u" not in p:
    return w, None
  m = w.reshape(-1, w.shape[-1])
  u = p[prefix + "/sn_u"].astype(np.float64)
  v = l2n(u @ m.T)
  u1 = l2n(v @ m)
  return w / (v @ m @ u1.T)[0, 0], u1


def conv(p, prefix, x):
  w, _ = sn(p, prefix)
  out = numpy_reference.conv2d_same(x, w)
  bias = p.get(prefix + "/bias")
  return out if bias is None else out + bias


def relu(x):
  return np.maximum(x, 0.0)


def up(x):
  return x.repeat(2, axis=1).repeat(2, axis=2)


def avgpool(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def maxpool(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def attention(p, prefix, x):
  b, h, w, c = x.shape
  q = conv(p, prefix + "/query", x).reshape(b, h * w, c // 8)
  k = maxpool(conv(p, prefix + "/key", x)).reshape(b, -1, c // 8)
  v = maxpool(conv(p, prefix + "/value", x)).reshape(b, -1, c // 2)
  logits = np.einsum("bnd,bmd->bnm", q, k)
  a = np.exp(logits - logits.max(-1, keepdims=True))
  a /= a.sum(-1, keepdims=True)
  o = conv(p, prefix + "/output", np.einsum("bnm,bmd->bnd", a, v).reshape(b, h, w, c // 2))
  return x + p[prefix + "/gamma"] * o


def batch_norm(p, prefix, x, labels):
  mean = x.mean(axis=(0, 1, 2))
  var = x.var(axis=(0, 1, 2))
  gamma, beta = p[prefix + "/gamma"], p[prefix + "/beta"]
  if labels is not None:
    gamma, beta = gamma[labels][:, None, None, :], beta[labels][:, None, None, :]
  return gamma * (x - mean) / np.sqrt(var + 1e-5) + beta


def np_generator_32(p, z, labels, attention_after=1):
  """SNGAN/SAGAN CIFAR G with ch 8, training mode (batch moments), attention after block 1."""
  h = z @ sn(p, "generator/linear")[0] + p["generator/linear/bias"]
  h = h.reshape(-1, 4, 4, 8)
  for i in range(3):
    b = f"generator/block{i}"
    x0 = h
    h = conv(p, b + "/conv1", up(relu(batch_norm(p, b + "/bn1", h, labels))))
    h = conv(p, b + "/conv2", relu(batch_norm(p, b + "/bn2", h, labels)))
    h = h + conv(p, b + "/shortcut", up(x0))
    if i == attention_after:
      h = attention(p, "generator/attention16", h)
  h = relu(batch_norm(p, "generator/head_bn", h, None))
  return np.tanh(conv(p, "generator/head_conv", h))


def np_discriminator_32(p, x, labels):
  """SNGAN/SAGAN CIFAR D with ch 8: optimized block, down block (attention at 16 after the
  first block), two blocks without downsampling or shortcut; ReLU, sum, SN linear, projection."""
  x = x.astype(np.float64)
  h = conv(p, "discriminator/block0/conv2", relu(conv(p, "discriminator/block0/conv1", x)))
  h = avgpool(h) + conv(p, "discriminator/block0/shortcut", avgpool(x))
  h = attention(p, "discriminator/attention16", h)
  for i, down in ((1, True), (2, False), (3, False)):
    b = f"discriminator/block{i}"
    x0 = h
    h = conv(p, b + "/conv2", relu(conv(p, b + "/conv1", relu(h))))
    if down:
      h = avgpool(h) + avgpool(conv(p, b + "/shortcut", x0))
    else:
      assert b + "/shortcut/kernel" not in p  # same width, no downsampling: identity shortcut
      h = h + x0
  h = relu(h).sum(axis=(1, 2))
  out = (h @ sn(p, "discriminator/linear")[0] + p["discriminator/linear/bias"])[:, 0]
  emb = sn(p, "discriminator/embedding", transpose=True)[0].T  # [num_classes, C]
  return out + np.sum(h * emb[labels], axis=1)


def _randomize(model, rng):
  """Nonzero attention gamma, random BN tables and biases, so every path shows in the output."""
  for w in model.weights:
    name = w.path
    if name.endswith("/gamma"):
      w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
    elif name.endswith("/beta") or name.endswith("/bias"):
      w.assign(0.1 * rng.standard_normal(w.shape).astype(np.float32))


def test_generator_matches_numpy_reference():
  rng = np.random.default_rng(1)
  g = small_g(32, num_classes=3, attention=(16,)).build_weights()
  _randomize(g, rng)
  z, _, _ = inputs(rng, 4)
  labels = np.array([0, 2, 1, 2], np.int32)
  p = state(g)
  ref = np_generator_32(p, z.astype(np.float64), labels)
  out = g(z, labels, training=True).numpy()
  assert np.std(ref) > 0.05
  assert np.max(np.abs(out - ref)) < 1e-4
  # Training moved every u to its one-iteration value.
  after = state(g)
  for name in p:
    if name.endswith("/sn_u"):
      np.testing.assert_allclose(after[name], sn(p, name[:-len("/sn_u")])[1], rtol=1e-4,
                                 atol=1e-6, err_msg=name)


def test_generator_without_spectral_norm_matches_numpy_reference():
  # The same reference with every W used as stored (no u, no sigma). Kernels are scaled so
  # that their spectral norms are far from 1: a normalized layer would give other images.
  rng = np.random.default_rng(3)
  keras.utils.set_random_seed(3)
  g = small_g(32, num_classes=3, attention=(16,), spectral_norm=False).build_weights()
  _randomize(g, rng)
  for w in g.weights:
    if w.path.endswith("/kernel"):
      w.assign(2.0 * w.numpy())
  head = g.head_conv.kernel.numpy()
  assert np.linalg.svd(head.reshape(-1, 3), compute_uv=False)[0] > 2.0
  z, _, _ = inputs(rng, 4)
  labels = np.array([1, 0, 2, 2], np.int32)
  p = state(g)
  assert not any(name.endswith("/sn_u") for name in p)
  ref = np_generator_32(p, z.astype(np.float64), labels)
  out = g(z, labels, training=True).numpy()
  assert np.std(ref) > 0.05
  # float32 against float64 through larger pre-tanh values than the SN net's: 2e-4.
  assert np.max(np.abs(out - ref)) < 2e-4


def test_generator_without_spectral_norm_has_the_sn_generators_trainable_weights_only():
  with_sn = small_g(32, num_classes=3, attention=(16,)).build_weights()
  plain = small_g(32, num_classes=3, attention=(16,), spectral_norm=False).build_weights()
  layers = lambda m: m._flatten_layers(include_self=False, recursive=True)
  sn_layers = [l for l in layers(with_sn) if isinstance(l, (SNConv2D, SNDense, SNEmbedding))]
  plain_layers = [l for l in layers(plain) if isinstance(l, (PlainConv2D, PlainDense))]
  assert not [l for l in layers(plain) if isinstance(l, (SNConv2D, SNDense, SNEmbedding))]
  assert [l.path for l in plain_layers] == [l.path for l in sn_layers]
  assert len(plain_layers) == 3 * 3 + 4 + 2  # 3 blocks, 4 attention convs, linear and head
  described = lambda ws: [(w.path, tuple(w.shape)) for w in ws]
  assert described(plain.trainable_weights) == described(with_sn.trainable_weights)
  assert n_params(plain) == n_params(with_sn) > 0
  # Non-trainable: the BN moving statistics, and no u.
  assert described(plain.non_trainable_weights) == [
      d for d in described(with_sn.non_trainable_weights) if not d[0].endswith("/sn_u")]
  assert all(w.path.endswith(("/moving_mean", "/moving_variance"))
             for w in plain.non_trainable_weights)
  # A training pass moves only the BN statistics.
  before = state(plain)
  plain(np.ones((2, Z), np.float32), np.array([0, 1]), training=True)
  moved = [k for k, v in state(plain).items() if not np.array_equal(v, before[k])]
  assert moved and all(k.endswith(("/moving_mean", "/moving_variance")) for k in moved)


def test_generator_without_spectral_norm_round_trips_and_clones():
  g = small_g(32, num_classes=3, attention=(16,), spectral_norm=False).build_weights()
  assert g.get_config()["spectral_norm"] is False
  assert small_g(32).get_config()["spectral_norm"] is True  # the authors' default
  for copy in (Generator.from_config(g.get_config()).build_weights(), clone_model(g),
               keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(g))):
    copy.build_weights()
    assert copy.spectral_norm is False and copy.get_config() == g.get_config()
    assert [w.path for w in copy.weights] == [w.path for w in g.weights]
  block = GBlock(16, 4, None, dict(momentum=0.9, cross_replica=False), name="block")
  rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block))
  assert rebuilt.get_config() == block.get_config() and rebuilt.get_config()["sn"] is None


def test_generator_without_spectral_norm_under_mixed_bfloat16():
  try:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    g = small_g(32, num_classes=3, attention=(16,), spectral_norm=False).build_weights()
  finally:
    keras.mixed_precision.set_global_policy("float32")
  images = g(np.zeros((2, Z), np.float32), np.array([0, 2]), training=True)
  assert images.dtype == tf.float32 and images.shape == (2, 32, 32, 3)
  assert {w.dtype for w in g.weights} == {"float32"}


def test_discriminator_matches_numpy_reference():
  rng = np.random.default_rng(2)
  d = small_d(32, num_classes=3, attention=(16,)).build_weights()
  _randomize(d, rng)
  _, x, _ = inputs(rng, 4)
  labels = np.array([2, 0, 1, 1], np.int32)
  p = state(d)
  ref = np_discriminator_32(p, x, labels)
  out = d(x, labels).numpy()
  assert np.std(ref) > 0.05
  np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------------------------
# the paper's 128x128 networks


def test_parameter_counts_of_the_authors_128_networks():
  g = Generator(128, ch=64, z_dim=128, num_classes=1000, attention_resolutions=(32,))
  g.build_weights()
  assert abs(n_params(g) / 42.08e6 - 1) < 0.005, n_params(g)
  del g
  d = Discriminator(128, ch=64, num_classes=1000, attention_resolutions=(32,))
  d.build_weights()
  assert abs(n_params(d) / 39.46e6 - 1) < 0.005, n_params(d)


def test_seeded_initial_weights_equal_those_of_the_traced_builds():
  # build() creates each layer's variables in call order without tracing; the fixture was made
  # when a traced first call created them (tests/fixtures/initial_weights/make.py says how):
  # every variable must take the same seeded draws, so older seeded runs reproduce.
  folder = os.path.join(FIXTURES, "initial_weights")
  spec = importlib.util.spec_from_file_location("make_initial_weights",
                                                os.path.join(folder, "make.py"))
  make = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(make)
  with open(os.path.join(folder, "initial_weights.json")) as f:
    expected = json.load(f)
  got = make.fingerprints()
  assert sorted(got) == sorted(expected)
  wrong = [k for k in expected if not np.allclose(got[k], expected[k], rtol=1e-6, atol=1e-6)]
  assert not wrong, wrong[:5]


# ----------------------------------------------------------------------------------------------
# bad inputs


@pytest.mark.parametrize("cls", [Generator, Discriminator])
def test_unsupported_resolution(cls):
  with pytest.raises(ValueError, match=r"48.*\[32, 64, 128, 256\]"):
    cls(48, ch=8, num_classes=0, attention_resolutions=())


@pytest.mark.parametrize("cls,resolution,attention", [
    (Generator, 32, (64,)), (Generator, 64, (4,)), (Generator, 128, (32, 7)),
    (Discriminator, 32, (32,)), (Discriminator, 64, (64,)), (Discriminator, 128, (2,)),
])
def test_attention_resolution_not_present(cls, resolution, attention):
  with pytest.raises(ValueError, match="attention"):
    cls(resolution, ch=8, num_classes=0, attention_resolutions=attention)


def test_labels_out_of_range():
  rng = np.random.default_rng(3)
  g, d = small_g(), small_d()
  z, x, _ = inputs(rng)
  for bad in ([0, 3], [-1, 0]):
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
      g(z, np.array(bad))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
      d(x, np.array(bad))
  with pytest.raises(ValueError, match="labels"):
    g(z)  # conditional model without labels
  g_fn = tf.function(lambda z, l: g(z, l))
  d_fn = tf.function(lambda x, l: d(x, l))
  g_fn(z, tf.constant([0, 2]))
  d_fn(x, tf.constant([0, 2]))
  for bad in ([0, 3], [-1, 0]):
    # The model's own check (not a failing gather further on) raises.
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be in"):
      g_fn(z, tf.constant(bad))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be in"):
      d_fn(x, tf.constant(bad))


def test_wrong_input_widths():
  rng = np.random.default_rng(4)
  g, d = small_g(), small_d()
  _, x, labels = inputs(rng)
  with pytest.raises(ValueError, match=rf"z .*\[batch, {Z}\]"):
    g(np.zeros((2, Z + 1), np.float32), labels)
  with pytest.raises(ValueError, match=r"images .*\[batch, 32, 32, 3\]"):
    d(np.zeros((2, 64, 64, 3), np.float32), labels)


# ----------------------------------------------------------------------------------------------
# which state each call moves


def _moved(before, after, suffix):
  names = [n for n in before if n.endswith(suffix)]
  assert names
  return {n: not np.array_equal(before[n], after[n]) for n in names}


def test_generator_training_moves_u_and_bn_stats_inference_moves_nothing():
  rng = np.random.default_rng(5)
  g = small_g(32, attention=(16,)).build_weights()
  z, _, labels = inputs(rng, 4)
  before = state(g)
  g(z, labels, training=False)
  g(z, labels)
  after = state(g)
  for name in before:
    np.testing.assert_array_equal(after[name], before[name], err_msg=name)
  g(z, labels, training=True)
  after = state(g)
  for suffix in ("/sn_u", "/moving_mean", "/moving_variance"):
    moved = _moved(before, after, suffix)
    assert all(moved.values()), [n for n, m in moved.items() if not m]
  for w in g.trainable_weights:  # a forward pass never touches trainable weights
    np.testing.assert_array_equal(w.numpy(), before[w.path])
  # Explicit update_u=False in training: BN stats move, u does not.
  before = state(g)
  g(z, labels, training=True, update_u=False)
  after = state(g)
  assert not any(_moved(before, after, "/sn_u").values())
  assert all(_moved(before, after, "/moving_mean").values())


def test_discriminator_update_u():
  rng = np.random.default_rng(6)
  d = small_d(32, attention=(16,)).build_weights()
  _, x, labels = inputs(rng, 4)
  before = state(d)
  d(x, labels)
  d(x, labels, training=True, update_u=False)
  after = state(d)
  for name in before:
    np.testing.assert_array_equal(after[name], before[name], err_msg=name)
  d(x, labels, update_u=True)
  after = state(d)
  moved = _moved(before, after, "/sn_u")
  assert len(moved) == 4 * 2 + 2 + 4 + 2  # convs (+ 2 shortcuts), attention, linear, embedding
  assert all(moved.values()), [n for n, m in moved.items() if not m]
  for w in d.trainable_weights:
    np.testing.assert_array_equal(w.numpy(), before[w.path])


# ----------------------------------------------------------------------------------------------
# saving


def test_checkpoint_and_config_round_trip(tmp_path):
  """tf.train.Checkpoint saves every variable of G and D (blocks and attention included) and
  restores them into fresh models built from get_config()."""
  rng = np.random.default_rng(9)
  g = small_g(32, attention=(16,)).build_weights()
  d = small_d(32, attention=(16,)).build_weights()
  for model in (g, d):
    _randomize(model, rng)
  path = tf.train.Checkpoint(generator=g, discriminator=d).save(str(tmp_path / "ckpt"))
  saved = [n for n, _ in tf.train.list_variables(path) if n.endswith("VARIABLE_VALUE")]
  assert len(saved) >= len(g.weights) + len(d.weights)
  g2 = Generator.from_config(g.get_config()).build_weights()
  d2 = Discriminator.from_config(d.get_config()).build_weights()
  assert g2.get_config() == g.get_config() and d2.get_config() == d.get_config()
  tf.train.Checkpoint(generator=g2, discriminator=d2).restore(path).assert_consumed()
  for a, b in zip(g.weights + d.weights, g2.weights + d2.weights):
    assert a.path == b.path
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
  z, x, labels = inputs(rng)
  np.testing.assert_array_equal(g2(z, labels).numpy(), g(z, labels).numpy())
  np.testing.assert_array_equal(d2(x, labels).numpy(), d(x, labels).numpy())


def test_config_has_the_keras_keys_and_rebuilds_an_equal_model():
  """get_config goes through super(): name, trainable and dtype, plus the constructor's
  arguments; from_config and cls(**config) rebuild the same variables, also when the global
  dtype policy differs from the one the model was made with."""
  g = small_g(32, num_classes=4, attention=(16,), bn_momentum=0.9, attention_impl="naive")
  d = small_d(32, num_classes=4, attention=(16,), sn_power_iterations=2)
  for model in (g, d):
    model.build_weights()
    config = model.get_config()
    assert {"name", "trainable", "dtype"} <= set(config)
    for clone in (type(model).from_config(config), type(model)(**config)):
      clone.build_weights()
      assert clone.get_config() == config
      assert [(w.path, tuple(w.shape), w.trainable) for w in clone.weights] == [
          (w.path, tuple(w.shape), w.trainable) for w in model.weights]
  assert g.get_config()["bn_momentum"] == 0.9 and d.get_config()["sn_power_iterations"] == 2
  try:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    g = small_g(32, num_classes=4, attention=(16,)).build_weights()
  finally:
    keras.mixed_precision.set_global_policy("float32")
  clone = Generator.from_config(g.get_config()).build_weights()
  policies = lambda m: [layer.dtype_policy.name for layer in m._flatten_layers()]
  assert set(policies(g)) == {"mixed_bfloat16"} and policies(clone) == policies(g)
  assert [w.dtype for w in clone.weights] == [w.dtype for w in g.weights]


@pytest.mark.parametrize("cls", [SNConv2D, SNDense, SNEmbedding, SelfAttention,
                                 ConditionalBatchNorm, GBlock, DBlock, Generator, Discriminator])
def test_every_layer_and_model_is_registered(cls):
  assert keras.saving.get_registered_name(cls) == f"sagan_tf>{cls.__name__}"
  assert keras.saving.get_registered_object(f"sagan_tf>{cls.__name__}") is cls


@pytest.mark.parametrize("cls", [GBlock, DBlock])
def test_block_config_round_trip(cls):
  sn = dict(power_iterations=2, stop_gradient=True)
  block = (GBlock(16, 4, sn, dict(momentum=0.9, cross_replica=False), name="block")
           if cls is GBlock else DBlock(16, True, False, sn, name="block"))
  config = block.get_config()
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block))
  assert type(clone) is type(block) and clone.get_config() == config


def _move_state(g, d, rng):
  """Random weights, then training passes: every u and BN moving statistic leaves its
  initial value."""
  for model in (g, d):
    _randomize(model, rng)
  z, x, labels = inputs(rng, 4, num_classes=4)
  for _ in range(2):
    g(z, labels, training=True)
    d(x, labels, update_u=True)


def test_keras_file_round_trip(tmp_path):
  """keras.saving.save_model / load_model of a tiny G and D: the loaded models have the same
  class, config, variable paths and values (u vectors and BN moving statistics included) and
  give the same outputs."""
  rng = np.random.default_rng(10)
  g = small_g(32, ch=8, num_classes=4, attention=(16,)).build_weights()
  d = small_d(32, ch=8, num_classes=4, attention=(16,)).build_weights()
  fresh = {w.path: w.numpy() for model in (small_g(32, ch=8, num_classes=4, attention=(16,)),
                                          small_d(32, ch=8, num_classes=4, attention=(16,)))
           for w in model.build_weights().weights}
  _move_state(g, d, rng)
  loaded = []
  for model in (g, d):
    path = str(tmp_path / f"{model.name}.keras")
    keras.saving.save_model(model, path)
    loaded.append(keras.saving.load_model(path))
  g2, d2 = loaded
  assert type(g2) is Generator and type(d2) is Discriminator
  assert g2.get_config() == g.get_config() and d2.get_config() == d.get_config()
  state_names = set()
  for a, b in zip(g.weights + d.weights, g2.weights + d2.weights, strict=True):
    assert a.path == b.path
    np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)
    if a.path.endswith(("/sn_u", "/moving_mean", "/moving_variance")):
      assert not np.array_equal(b.numpy(), fresh[a.path]), a.path  # loaded, not initial
      state_names.add(a.path.rsplit("/", 1)[-1])
  assert state_names == {"sn_u", "moving_mean", "moving_variance"}
  z, x, labels = inputs(rng, 4, num_classes=4)
  np.testing.assert_array_equal(g2(z, labels, training=False, update_u=False).numpy(),
                                g(z, labels, training=False, update_u=False).numpy())
  (logits2, maps2), (logits, maps) = (
      model(x, labels, update_u=False, return_attention=True) for model in (d2, d))
  np.testing.assert_array_equal(logits2.numpy(), logits.numpy())
  np.testing.assert_array_equal(maps2["attention16"].numpy(), maps["attention16"].numpy())


# ----------------------------------------------------------------------------------------------
# XLA


def _restore(model, snapshot):
  for w in model.weights:
    w.assign(snapshot[w.path])


def _assert_xla_matches_eager(model, call, args, tolerance):
  """call(*args) compiled with XLA gives the eager output (within tolerance) and the same state
  updates (u, BN moving statistics), both starting from the same weights."""
  snapshot = state(model)
  eager = call(*args).numpy()
  eager_state = state(model)
  _restore(model, snapshot)
  xla = tf.function(call, jit_compile=True)(*[tf.constant(a) for a in args]).numpy()
  assert np.max(np.abs(xla - eager)) < tolerance(eager)
  xla_state = state(model)
  for name in snapshot:
    np.testing.assert_allclose(xla_state[name], eager_state[name], rtol=1e-4, atol=1e-5,
                               err_msg=name)


@pytest.mark.parametrize("training", [False, True])
def test_generator_xla_matches_eager(training):
  rng = np.random.default_rng(7)
  g = small_g(32, attention=(16,)).build_weights()
  _randomize(g, rng)
  z, _, labels = inputs(rng, 4)
  _assert_xla_matches_eager(g, lambda z, l: g(z, l, training=training), (z, labels),
                            lambda eager: 1e-4)


def test_discriminator_xla_matches_eager():
  # The real-data pass: the forward pass plus the u assigns.
  rng = np.random.default_rng(8)
  d = small_d(32, attention=(16,)).build_weights()
  _randomize(d, rng)
  _, x, labels = inputs(rng, 4)
  _assert_xla_matches_eager(d, lambda x, l: d(x, l, update_u=True), (x, labels),
                            lambda eager: 1e-4 * max(1.0, np.max(np.abs(eager))))
