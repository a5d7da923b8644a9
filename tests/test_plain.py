"""PlainConv2D and PlainDense (sagan_tf/layers/plain.py) against numpy (float64): the raw kernel,
no normalization; the SN layers' initialisers, variables and call interface; serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import numpy_reference
from sagan_tf.layers import PlainConv2D, PlainDense, SNConv2D, SNDense


def _randomized(layer, shape, rng):
  """Builds layer for `shape`; a random kernel of spectral norm well above 1 (so a normalized
  kernel would give other outputs) and a random bias."""
  layer.build(shape)
  kernel = 2.0 * rng.standard_normal(layer.kernel.shape).astype(np.float32)
  layer.kernel.assign(kernel)
  if layer.bias is not None:
    layer.bias.assign(rng.standard_normal(layer.bias.shape).astype(np.float32))
  assert numpy_reference.top_singular_value(kernel.reshape(-1, kernel.shape[-1])) > 3.0
  return layer


@pytest.mark.parametrize("kernel_size,use_bias", [(3, True), (1, False)])
def test_conv_is_the_numpy_convolution_of_its_raw_kernel(kernel_size, use_bias):
  rng = np.random.default_rng(kernel_size)
  layer = _randomized(PlainConv2D(5, kernel_size, use_bias=use_bias), (None, 6, 7, 4), rng)
  x = rng.standard_normal((2, 6, 7, 4)).astype(np.float32)
  want = numpy_reference.conv2d_same(x.astype(np.float64), layer.kernel.numpy().astype(np.float64))
  if use_bias:
    want = want + layer.bias.numpy()
  np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-4)
  # output_scale s: s * conv(x) (kernel and bias scaled); update_u is accepted and ignored.
  got = layer(x, update_u=True, output_scale=tf.constant(-0.3)).numpy()
  np.testing.assert_allclose(got, -0.3 * want, rtol=1e-5, atol=1e-4)


def test_dense_is_the_numpy_product_with_its_raw_kernel():
  rng = np.random.default_rng(0)
  layer = _randomized(PlainDense(6), (None, 9), rng)
  x = rng.standard_normal((3, 9)).astype(np.float32)
  want = x.astype(np.float64) @ layer.kernel.numpy().astype(np.float64) + layer.bias.numpy()
  np.testing.assert_allclose(layer(x, update_u=True).numpy(), want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("plain,sn,args,shape", [
    (PlainConv2D, SNConv2D, (8, 3), (None, 5, 5, 6)),
    (PlainConv2D, SNConv2D, (8, 1), (None, 5, 5, 6)),
    (PlainDense, SNDense, (12,), (None, 20)),
])
def test_the_sn_layers_variables_and_initialisers_less_u(plain, sn, args, shape):
  keras.utils.set_random_seed(3)
  p = plain(*args)
  p.build(shape)
  keras.utils.set_random_seed(3)
  s = sn(*args)
  s.build(shape)
  assert [(w.name, tuple(w.shape)) for w in p.weights] == [
      (w.name, tuple(w.shape)) for w in s.weights if w.name != "sn_u"]
  assert not p.non_trainable_weights and [w.name for w in s.non_trainable_weights] == ["sn_u"]
  # Glorot-uniform kernel (the same seeded draw as the SN layer's), zero bias.
  np.testing.assert_array_equal(p.kernel.numpy(), s.kernel.numpy())
  *window, c_in, c_out = p.kernel.shape
  receptive = int(np.prod(window))  # 1 for a dense kernel
  limit = np.sqrt(6.0 / (receptive * c_in + receptive * c_out))
  kernel = p.kernel.numpy()
  assert np.max(np.abs(kernel)) <= limit and np.max(np.abs(kernel)) > 0.8 * limit
  np.testing.assert_allclose(np.std(kernel), limit / np.sqrt(3.0), rtol=0.2)
  np.testing.assert_array_equal(p.bias.numpy(), np.zeros(p.bias.shape, np.float32))


@pytest.mark.parametrize("cls,args,shape", [(PlainConv2D, (4, 1), (None, 3, 3, 2)),
                                            (PlainDense, (3,), (None, 5))])
def test_registered_and_rebuilt_from_config(cls, args, shape):
  layer = cls(*args, use_bias=False, name="x")
  layer.build(shape)
  assert keras.saving.get_registered_name(cls) == f"sagan_tf>{cls.__name__}"
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
  assert type(clone) is cls and clone.get_config() == layer.get_config()
  assert clone.get_config()["use_bias"] is False

