"""Tests of sagan_tf.training.optimizers: FusedAdam against a numpy Adam (the formula of
tf.train.AdamOptimizer and Keras) and against keras.optimizers.Adam, in a tf.function, under
XLA, under a MirroredStrategy of 2 replicas (gradients summed) and under loss scaling; its
checkpoints are Keras Adam's."""

import numpy as np
import keras
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.training import optimizers

LR, BETA_1, BETA_2, EPSILON = 1e-2, 0.5, 0.9, 1e-6
SHAPES = [(3, 4), (5,), ()]
STEPS = 4
# float32 vs float64 with a few float32 roundings per step: well under 1e-5 relative, and a
# wrong formula (e.g. no bias correction, epsilon inside the sqrt) is off by > 1e-2.
RTOL = 1e-5


def _gradients(seed, scale=1.0):
  rng = np.random.default_rng(seed)
  return [[(scale * rng.normal(size=s)).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]


def _initial():
  rng = np.random.default_rng(100)
  return [rng.normal(size=s).astype(np.float32) for s in SHAPES]


def numpy_adam(initial, gradients, scales=None):
  """Adam in float64, written from the formula (bias-corrected step size, epsilon outside the
  square root); scales: the learning rate's factor at each step (default 1)."""
  params = [p.astype(np.float64) for p in initial]
  m = [np.zeros_like(p) for p in params]
  v = [np.zeros_like(p) for p in params]
  scales = [1.0] * len(gradients) if scales is None else scales
  for t, (grads, scale) in enumerate(zip(gradients, scales, strict=True), start=1):
    alpha = LR * scale * np.sqrt(1 - BETA_2 ** t) / (1 - BETA_1 ** t)
    for i, g in enumerate(grads):
      m[i] = BETA_1 * m[i] + (1 - BETA_1) * g
      v[i] = BETA_2 * v[i] + (1 - BETA_2) * g * g
      params[i] = params[i] - alpha * m[i] / (np.sqrt(v[i]) + EPSILON)
  return params


def _make(cls=optimizers.FusedAdam, **kwargs):
  return cls(learning_rate=LR, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON, **kwargs)


def _run(optimizer, gradients, wrap=tf.function):
  variables = [keras.Variable(p) for p in _initial()]
  optimizer.build(variables)
  step = wrap(lambda grads: optimizer.apply_gradients(zip(grads, variables)))
  for grads in gradients:
    step([tf.constant(g) for g in grads])
  return [v.numpy() for v in variables]


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda f: f, id="eager"),
    pytest.param(tf.function, id="function"),
    pytest.param(lambda f: tf.function(f, jit_compile=True), id="xla"),
])
def test_equals_the_numpy_formula_and_keras_adam(wrap):
  gradients = _gradients(0)
  fused = _run(_make(), gradients, wrap)
  expected = numpy_adam(_initial(), gradients)
  keras_adam = _run(_make(keras.optimizers.Adam), gradients, wrap)
  for got, want, other in zip(fused, expected, keras_adam):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(got, other, rtol=RTOL, atol=1e-7)
  # The test can fail: the parameters moved by more than the tolerance.
  assert all(np.max(np.abs(g - p)) > 1e-3 for g, p in zip(fused, _initial()) if g.size)


def test_two_replicas_apply_the_sum_of_their_gradients(two_cpu_strategy):
  per_replica = [_gradients(1), _gradients(2)]
  with two_cpu_strategy.scope():
    variables = [keras.Variable(p) for p in _initial()]
    optimizer = _make()
    optimizer.build(variables)

  @tf.function
  def step(grads_0, grads_1):
    def replica_fn():
      replica = tf.distribute.get_replica_context().replica_id_in_sync_group
      grads = [tf.where(tf.equal(replica, 0), a, b) for a, b in zip(grads_0, grads_1)]
      optimizer.apply_gradients(zip(grads, variables))
    two_cpu_strategy.run(replica_fn)

  for grads_0, grads_1 in zip(*per_replica):
    step([tf.constant(g) for g in grads_0], [tf.constant(g) for g in grads_1])
  summed = [[a + b for a, b in zip(g0, g1)] for g0, g1 in zip(*per_replica)]
  expected = numpy_adam(_initial(), summed)
  for var, want in zip(variables, expected):
    copies = [c.numpy() for c in var.value.values]
    assert len(copies) == 2
    np.testing.assert_array_equal(copies[0], copies[1])
    np.testing.assert_allclose(copies[0], want, rtol=RTOL, atol=1e-7)


def test_loss_scaling_unscales_before_the_fused_update():
  gradients = _gradients(3)
  optimizer = keras.optimizers.LossScaleOptimizer(_make(), initial_scale=2.0 ** 10)
  scaled = [[g * 2.0 ** 10 for g in grads] for grads in gradients]
  got = _run(optimizer, scaled)
  for g, want in zip(got, numpy_adam(_initial(), gradients)):
    np.testing.assert_allclose(g, want, rtol=RTOL, atol=1e-7)


def test_bfloat16_gradients_update_float32_variables():
  gradients = _gradients(4)
  rounded = [[np.asarray(tf.cast(tf.cast(g, tf.bfloat16), tf.float32)) for g in grads]
             for grads in gradients]
  variables = [keras.Variable(p) for p in _initial()]
  optimizer = _make()
  optimizer.build(variables)
  step = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables)))
  for grads in gradients:
    step([tf.cast(g, tf.bfloat16) for g in grads])
  for var, want in zip(variables, numpy_adam(_initial(), rounded)):
    assert var.dtype == "float32"
    np.testing.assert_allclose(var.numpy(), want, rtol=RTOL, atol=1e-7)


