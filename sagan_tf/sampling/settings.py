"""How a config says to sample: which generator (config.eval_use_ema), which latents
(config.eval_truncation) and which BN statistics (config.sample_bn_stats,
standing_stats_batches, standing_stats_batch_size). Every binary that samples a workdir
applies its flags here, so a flag means the same in all of them."""

import copy

from sagan_tf.sampling.bn_stats import BNStats


def with_settings(config, use_ema=None, truncation=None, bn_stats=None, bn_stats_batches=None,
                  bn_stats_batch_size=None):
  """Returns a copy of config with the sampling settings that are not None applied."""
  config = copy.deepcopy(config)
  if use_ema is not None:
    if not isinstance(use_ema, bool):
      raise ValueError(f"use_ema must be True or False, got {use_ema!r}.")
    config.eval_use_ema = use_ema
  if truncation is not None:
    if not float(truncation) >= 0:
      raise ValueError(f"--truncation must be >= 0 (0 = no truncation), got {truncation}.")
    config.eval_truncation = float(truncation)
  for key, value in (("sample_bn_stats", bn_stats), ("standing_stats_batches", bn_stats_batches),
                     ("standing_stats_batch_size", bn_stats_batch_size)):
    if value is not None:
      config[key] = value
  return config


def bn_stats(config):
  """The BNStats a config samples with; standing latents truncated like the samples."""
  return BNStats.from_config(config, truncation=config.eval_truncation)


def generator_key(config):
  """'ema_generator' or 'generator': the restored model (store.checkpoints) a config samples."""
  return "ema_generator" if config.eval_use_ema else "generator"
