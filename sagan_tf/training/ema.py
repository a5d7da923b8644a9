"""Exponential moving average of the generator's weights, kept in a second Generator."""

import tensorflow as tf


def ema_pairs(generator, ema_generator):
  """Returns [(raw variable, ema variable)] matched by path; checks the models match."""
  raw, ema = generator.weights, ema_generator.weights
  if len(raw) != len(ema):
    raise ValueError("EMA generator does not match the generator (weight counts differ).")
  for r, e in zip(raw, ema):
    if r.shape != e.shape:
      raise ValueError(f"EMA weight {e.path} {e.shape} does not match {r.path} {r.shape}.")
  return list(zip(raw, ema))


def update_ema(pairs, decay):
  """ema = decay * ema + (1 - decay) * raw for weights and BN moving statistics; spectral-norm
  u vectors are copied. decay: float32 scalar tensor (0 copies everything). Call in
  cross-replica context."""
  for raw, ema in pairs:
    value = tf.convert_to_tensor(raw)
    if "sn_u" in raw.path:
      ema.assign(value)
    else:
      ema.assign(decay * tf.convert_to_tensor(ema) + (1.0 - decay) * value)