def test_checkpoints_are_keras_adams_both_ways(tmp_path):
  """A workdir written with Keras' Adam resumes with FusedAdam (and back): same slots."""
  gradients = _gradients(5)
  results = []
  for first, second in [(keras.optimizers.Adam, optimizers.FusedAdam),
                        (optimizers.FusedAdam, keras.optimizers.Adam)]:
    variables = [keras.Variable(p) for p in _initial()]
    optimizer = _make(first)
    optimizer.build(variables)
    for grads in gradients[:2]:
      optimizer.apply_gradients(zip(map(tf.constant, grads), variables))
    path = tf.train.Checkpoint(v=variables, o=optimizer).write(str(tmp_path / first.__name__))
    restored_vars = [keras.Variable(np.zeros_like(p)) for p in _initial()]
    restored = _make(second)
    restored.build(restored_vars)
    tf.train.Checkpoint(v=restored_vars, o=restored).read(path).assert_consumed()
    assert int(restored.iterations) == 2
    for grads in gradients[2:]:
      restored.apply_gradients(zip(map(tf.constant, grads), restored_vars))
    results.append([v.numpy() for v in restored_vars])
  for a, b, want in zip(*results, numpy_adam(_initial(), gradients)):
    np.testing.assert_allclose(a, want, rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(b, want, rtol=RTOL, atol=1e-7)


SCALES = [1.0, 0.75, 0.5, 0.25]  # e.g. linear decay over 4 steps: what lr_scale returns


def _run_scaled(optimizer_fn, gradients, wrap=tf.function, strategy=None):
  """Variables after applying `gradients` with an optimizer whose lr_scale reads a variable set
  to SCALES[k] before step k (as the trainer's step counter drives the schedule)."""
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    variables = [keras.Variable(p) for p in _initial()]
    scale = tf.Variable(1.0)
    optimizer = optimizer_fn(lambda: tf.convert_to_tensor(scale))
    optimizer.build(variables)

  def apply(grads):
    def replica_fn():  # the gradients as each replica's own tensors
      optimizer.apply_gradients(zip([tf.identity(g) for g in grads], variables))
    strategy.run(replica_fn)

  step = wrap(apply)
  for k, grads in enumerate(gradients):
    scale.assign(SCALES[k])
    step([tf.constant(g) for g in grads])
  return variables, optimizer


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda f: f, id="eager"),
    pytest.param(tf.function, id="function"),
    pytest.param(lambda f: tf.function(f, jit_compile=True), id="xla"),
])
def test_lr_scale_multiplies_the_rate_of_each_step(wrap):
  gradients = _gradients(6)
  variables, optimizer = _run_scaled(lambda s: _make(lr_scale=s), gradients, wrap)
  for var, want, unscaled in zip(variables, numpy_adam(_initial(), gradients, SCALES),
                                 numpy_adam(_initial(), gradients)):
    np.testing.assert_allclose(var.numpy(), want, rtol=RTOL, atol=1e-7)
    assert var.numpy().size == 0 or np.max(np.abs(var.numpy() - unscaled)) > 1e-3
  # The learning-rate variable (what checkpoints hold) stays the base rate.
  assert float(optimizer.learning_rate.numpy()) == pytest.approx(LR)


def test_lr_scale_under_two_replicas(two_cpu_strategy):
  # Both replicas apply the same gradients: Keras sums them over replicas.
  gradients = _gradients(7)
  variables, _ = _run_scaled(lambda s: _make(lr_scale=s), gradients,
                             strategy=two_cpu_strategy)
  summed = [[2 * g for g in grads] for grads in gradients]
  for var, want in zip(variables, numpy_adam(_initial(), summed, SCALES)):
    copies = [c.numpy() for c in var.value.values]
    assert len(copies) == 2
    np.testing.assert_array_equal(copies[0], copies[1])
    np.testing.assert_allclose(copies[0], want, rtol=RTOL, atol=1e-7)


def test_the_trainers_adam_applies_lr_scale_under_loss_scaling():
  c = config_lib.base_config()
  c.update(dict(beta1=BETA_1, beta2=BETA_2, adam_epsilon=EPSILON,
                mixed_precision="mixed_float16"))
  gradients = _gradients(8)
  scale = 2.0 ** 15  # LossScaleOptimizer's initial loss scale
  scaled = [[g * scale for g in grads] for grads in gradients]
  variables, optimizer = _run_scaled(lambda s: optimizers.adam(c, LR, lr_scale=s), scaled)
  assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
  assert float(optimizer.dynamic_scale.numpy()) == scale  # no step was skipped
  for var, want in zip(variables, numpy_adam(_initial(), gradients, SCALES)):
    np.testing.assert_allclose(var.numpy(), want, rtol=RTOL, atol=1e-7)


def test_amsgrad_is_refused_with_the_alternative():
  with pytest.raises(ValueError, match="amsgrad=True"):
    optimizers.FusedAdam(amsgrad=True)


@pytest.mark.parametrize("precision, wrapped", [("", False), ("mixed_bfloat16", False),
                                                ("mixed_float16", True)])
def test_the_trainers_adam_takes_the_configs_betas_and_epsilon(precision, wrapped):
  c = config_lib.base_config()
  c.update(dict(beta1=0.25, beta2=0.75, adam_epsilon=1e-5, mixed_precision=precision))
  optimizer = optimizers.adam(c, 3e-4)
  assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == wrapped
  inner = optimizer.inner_optimizer if wrapped else optimizer
  assert isinstance(inner, optimizers.FusedAdam)
  assert (inner.beta_1, inner.beta_2, inner.epsilon) == (0.25, 0.75, 1e-5)
  assert float(inner.learning_rate) == pytest.approx(3e-4)
