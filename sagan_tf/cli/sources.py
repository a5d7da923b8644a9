"""What the sampling binaries read, from their parsed flags (cli.flags): a workdir's config
(the recorded one with the --config.KEY=VALUE overrides of cli.flags.workdir_overrides) with
the generator flags applied, and the Sampler the tools draw from. Imports TensorFlow (the
binaries import it in their deferred block)."""

from absl import flags

from sagan_tf import config as config_lib
from sagan_tf import sampling
from sagan_tf.cli import flags as cli_flags
from sagan_tf.store import record

FLAGS = flags.FLAGS


def generator_config(config):
  """config with --use_ema, --truncation, --bn_stats* applied (those given)."""
  return sampling.with_settings(config, use_ema=FLAGS.use_ema, truncation=FLAGS.truncation,
                                bn_stats=FLAGS.bn_stats, bn_stats_batches=FLAGS.bn_stats_batches,
                                bn_stats_batch_size=FLAGS.bn_stats_batch_size)


def workdir_config(overrides):
  """The config for --workdir: its recorded one with `overrides` ({key: value}) applied (or
  a --config file, for a workdir that recorded none), then the generator flags; validated."""
  return config_lib.validate(generator_config(record.workdir_config(
      FLAGS.workdir, FLAGS.config, overrides)))


def sampler_from_flags(overrides):
  """The Sampler of the parsed source flags (define_source_flags): --workdir (its config with
  `overrides`, {key: value}) or --export_dir."""
  max_batch = sampling.check_max_batch(FLAGS.max_batch)
  if FLAGS.workdir and FLAGS.export_dir:
    raise ValueError("Pass exactly one of --workdir or --export_dir.")
  if FLAGS.export_dir and overrides:
    raise ValueError(f"--config.{sorted(overrides)[0]}: --config.KEY=VALUE changes a "
                     f"workdir's recorded config; an export has its settings baked in. Drop "
                     f"it, or sample the --workdir.")
  if FLAGS.export_dir:
    stats = None
    if cli_flags.bn_flags_given():
      stats = sampling.settings.bn_stats(generator_config(
          FLAGS.config or config_lib.base_config()))
    return sampling.load_sampler(export_dir=FLAGS.export_dir, bn_stats=stats,
                                 max_batch=max_batch)
  if not FLAGS.workdir:
    raise ValueError("Pass --workdir=DIR (a training workdir) or --export_dir=DIR (an export).")
  config = workdir_config(overrides)
  return sampling.load_sampler(config=config, workdir=FLAGS.workdir, checkpoint=FLAGS.checkpoint,
                               use_ema=config.eval_use_ema,
                               bn_stats=sampling.settings.bn_stats(config), max_batch=max_batch)


def sample_truncation(sampler):
  """--truncation, or the workdir config's eval_truncation (0 for an export)."""
  if FLAGS.truncation is not None:
    return float(FLAGS.truncation)
  return float(sampler.config.eval_truncation) if sampler.config is not None else 0.0
