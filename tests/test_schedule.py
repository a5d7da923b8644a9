"""The learning-rate schedule (sagan_tf/training/schedule.py) against a numpy formula, eagerly,
in a tf.function and under XLA."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.training import schedule


def np_linear_decay(step, start, total):
  """SNGAN's LinearShift of the rate from (1, 0) over iterations (start, total), in float64:
  1 until `start`, then linearly to 0 at `total`, 0 after."""
  if step <= start:
    return 1.0
  if step >= total:
    return 0.0
  return 1.0 + (step - start) / (total - start) * (0.0 - 1.0)


def _config(name, total=10, start=0):
  c = config_lib.base_config()
  c.lr_schedule, c.num_train_steps, c.lr_decay_start_step = name, total, start
  return config_lib.validate(c)


STEPS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1000]


@pytest.mark.parametrize("total,start", [(10, 0), (10, 4), (7, 6), (1_000_000, 400_000)])
def test_linear_decay_is_the_formula(total, start):
  c = _config("linear_decay", total, start)
  steps = STEPS + [start - 1, start, start + 1, total - 1, total, total + 5]
  for step in (s for s in steps if s >= 0):
    got = schedule.lr_factor(step, c)
    assert got.dtype == tf.float32 and got.shape == ()
    np.testing.assert_allclose(float(got), np_linear_decay(step, start, total), rtol=1e-6,
                               atol=1e-7, err_msg=f"step {step}")
  # The last iteration trains at 1 / (total - start) of the base rate; 0 is reached at total.
  np.testing.assert_allclose(float(schedule.lr_factor(total - 1, c)), 1.0 / (total - start),
                             rtol=1e-6)
  assert float(schedule.lr_factor(total, c)) == 0.0


def test_constant_is_one_at_every_step():
  c = _config("constant", 10, 3)
  for step in STEPS:
    assert float(schedule.lr_factor(step, c)) == 1.0


@pytest.mark.parametrize("jit_compile", [False, True])
def test_same_values_in_a_tf_function_and_under_xla(jit_compile):
  c = _config("linear_decay", 10, 2)
  step = tf.Variable(0, dtype=tf.int64)
  factor = tf.function(lambda: schedule.lr_factor(step, c), jit_compile=jit_compile)
  for s in STEPS:
    step.assign(s)
    np.testing.assert_allclose(float(factor()), np_linear_decay(s, 2, 10), rtol=1e-6,
                               atol=1e-7)
  # int32 steps too.
  np.testing.assert_allclose(float(schedule.lr_factor(tf.constant(6, tf.int32), c)),
                             np_linear_decay(6, 2, 10), rtol=1e-6)


def test_bad_settings_are_refused():
  c = _config("constant")
  c.lr_schedule = "cosine"
  with pytest.raises(ValueError, match="lr_schedule='cosine'"):
    schedule.lr_factor(0, c)
  c = _config("linear_decay", 10, 0)
  c.lr_decay_start_step = 10
  with pytest.raises(ValueError, match="must be < num_train_steps=10"):
    schedule.lr_factor(0, c)
