"""Spectral normalization layers vs independent numpy references (float64).

The reference algorithm (the SAGAN authors' code): W as a matrix [-1, out], u [1, out],
  v = l2n(u W^T), u' = l2n(v W), sigma = v W u'^T, W_bar = W / sigma, l2n(x) = x / (||x|| + 1e-12).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import numpy_reference
from sagan_tf.layers import SNConv2D, SNDense, SNEmbedding


# ----------------------------------------------------------------------------------------------
# numpy references


def l2n(x):
  return x / (np.sqrt(np.sum(np.square(x))) + 1e-12)


def np_power_iteration(w_mat, u, iterations=1):
  """Returns (sigma, u', v) of `iterations` power iterations, in float64."""
  w_mat = np.asarray(w_mat, np.float64)
  u = np.asarray(u, np.float64)
  for _ in range(iterations):
    v = l2n(u @ w_mat.T)
    u = l2n(v @ w_mat)
  sigma = float((v @ w_mat @ u.T)[0, 0])
  return sigma, u, v


def _kernel_var(layer):
  return layer.embeddings if isinstance(layer, SNEmbedding) else layer.kernel


def _normalized(layer):
  """layer.normalized(...) on what the layer normalizes: the kernel, or the table's transpose."""
  var = _kernel_var(layer)
  if isinstance(layer, SNEmbedding):
    return layer.normalized(tf.transpose(var), update_u=False)
  return layer.normalized(var, update_u=False)


def _matrix(layer):
  """The matrix the authors' code normalizes, computed in numpy from the raw variable."""
  w = _kernel_var(layer).numpy().astype(np.float64)
  if isinstance(layer, SNEmbedding):
    return w.T                    # the table is normalized as its transpose [out_dim, in_dim]
  return w.reshape(-1, w.shape[-1])


def make_layer(kind, rng, **kwargs):
  if kind == "dense":
    layer = SNDense(5, **kwargs)
    x = rng.standard_normal((3, 7)).astype(np.float32)
    layer.build((None, 7))
  elif kind == "conv":
    layer = SNConv2D(4, 3, **kwargs)
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    layer.build((None, 5, 6, 3))
  else:
    layer = SNEmbedding(6, 5, **kwargs)
    x = np.array([0, 5, 2, 2, 3], np.int32)
    layer.build((None,))
  # Random kernel, bias and u, so the test does not depend on the initializers.
  var = _kernel_var(layer)
  var.assign(rng.standard_normal(var.shape).astype(np.float32) * 0.3)
  if getattr(layer, "bias", None) is not None:
    layer.bias.assign(rng.standard_normal(layer.bias.shape).astype(np.float32))
  layer.sn_u.assign(rng.standard_normal(layer.sn_u.shape).astype(np.float32))
  return layer, x


def np_forward(layer, x, sigma):
  """The layer's output with W_bar = W / sigma, in numpy."""
  w = _kernel_var(layer).numpy().astype(np.float64)
  if isinstance(layer, SNDense):
    return x.astype(np.float64) @ (w / sigma) + layer.bias.numpy()
  if isinstance(layer, SNConv2D):
    return numpy_reference.conv2d_same(x.astype(np.float64), w / sigma) + layer.bias.numpy()
  return (w / sigma)[x]


KINDS = ["dense", "conv", "embedding"]


# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_sigma_converges_to_largest_singular_value(kind):
  rng = np.random.default_rng(1)
  layer, x = make_layer(kind, rng)
  s = np.linalg.svd(_matrix(layer), compute_uv=False)
  assert s[1] / s[0] < 0.9, "precondition: a clear spectral gap, so 150 iterations converge"
  for _ in range(150):
    layer(x, update_u=True)
  w_bar, sigma = _normalized(layer)
  assert abs(float(sigma) - s[0]) / s[0] < 1e-3
  # The normalized kernel has spectral norm ~1 (computed in numpy on W_bar's matrix form).
  w_bar = w_bar.numpy().astype(np.float64)
  m = w_bar.reshape(-1, w_bar.shape[-1])
  assert abs(numpy_reference.top_singular_value(m) - 1.0) < 1e-3
  # And the forward output uses it.
  np.testing.assert_allclose(layer(x).numpy(), np_forward(layer, x, s[0]), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_u_moves_only_with_update_u(kind):
  rng = np.random.default_rng(2)
  layer, x = make_layer(kind, rng)
  u0 = layer.sn_u.numpy().copy()
  layer(x, update_u=False)
  layer(x)  # default: no update
  _normalized(layer)
  np.testing.assert_array_equal(layer.sn_u.numpy(), u0)
  layer(x, update_u=True)
  assert np.max(np.abs(layer.sn_u.numpy() - u0)) > 1e-3


@pytest.mark.parametrize("iterations", [1, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_one_call_matches_numpy_power_iteration(kind, iterations):
  rng = np.random.default_rng(3)
  layer, x = make_layer(kind, rng, power_iterations=iterations)
  u0 = layer.sn_u.numpy().astype(np.float64)
  assert u0.shape == (1, _matrix(layer).shape[1])  # u is [1, out] ([1, input_dim] for embedding)
  sigma, u1, _ = np_power_iteration(_matrix(layer), u0, iterations)
  # Far from converged, so the test sees the one-step value, not the top singular value.
  assert abs(sigma - numpy_reference.top_singular_value(_matrix(layer))) > 1e-3 or iterations > 1

  y = layer(x, update_u=True).numpy()
  np.testing.assert_allclose(y, np_forward(layer, x, sigma), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(layer.sn_u.numpy(), u1, rtol=1e-4, atol=1e-6)
  # The returned sigma and W_bar agree too (stored u is now u1: one more iteration from there).
  w_bar, sigma_tf = _normalized(layer)
  sigma2, _, _ = np_power_iteration(_matrix(layer), u1, iterations)
  assert abs(float(sigma_tf) - sigma2) < 1e-5 * max(1.0, abs(sigma2))
  np.testing.assert_allclose(
      w_bar.numpy(), _kernel_var(layer).numpy().T / sigma2 if kind == "embedding"
      else _kernel_var(layer).numpy() / sigma2, rtol=1e-4, atol=1e-6)


def test_embedding_normalizes_the_transposed_table():
  """E [in, out] normalized as E^T: u is [1, in_dim] and the iteration runs on E^T."""
  rng = np.random.default_rng(4)
  layer, ids = make_layer("embedding", rng)
  e = layer.embeddings.numpy().astype(np.float64)
  u0 = layer.sn_u.numpy().astype(np.float64)
  sigma_t, _, _ = np_power_iteration(e.T, u0)
  y = layer(ids).numpy()
  np.testing.assert_allclose(y, e[ids] / sigma_t, rtol=1e-4, atol=1e-6)
  assert y.dtype == np.float32 and y.shape == (len(ids), 5)


# ----------------------------------------------------------------------------------------------
# gradients


def _dense_loss_and_grad(stop_gradient, w, b, u, x, g):
  layer = SNDense(w.shape[1], stop_gradient=stop_gradient)
  layer.build((None, w.shape[0]))
  layer.kernel.assign(w)
  layer.bias.assign(b)
  layer.sn_u.assign(u)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x) * g)
  return tape.gradient(loss, layer.kernel).numpy().astype(np.float64)


def _np_dense_loss(w, b, u, x, g):
  """The loss as a float64 function of W with the full power iteration (gradients through u, v)."""
  sigma, _, _ = np_power_iteration(w, u)
  return float(np.sum((x @ (w / sigma) + b) * g))


def test_gradients_flow_through_u_and_v_by_default_and_not_with_stop_gradient():
  rng = np.random.default_rng(5)
  w = rng.standard_normal((4, 3)).astype(np.float32)
  b = rng.standard_normal((3,)).astype(np.float32)
  u = rng.standard_normal((1, 3)).astype(np.float32)
  x = rng.standard_normal((2, 4)).astype(np.float32)
  g = rng.standard_normal((2, 3)).astype(np.float32)
  w64, b64, u64, x64, g64 = (a.astype(np.float64) for a in (w, b, u, x, g))

  grad_full = _dense_loss_and_grad(False, w, b, u, x, g)
  grad_stop = _dense_loss_and_grad(True, w, b, u, x, g)

  # Default: the gradient of the whole function of W, u0 fixed: central finite differences.
  eps = 1e-6
  fd = np.zeros_like(w64)
  for idx in np.ndindex(*w64.shape):
    wp, wm = w64.copy(), w64.copy()
    wp[idx] += eps
    wm[idx] -= eps
    fd[idx] = (_np_dense_loss(wp, b64, u64, x64, g64) - _np_dense_loss(wm, b64, u64, x64, g64)
               ) / (2 * eps)
  np.testing.assert_allclose(grad_full, fd, rtol=1e-3, atol=1e-4)

  # stop_gradient: sigma = v W u'^T with u', v constants, so d sigma / dW = v^T u'.
  sigma, u1, v = np_power_iteration(w64, u64)
  y_lin = x64 @ w64
  analytic = x64.T @ g64 / sigma - np.sum(g64 * y_lin) / sigma ** 2 * (v.T @ u1)
  np.testing.assert_allclose(grad_stop, analytic, rtol=1e-4, atol=1e-5)

  # The two modes really differ.
  assert np.max(np.abs(grad_full - grad_stop)) > 1e-2


# ----------------------------------------------------------------------------------------------
# validation and config


@pytest.mark.parametrize("bad", [0, -1])
def test_power_iterations_must_be_positive(bad):
  with pytest.raises(ValueError, match="power_iterations"):
    SNDense(3, power_iterations=bad)
  with pytest.raises(ValueError, match="power_iterations"):
    SNConv2D(3, 3, power_iterations=bad)
  with pytest.raises(ValueError, match="power_iterations"):
    SNEmbedding(3, 4, power_iterations=bad)


@pytest.mark.parametrize("cls,kwargs,shape", [
    (SNDense, dict(units=3, use_bias=False, power_iterations=2, stop_gradient=True), (None, 4)),
    (SNConv2D, dict(filters=3, kernel_size=1, use_bias=False, power_iterations=2,
                    stop_gradient=True), (None, 4, 4, 2)),
    (SNEmbedding, dict(input_dim=5, output_dim=3, power_iterations=2, stop_gradient=True),
     (None,)),
])
def test_get_config_round_trip(cls, kwargs, shape):
  layer = cls(**kwargs, name="sn_layer")
  config = layer.get_config()
  for key, value in kwargs.items():
    assert config[key] == value
  assert config["name"] == "sn_layer" and "dtype" in config and config["trainable"] is True
  clone = cls.from_config(config)
  assert clone.get_config() == config
  clone.build(shape)
  layer.build(shape)
  assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in layer.weights]
  assert [w.trainable for w in clone.weights] == [w.trainable for w in layer.weights]


@pytest.mark.parametrize("cls,args,shape", [
    (SNDense, (3,), (None, 4)), (SNConv2D, (3, 1), (None, 4, 4, 2))])
def test_kernel_and_bias_initializers_are_arguments(cls, args, shape):
  layer = cls(*args, kernel_initializer="ones", bias_initializer=keras.initializers.Constant(2.0))
  config = layer.get_config()
  assert config["kernel_initializer"]["class_name"] == "Ones"
  assert config["bias_initializer"]["class_name"] == "Constant"
  clone = cls.from_config(config)
  clone.build(shape)
  np.testing.assert_array_equal(clone.kernel.numpy(), np.ones(clone.kernel.shape))
  np.testing.assert_array_equal(clone.bias.numpy(), np.full(clone.bias.shape, 2.0))
  default = cls(*args)
  default.build(shape)
  np.testing.assert_array_equal(default.bias.numpy(), np.zeros(default.bias.shape))
  assert keras.initializers.serialize(default.kernel_initializer)["class_name"] == "GlorotUniform"


@pytest.mark.parametrize("cls,args", [(SNDense, (3,)), (SNConv2D, (3, 1)),
                                      (SNEmbedding, (5, 3))])
def test_registered_for_keras_serialization(cls, args):
  assert keras.saving.get_registered_name(cls) == f"sagan_tf>{cls.__name__}"
  layer = cls(*args, power_iterations=2, name="sn")
  serialized = keras.saving.serialize_keras_object(layer)
  assert serialized["registered_name"] == f"sagan_tf>{cls.__name__}"
  clone = keras.saving.deserialize_keras_object(serialized)
  assert type(clone) is cls and clone.get_config() == layer.get_config()


def test_u_update_under_mirrored_strategy(two_cpu_strategy):
  """u is assigned in replica context (aggregation only_first_replica); every copy gets u'."""
  strategy = two_cpu_strategy
  rng = np.random.default_rng(6)
  with strategy.scope():
    layer, _ = make_layer("dense", rng)
  x = rng.standard_normal((4, 7)).astype(np.float32)
  sigma, u1, _ = np_power_iteration(_matrix(layer), layer.sn_u.numpy())
  dist_x = strategy.experimental_distribute_values_from_function(
      lambda ctx: tf.constant(x[2 * ctx.replica_id_in_sync_group:][:2]))

  @tf.function
  def step(xs):
    return strategy.run(lambda a: layer(a, update_u=True), args=(xs,))

  out = np.concatenate([t.numpy() for t in strategy.experimental_local_results(step(dist_x))])
  np.testing.assert_allclose(out, np_forward(layer, x, sigma), rtol=1e-4, atol=1e-5)
  copies = strategy.experimental_local_results(layer.sn_u.value)
  assert len(copies) == 2
  for value in copies:
    np.testing.assert_allclose(value.numpy(), u1, rtol=1e-4, atol=1e-6)
