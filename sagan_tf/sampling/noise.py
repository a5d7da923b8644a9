"""Deterministic (stateless) latents: z and class labels from an integer seed.

The one noise construction of the project: the exported `generate_from_seed` signature, the
tools, the evaluation job, the standing BN statistics and the training image summaries all draw
z here, so a seed names the same z everywhere (same platform, same TF).

Row i of `seeded_noise(seed, n, z_dim, truncation, start)` is row start + i of the seed's
stream: it depends only on (seed, start + i, z_dim, truncation), not on n, the process, or how
many calls came before (stateless random ops seeded by the pair (seed, start + i)). So batches
[0, b), [b, 2b), ... drawn with start = 0, b, ... concatenate to the rows of one big draw.
`seeded_labels` is the same for labels, on a stream independent of the noise.

Construction (inverse CDF, exact for any bound): u ~ Uniform[0, 1) in float64 from
tf.random.stateless_uniform, shifted by half a float64 step so that 0 < u < 1; then
z = ndtri(lo + (hi - lo) * u) with lo = Phi(-t), hi = Phi(t). truncation t = 0 means no
truncation (lo = 0, hi = 1: plain N(0, 1)); t > 0 gives N(0, 1) conditioned on |z| < t (the
"truncation trick"; config.eval_truncation uses the same convention).
"""

import math

import numpy as np
import tensorflow as tf

_HALF_STEP = 2.0 ** -53  # float64 uniforms are multiples of 2**-52: this keeps u off 0 and 1


def truncation_bounds(truncation):
  """Returns float64 (lo, hi) = (Phi(-t), Phi(t)); (0, 1) when truncation == 0."""
  t = tf.cast(truncation, tf.float64)
  lo = 0.5 * tf.math.erfc(t / math.sqrt(2.0))
  lo = tf.where(t > 0, lo, tf.zeros_like(lo))
  return lo, 1.0 - lo


def _rows(num, start):
  start = tf.cast(start, tf.int64)
  return tf.range(start, start + tf.cast(num, tf.int64), dtype=tf.int64)


def seeded_noise(seed, num, z_dim, truncation=0.0, start=0):
  """Returns float32 [num, z_dim] noise; row i drawn from the stateless seed (seed, start + i).

  Args:
    seed: int scalar (Python int or int32/int64 tensor).
    num: number of rows (Python int or int scalar tensor).
    z_dim: width of each row (Python int).
    truncation: float scalar; 0 = N(0, 1), > 0 = N(0, 1) truncated to (-truncation, truncation).
      Negative values are not checked here (callers validate); they behave like 0.
    start: index of the first row in the seed's stream (int >= 0).
  Works eagerly and inside tf.function / exported signatures.
  """
  seed = tf.cast(seed, tf.int64)
  rows = _rows(num, start)
  lo, hi = truncation_bounds(truncation)

  def row(i):
    u = tf.random.stateless_uniform([z_dim], seed=tf.stack([seed, i]), dtype=tf.float64)
    return tf.math.ndtri(lo + (hi - lo) * (u + _HALF_STEP))

  z = tf.map_fn(row, rows, fn_output_signature=tf.TensorSpec([z_dim], tf.float64))
  return tf.cast(tf.reshape(z, [-1, z_dim]), tf.float32)


_LABEL_STREAM = 20180521  # folded into (seed, row): label draws independent of the noise's


def seeded_labels(seed, num, num_classes, start=0):
  """Returns int32 [num] class labels uniform over [0, num_classes) (zeros if num_classes is 0).

  Label i is drawn from the stateless seed fold_in((seed, start + i), _LABEL_STREAM): like
  seeded_noise it depends only on (seed, start + i), and it is independent of z's row.
  """
  if not num_classes:
    return tf.zeros([num], tf.int32)
  seed = tf.cast(seed, tf.int64)

  def label(i):
    key = tf.random.experimental.stateless_fold_in(tf.stack([seed, i]), _LABEL_STREAM)
    return tf.random.stateless_uniform([], seed=key, minval=0, maxval=int(num_classes),
                                       dtype=tf.int32)

  return tf.map_fn(label, _rows(num, start), fn_output_signature=tf.TensorSpec([], tf.int32))


def slerp(z0, z1, t):
  """Spherical interpolation between numpy vectors z0 and z1 at fraction(s) t in [0, 1].

  Returns [len(t), dim] (linear interpolation when z0 and z1 are nearly parallel).
  """
  z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
  t = np.atleast_1d(np.asarray(t, np.float64))[:, None]
  cos = np.dot(z0, z1) / max(np.linalg.norm(z0) * np.linalg.norm(z1), 1e-12)
  omega = math.acos(min(1.0, max(-1.0, cos)))
  if abs(math.sin(omega)) < 1e-6:
    return ((1 - t) * z0 + t * z1).astype(np.float32)
  out = (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / math.sin(omega)
  return out.astype(np.float32)


def lerp(z0, z1, t):
  """Linear interpolation between numpy vectors; returns [len(t), dim] float32."""
  z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
  t = np.atleast_1d(np.asarray(t, np.float64))[:, None]
  return ((1 - t) * z0 + t * z1).astype(np.float32)
