"""ConditionalBatchNorm vs a numpy reference, and cross-replica moments under MirroredStrategy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import ConditionalBatchNorm

EPS = 1e-5
B, H, W, C, K = 8, 3, 2, 4, 3


def np_bn(x, labels, gamma, beta, mean=None, var=None):
  """Per-example gamma[label], beta[label] (or shared [C] tables when labels is None)."""
  x = x.astype(np.float64)
  axes = tuple(range(x.ndim - 1))
  if mean is None:
    mean = x.mean(axis=axes)
    var = ((x - mean) ** 2).mean(axis=axes)  # biased
  if labels is None:
    g, b = gamma, beta
  else:
    shape = (-1,) + (1,) * (x.ndim - 2) + (x.shape[-1],)
    g, b = gamma[labels].reshape(shape), beta[labels].reshape(shape)
  return g * (x - mean) / np.sqrt(var + EPS) + b


def np_moments(x):
  axes = tuple(range(x.ndim - 1))
  mean = x.astype(np.float64).mean(axis=axes)
  return mean, ((x - mean) ** 2).mean(axis=axes)


def make(rng, num_classes=K, momentum=0.999, shape=(B, H, W, C), cross_replica=False):
  layer = ConditionalBatchNorm(num_classes, momentum=momentum, cross_replica=cross_replica)
  layer.build(shape)
  gamma = rng.uniform(0.5, 2.0, layer.gamma.shape).astype(np.float32)
  beta = rng.standard_normal(layer.beta.shape).astype(np.float32)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  mm = rng.standard_normal((shape[-1],)).astype(np.float32)
  mv = rng.uniform(0.5, 2.0, (shape[-1],)).astype(np.float32)
  layer.moving_mean.assign(mm)
  layer.moving_variance.assign(mv)
  return layer, gamma, beta, mm, mv


def data(rng, shape=(B, H, W, C), num_classes=K):
  x = (rng.standard_normal(shape) * 3.0 + 1.5).astype(np.float32)
  labels = rng.integers(0, num_classes, shape[0]).astype(np.int32) if num_classes else None
  return x, labels


def test_initial_tables():
  layer = ConditionalBatchNorm(K)
  layer.build((None, H, W, C))
  np.testing.assert_array_equal(layer.gamma.numpy(), np.ones((K, C)))
  np.testing.assert_array_equal(layer.beta.numpy(), np.zeros((K, C)))
  np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(C))
  np.testing.assert_array_equal(layer.moving_variance.numpy(), np.ones(C))
  assert not layer.moving_mean.trainable and not layer.moving_variance.trainable
  assert layer.momentum == 0.999 and layer.epsilon == 1e-5


def test_initializers_are_arguments_and_the_config_round_trips():
  layer = ConditionalBatchNorm(K, momentum=0.9, epsilon=1e-3, cross_replica=True,
                               gamma_initializer=keras.initializers.Constant(2.0),
                               moving_variance_initializer="zeros", name="cbn")
  config = layer.get_config()
  assert (config["num_classes"], config["momentum"], config["epsilon"],
          config["cross_replica"]) == (K, 0.9, 1e-3, True)
  assert config["name"] == "cbn" and "dtype" in config
  assert config["gamma_initializer"]["class_name"] == "Constant"
  assert config["beta_initializer"]["class_name"] == "Zeros"
  assert keras.saving.get_registered_name(ConditionalBatchNorm) == "sagan_tf>ConditionalBatchNorm"
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
  assert type(clone) is ConditionalBatchNorm and clone.get_config() == config
  clone.build((None, H, W, C))
  np.testing.assert_array_equal(clone.gamma.numpy(), np.full((K, C), 2.0))
  np.testing.assert_array_equal(clone.moving_variance.numpy(), np.zeros(C))
  assert [w.path.split("/")[-1] for w in clone.weights] == [
      "gamma", "beta", "moving_mean", "moving_variance"]


@pytest.mark.parametrize("num_classes", [K, 0])
@pytest.mark.parametrize("momentum", [0.999, 0.6])
def test_training_uses_batch_moments_and_updates_moving_stats(num_classes, momentum):
  rng = np.random.default_rng(0)
  layer, gamma, beta, mm, mv = make(rng, num_classes, momentum)
  x, labels = data(rng, num_classes=num_classes)
  if num_classes:
    assert len(set(labels.tolist())) > 1  # several classes in the batch
  y = layer(x, labels, training=True).numpy()
  np.testing.assert_allclose(y, np_bn(x, labels, gamma, beta), rtol=1e-4, atol=1e-4)
  mean, var = np_moments(x)
  np.testing.assert_allclose(layer.moving_mean.numpy(), momentum * mm + (1 - momentum) * mean,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(layer.moving_variance.numpy(),
                             momentum * mv + (1 - momentum) * var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("num_classes", [K, 0])
def test_inference_uses_moving_stats(num_classes):
  rng = np.random.default_rng(1)
  layer, gamma, beta, mm, mv = make(rng, num_classes)
  x, labels = data(rng, num_classes=num_classes)
  y = layer(x, labels, training=False).numpy()
  np.testing.assert_allclose(y, np_bn(x, labels, gamma, beta, mm, mv), rtol=1e-4, atol=1e-4)
  # Not the batch statistics, and the moving statistics stay put.
  assert np.max(np.abs(y - np_bn(x, labels, gamma, beta))) > 0.1
  np.testing.assert_array_equal(layer.moving_mean.numpy(), mm)
  np.testing.assert_array_equal(layer.moving_variance.numpy(), mv)
  # Default is inference.
  np.testing.assert_array_equal(layer(x, labels).numpy(), y)


def test_two_dimensional_input():
  rng = np.random.default_rng(2)
  layer, gamma, beta, _, _ = make(rng, shape=(B, C))
  x, labels = data(rng, shape=(B, C))
  y = layer(x, labels, training=True).numpy()
  np.testing.assert_allclose(y, np_bn(x, labels, gamma, beta), rtol=1e-4, atol=1e-4)


def test_unconditional_tables_and_missing_labels():
  layer = ConditionalBatchNorm(0)
  layer.build((None, H, W, C))
  assert layer.gamma.shape == (C,) and layer.beta.shape == (C,)
  cond = ConditionalBatchNorm(K)
  with pytest.raises(ValueError, match="labels"):
    cond(np.zeros((B, H, W, C), np.float32), training=True)
  with pytest.raises(ValueError, match="num_classes"):
    ConditionalBatchNorm(-1)


def test_cross_replica_single_device_is_plain_batch_norm():
  rng = np.random.default_rng(3)
  layer, gamma, beta, _, _ = make(rng, cross_replica=True)
  x, labels = data(rng)
  y = layer(x, labels, training=True).numpy()
  np.testing.assert_allclose(y, np_bn(x, labels, gamma, beta), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cross_replica", [True, False])
def test_mirrored_strategy_two_replicas(cross_replica, two_cpu_strategy):
  strategy = two_cpu_strategy
  assert strategy.num_replicas_in_sync == 2
  rng = np.random.default_rng(4)
  x, labels = data(rng)
  # Make the halves' moments clearly different, so per-replica and global normalization differ.
  x[B // 2:] = x[B // 2:] * 0.3 - 2.0
  momentum = 0.6
  with strategy.scope():
    layer, gamma, beta, mm, mv = make(rng, momentum=momentum, cross_replica=cross_replica)

  half = B // 2

  def per_replica(ctx):
    i = ctx.replica_id_in_sync_group
    return (tf.constant(x[i * half:(i + 1) * half]),
            tf.constant(labels[i * half:(i + 1) * half]))

  dist_x = strategy.experimental_distribute_values_from_function(lambda c: per_replica(c)[0])
  dist_labels = strategy.experimental_distribute_values_from_function(
      lambda c: per_replica(c)[1])

  @tf.function
  def step(xs, ls):
    return strategy.run(lambda a, b: layer(a, b, training=True), args=(xs, ls))

  out = np.concatenate([t.numpy() for t in strategy.experimental_local_results(
      step(dist_x, dist_labels))])

  if cross_replica:
    # Same as a single device on the global batch.
    np.testing.assert_allclose(out, np_bn(x, labels, gamma, beta), rtol=1e-4, atol=1e-4)
    mean, var = np_moments(x)
  else:
    # Per-replica moments (the authors' code); moving stats averaged over replicas.
    ref = np.concatenate([np_bn(x[:half], labels[:half], gamma, beta),
                          np_bn(x[half:], labels[half:], gamma, beta)])
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    (m0, v0), (m1, v1) = np_moments(x[:half]), np_moments(x[half:])
    mean, var = (m0 + m1) / 2, (v0 + v1) / 2
  assert np.max(np.abs(np_bn(x, labels, gamma, beta) - np.concatenate([
      np_bn(x[:half], labels[:half], gamma, beta),
      np_bn(x[half:], labels[half:], gamma, beta)]))) > 0.1  # the two modes are distinguishable
  for v, old, batch in [(layer.moving_mean, mm, mean), (layer.moving_variance, mv, var)]:
    copies = strategy.experimental_local_results(v.value)  # the MirroredVariable's components
    assert len(copies) == 2
    for value in copies:  # every replica's copy agrees
      np.testing.assert_allclose(value.numpy(), momentum * old + (1 - momentum) * batch,
                                 rtol=1e-4, atol=1e-5)


def np_bn_grads(x, labels, gamma, dy, num_classes):
  """Analytic batch-norm gradients in float64: (dx, dgamma table, dbeta table)."""
  x, dy = x.astype(np.float64), dy.astype(np.float64)
  axes = tuple(range(x.ndim - 1))
  n = np.prod([x.shape[a] for a in axes])
  mean, var = np_moments(x)
  inv_std = 1.0 / np.sqrt(var + EPS)
  x_hat = (x - mean) * inv_std
  shape = (-1,) + (1,) * (x.ndim - 2) + (x.shape[-1],)
  g = gamma[labels].reshape(shape) if num_classes else gamma
  d_hat = dy * g
  dx = inv_std / n * (n * d_hat - d_hat.sum(axis=axes) - x_hat * (d_hat * x_hat).sum(axis=axes))
  per_example_g = (dy * x_hat).sum(axis=axes[1:])  # [B, C]
  per_example_b = dy.sum(axis=axes[1:])
  if not num_classes:
    return dx, per_example_g.sum(0), per_example_b.sum(0)
  dgamma = np.zeros((num_classes, x.shape[-1]))
  dbeta = np.zeros((num_classes, x.shape[-1]))
  np.add.at(dgamma, labels, per_example_g)
  np.add.at(dbeta, labels, per_example_b)
  return dx, dgamma, dbeta


@pytest.mark.parametrize("num_classes", [K, 0])
@pytest.mark.parametrize("cross_replica", [False, True])
def test_training_gradients_match_numpy(num_classes, cross_replica):
  # The fused-op path (per-replica, 4-D) and the moments path (cross_replica) against the
  # analytic batch-norm gradient for x and for the gamma / beta tables.
  rng = np.random.default_rng(7)
  layer, gamma, _, _, _ = make(rng, num_classes=num_classes, cross_replica=cross_replica)
  x, labels = data(rng, num_classes=num_classes)
  dy = rng.standard_normal(x.shape).astype(np.float32)
  x_t = tf.constant(x)
  with tf.GradientTape() as tape:
    tape.watch(x_t)
    y = layer(x_t, labels if num_classes else None, training=True)
    loss = tf.reduce_sum(y * dy)
  dx, dgamma, dbeta = tape.gradient(loss, [x_t, layer.gamma, layer.beta])
  want_dx, want_dgamma, want_dbeta = np_bn_grads(x, labels, gamma, dy, num_classes)
  np.testing.assert_allclose(dx.numpy(), want_dx, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(tf.convert_to_tensor(dgamma).numpy(), want_dgamma, rtol=1e-4,
                             atol=1e-4)
  np.testing.assert_allclose(tf.convert_to_tensor(dbeta).numpy(), want_dbeta, rtol=1e-4,
                             atol=1e-4)
