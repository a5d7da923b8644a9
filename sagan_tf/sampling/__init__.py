"""Sampling: everything that turns (a generator, a seed, settings) into images.

One home for the questions every consumer (evaluation job, export, tools, training image
summaries) must answer the same way: which z for a seed and truncation, which labels, EMA or
raw generator, which batch-norm statistics.

  noise:     seeded_noise, seeded_labels (stateless: a seed means the same z everywhere),
             slerp, lerp.
  bn_stats:  BNStats (standing / moving / batch), prepare(generator, stats) ->
             SamplingGenerator; standing statistics on a copy, the generator untouched.
  sampler:   load_sampler: one Sampler over a workdir's G or an export (for the tools);
             check_max_batch.
  settings:  with_settings(config, use_ema=, truncation=, bn_stats=, ...): how a config says
             to sample, the flags of every sampling binary applied.
"""

from sagan_tf.sampling.bn_stats import BNStats, prepare
from sagan_tf.sampling.noise import seeded_labels, seeded_noise
from sagan_tf.sampling.sampler import check_max_batch, load_sampler
from sagan_tf.sampling.settings import with_settings

__all__ = ["BNStats", "check_max_batch", "load_sampler", "prepare", "seeded_labels",
           "seeded_noise", "with_settings"]
