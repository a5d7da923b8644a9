"""Which batch-norm statistics a generator samples with: standing, moving or batch.

Every BN of the generator (the conditional BNs of the blocks and the head BN) normalizes with a
mean and a variance per channel. For sampling there are three choices (config.sample_bn_stats,
flag --bn_stats of every sampling binary):

  standing  (default) re-estimated for the weights being sampled: on a COPY of the generator,
            each BN's mean and variance become the equal-weight average of its batch moments
            (mean, biased variance) over K train-mode forward passes of B latents each (BigGAN's
            "standing statistics"). Pass k draws z = seeded_noise(STANDING_SEED, B, z_dim,
            truncation, start=k*B) and labels = seeded_labels(STANDING_SEED, ...) likewise, so
            the statistics depend only on (weights, K, B, truncation): the same checkpoint and
            settings give the same statistics in every process. Spectral-norm u is never
            written (update_u=False), so the copy's normalized weights are the original's.
  moving    the moving averages stored in the checkpoint (the authors' evaluation).
  batch     the moments of the batch being generated (the authors' training-time images): a
            train-mode pass on a copy, so the generator's own statistics do not move.

The generator passed in (the training state, a restored checkpoint) is never modified.
Sampling copies are built outside any tf.distribute strategy from the variables' values, so the
statistics do not depend on how many replicas trained the weights.
"""

import dataclasses
import weakref

import tensorflow as tf

from sagan_tf import models
from sagan_tf.choices import BN_STATS_MODES as MODES
from sagan_tf.layers import ConditionalBatchNorm
from sagan_tf.sampling import noise

STANDING_SEED = -1  # the latent stream of the standing passes; sampling seeds are >= 0


@dataclasses.dataclass(frozen=True)
class BNStats:
  """Sampling BN-statistics settings.

  mode: one of MODES. batches (K) and batch_size (B): the standing passes. truncation: the
  latents' truncation in the standing passes (0 = N(0, I)); use the samples' own truncation.
  K, B and truncation are ignored for 'moving' and 'batch' (normalized to None in `identity`).
  """
  mode: str = "standing"
  batches: int = 20
  batch_size: int = 64
  truncation: float = 0.0

  def __post_init__(self):
    if self.mode not in MODES:
      raise ValueError(f"BN statistics mode {self.mode!r} is not one of {MODES} "
                       f"(--bn_stats / config.sample_bn_stats).")
    if self.mode == "standing" and (int(self.batches) < 1 or int(self.batch_size) < 1):
      raise ValueError(f"Standing statistics need batches >= 1 and batch_size >= 1, got "
                       f"{self.batches} and {self.batch_size} (--bn_stats_batches, "
                       f"--bn_stats_batch_size).")
    if not float(self.truncation) >= 0:
      raise ValueError(f"truncation must be >= 0 (0 = no truncation), got {self.truncation}.")

  @classmethod
  def from_config(cls, config, truncation=0.0, mode=None, batches=None, batch_size=None):
    """Settings from config.sample_bn_stats / standing_stats_batches / _batch_size, each
    replaced by the argument when that is not None."""
    pick = lambda value, key: config[key] if value is None else value
    return cls(mode=pick(mode, "sample_bn_stats"),
               batches=int(pick(batches, "standing_stats_batches")),
               batch_size=int(pick(batch_size, "standing_stats_batch_size")),
               truncation=float(truncation))

  def identity(self):
    """JSON-able dict of what determines the statistics (mode; K, B, truncation if standing)."""
    standing = self.mode == "standing"
    return {"mode": self.mode,
            "batches": int(self.batches) if standing else None,
            "batch_size": int(self.batch_size) if standing else None,
            "truncation": float(self.truncation) if standing else None,
            "seed": STANDING_SEED if standing else None}

  def tag(self):
    """Short name for TensorBoard tags and file names: 'standing20x64', 'moving', 'batch'
    (standing with truncation t > 0: 'standing20x64t<t>')."""
    if self.mode != "standing":
      return self.mode
    t = f"t{self.truncation:g}" if self.truncation > 0 else ""
    return f"standing{int(self.batches)}x{int(self.batch_size)}{t}"

  def describe(self):
    if self.mode != "standing":
      return {"moving": "stored moving statistics", "batch": "batch statistics"}[self.mode]
    k = int(self.batches)
    return (f"standing statistics ({k} pass{'' if k == 1 else 'es'} of "
            f"{int(self.batch_size)}, truncation {self.truncation:g})")


def bn_layers(generator):
  """The generator's ConditionalBatchNorm layers (block CBNs and head BN) in a fixed order."""
  return [layer for layer in generator._flatten_layers()  # pylint: disable=protected-access
          if isinstance(layer, ConditionalBatchNorm)]


