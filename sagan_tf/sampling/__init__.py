"""Sampling: everything that turns (a generator, a seed, settings) into images.

One home for the questions every consumer (evaluation job, export, tools, training image
summaries) must answer the same way: which z for a seed and truncation, which labels, EMA or
raw generator, which batch-norm statistics.

Submodules (imported on demand, so binaries' --help stays fast):
  noise:     seeded_noise, seeded_labels (stateless: a seed means the same z everywhere),
             slerp, lerp.
  bn_stats:  BNStats (standing / moving / batch), prepare(generator, stats) ->
             SamplingGenerator; standing statistics on a copy, the generator untouched.
  sampler:   load_sampler: one Sampler over a workdir's G or an export (for the tools).
  flags:     the sampling flags of the binaries; workdir_config (a workdir's recorded config).
"""

import importlib

_EXPORTS = {"seeded_noise": "noise", "seeded_labels": "noise", "BNStats": "bn_stats",
            "prepare": "bn_stats", "load_sampler": "sampler"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
  if name in _EXPORTS:
    module = importlib.import_module(f"sagan_tf.sampling.{_EXPORTS[name]}")
    return getattr(module, name)
  raise AttributeError(f"module 'sagan_tf.sampling' has no attribute {name!r}")