def _relative(path):
  return path.split("/", 1)[-1]  # drop the model name (two generators may share it)


def copy_values(source, target):
  """Assigns every weight of `source` (any strategy's variables) to `target`, matched by
  order and checked by path and shape."""
  for src, dst in zip(source.weights, target.weights, strict=True):
    if _relative(src.path) != _relative(dst.path) or tuple(src.shape) != tuple(dst.shape):
      raise RuntimeError(f"Generator copy differs from the original: {dst.path} {dst.shape} "
                         f"vs {src.path} {src.shape}.")
    dst.assign(tf.convert_to_tensor(src.numpy()))


def sampling_copy(generator, refresh_from=None):
  """A new Generator with `generator`'s config and weights (plain variables, outside any
  strategy); with refresh_from=copy, reuses that copy (assigns the current weights) instead."""
  copy = models.clone(generator) if refresh_from is None else refresh_from
  copy_values(generator, copy)
  return copy


_PASS_FUNCTIONS = weakref.WeakKeyDictionary()  # copy -> {(B, truncation): traced pass}


def _pass_function(copy, batch_size, truncation):
  """tf.function(k) -> [(mean, variance)] of every BN in train-mode pass k of `copy` (traced
  once per copy and settings; the BNs must have momentum 0 when it runs). The function holds
  the copy weakly, so the cache entry goes when the copy does."""
  functions = _PASS_FUNCTIONS.setdefault(copy, {})
  key = (int(batch_size), float(truncation))
  if key not in functions:
    model_ref = weakref.ref(copy)

    @tf.function
    def batch_moments(k):
      model = model_ref()
      start = tf.cast(k, tf.int64) * key[0]
      z = noise.seeded_noise(STANDING_SEED, key[0], model.z_dim, key[1], start=start)
      labels = noise.seeded_labels(STANDING_SEED, key[0], model.num_classes, start=start)
      model(z, labels if model.num_classes else None, training=True, update_u=False)
      return [(tf.identity(layer.moving_mean), tf.identity(layer.moving_variance))
              for layer in bn_layers(model)]

    functions[key] = batch_moments
  return functions[key]


def set_standing_statistics(copy, stats):
  """Replaces the moving statistics of every BN of `copy` (a sampling copy: it is modified) by
  the equal-weight average of its batch moments over stats.batches train-mode passes of
  stats.batch_size seeded latents (module docstring). Returns copy.

  Each pass runs with every BN's momentum 0, so a BN's moving statistics become exactly that
  pass's batch moments (mean, biased variance); their sum over the passes / K is stored.
  Spectral-norm u is not written.
  """
  layers = bn_layers(copy)
  momenta = [layer.momentum for layer in layers]
  batch_moments = _pass_function(copy, stats.batch_size, stats.truncation)
  sums = None
  try:
    for layer in layers:
      layer.momentum = 0.0
    for k in range(int(stats.batches)):
      moments = batch_moments(tf.constant(k, tf.int64))
      sums = moments if sums is None else [(m0 + m, v0 + v)
                                           for (m0, v0), (m, v) in zip(sums, moments)]
  finally:
    for layer, momentum in zip(layers, momenta):
      layer.momentum = momentum
  for layer, (mean_sum, var_sum) in zip(layers, sums):
    layer.moving_mean.assign(mean_sum / float(stats.batches))
    layer.moving_variance.assign(var_sum / float(stats.batches))
  return copy


class SamplingGenerator:
  """A generator ready to sample with BN settings (what `prepare` returns).

  __call__(z float32 [N, z_dim], labels int [N] (ignored when unconditional),
           return_attention=False)
    -> images float32 [N, R, R, 3] in [-1, 1] (and {layer: [N, H*W, H*W/4]} with attention).
  Attributes: model (the Keras Generator actually called: the original for 'moving', a
  sampling copy otherwise), training (True for 'batch'), stats (BNStats).
  """

  def __init__(self, model, stats):
    self.model, self.stats = model, stats
    self.training = stats.mode == "batch"

  def __call__(self, z, labels=None, return_attention=False):
    m = self.model
    return m(z, labels if m.num_classes else None, training=self.training, update_u=False,
             return_attention=return_attention)


def prepare(generator, stats, copy=None):
  """Returns a SamplingGenerator for `generator` with BN settings `stats` (BNStats).

  'moving' samples `generator` itself in inference mode (nothing is written); 'standing' and
  'batch' sample a sampling copy (`copy`, a copy made earlier by sampling_copy, is reused to
  save building one). `generator` is never modified.
  """
  if stats.mode == "moving":
    return SamplingGenerator(generator, stats)
  model = sampling_copy(generator, refresh_from=copy)
  if stats.mode == "standing":
    set_standing_statistics(model, stats)
  return SamplingGenerator(model, stats)
