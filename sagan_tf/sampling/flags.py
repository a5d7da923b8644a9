"""The sampling flags the binaries share, and the workdir's recorded config.

  define_bn_flags()      --bn_stats, --bn_stats_batches, --bn_stats_batch_size (evaluation,
                         export, tools): default None = the config's sample_bn_stats,
                         standing_stats_batches, standing_stats_batch_size.
  define_flags()         the tools' flags: --config, --workdir, --export_dir, --checkpoint,
                         --use_ema, --seed, --truncation, --max_batch and the BN flags.
  workdir_config(workdir, given)   the config a binary uses for a workdir (issue: no --config
                         needs repeating): the recorded workdir/config.json, or the given
                         --config if it agrees with the recording on MODEL_KEYS.
  sampler_from_flags()   sagan_tf.sampling.sampler.load_sampler(...) for the parsed tool flags.

Importing this module is cheap (no TensorFlow), so a binary's --help is fast.
"""

from absl import flags
from ml_collections import config_flags

flags.disclaim_key_flags()  # the flags belong to (and show in --help of) the calling binary

# The keys that define the networks' variables and outputs: a --config that differs from the
# workdir's recorded config on one of these describes another model.
MODEL_KEYS = ("resolution", "g_ch", "d_ch", "z_dim", "num_classes", "g_attention",
              "d_attention", "sn_power_iterations")
BN_MODES = ("standing", "moving", "batch")  # sagan_tf.sampling.bn_stats.MODES
DEFAULT_MAX_BATCH = 256  # images per request / tool run (serving memory stays bounded)


def define_bn_flags():
  """Defines --bn_stats, --bn_stats_batches, --bn_stats_batch_size (defaults: the config's)."""
  flags.DEFINE_enum("bn_stats", None, list(BN_MODES),
                    "BN statistics for sampling: standing (re-estimated on a copy of G: the "
                    "average batch moments of K train-mode passes of B seeded latents), moving "
                    "(the checkpoint's moving averages, the authors' evaluation) or batch (the "
                    "generated batch's own moments). Default: config.sample_bn_stats.")
  flags.DEFINE_integer("bn_stats_batches", None, "standing: passes K (default "
                       "config.standing_stats_batches).")
  flags.DEFINE_integer("bn_stats_batch_size", None, "standing: latents per pass B (default "
                       "config.standing_stats_batch_size).")


def bn_flags_given():
  f = flags.FLAGS
  return any(f[name].present for name in ("bn_stats", "bn_stats_batches", "bn_stats_batch_size"))


def bn_stats_from_flags(config, truncation):
  """BNStats from the BN flags over the config's keys; standing latents truncated like the
  samples (`truncation`)."""
  from sagan_tf.sampling import bn_stats  # pylint: disable=import-outside-toplevel
  f = flags.FLAGS
  return bn_stats.BNStats.from_config(config, truncation, f.bn_stats, f.bn_stats_batches,
                                      f.bn_stats_batch_size)


def define_config_flag():
  """--config, optional for binaries that read a workdir (its recorded config is the default)."""
  config_flags.DEFINE_config_file(
      "config", None, "Experiment config file (experiments/<name>.py); --config.key=value "
      "overrides. Default with --workdir: the config the workdir recorded (config.json); a "
      "given --config must agree with it on the model's keys.",
      lock_config=False)


def define_flags():
  """Defines the tools' flags (module docstring)."""
  define_config_flag()
  flags.DEFINE_string("workdir", None, "Training workdir (uses its latest checkpoint).")
  flags.DEFINE_string("export_dir", None, "An export: BASE (latest version) or BASE/<version>.")
  flags.DEFINE_string("checkpoint", None, "A specific ckpt-N path (default: latest in workdir).")
  flags.DEFINE_bool("use_ema", True, "With --workdir: use the EMA generator (else the raw one).")
  flags.DEFINE_integer("seed", 0, "Noise seed (as the export's generate_from_seed).")
  flags.DEFINE_float("truncation", 0.0, "0: z ~ N(0, I); > 0: truncated normal at this bound "
                     "(also the standing-statistics latents').")
  flags.DEFINE_integer("max_batch", DEFAULT_MAX_BATCH,
                       "Refuse a run that needs more images than this.")
  define_bn_flags()


def workdir_config(workdir, given=None):
  """The config to use for `workdir`.

  Without `given`: the config recorded in workdir/config.json (FileNotFoundError naming
  --config if there is none). With `given`: `given`, after checking that it agrees with the
  recording (if any) on MODEL_KEYS; ValueError naming the differing keys otherwise.
  """
  import os  # pylint: disable=import-outside-toplevel
  from sagan_tf import config as config_lib  # pylint: disable=import-outside-toplevel
  recorded_path = os.path.join(workdir, config_lib.RECORD_FILE)
  if given is None:
    if not os.path.isdir(workdir):
      raise FileNotFoundError(f"--workdir={workdir} does not exist.")
    return config_lib.recorded_config(workdir)
  if not os.path.isfile(recorded_path):
    return given
  recorded = config_lib.recorded_config(workdir)
  norm = lambda v: list(v) if isinstance(v, (tuple, list)) else v
  differ = {k: (norm(given[k]), norm(recorded[k])) for k in MODEL_KEYS
            if norm(given[k]) != norm(recorded[k])}
  if differ:
    detail = ", ".join(f"{k}={g!r} (recorded {r!r})" for k, (g, r) in differ.items())
    raise ValueError(f"--config describes another model than {workdir} was trained with: "
                     f"{detail}. Drop --config to use the recorded one ({recorded_path}).")
  return given


def sampler_from_flags():
  """Returns sagan_tf.sampling.sampler.load_sampler(...) for the parsed tool flags."""
  from sagan_tf.sampling import sampler  # pylint: disable=import-outside-toplevel
  f = flags.FLAGS
  if f.max_batch < 1:
    raise ValueError(f"--max_batch must be >= 1, got {f.max_batch}.")
  if f.workdir and f.export_dir:
    raise ValueError("Pass exactly one of --workdir or --export_dir.")
  if f.export_dir:
    bn = None
    if bn_flags_given():
      from sagan_tf import config as config_lib  # pylint: disable=import-outside-toplevel
      bn = bn_stats_from_flags(f.config or config_lib.base_config(), f.truncation)
    return sampler.load_sampler(export_dir=f.export_dir, bn_stats=bn, max_batch=f.max_batch)
  if not f.workdir:
    raise ValueError("Pass --workdir=DIR (a training workdir) or --export_dir=DIR (an export).")
  config = workdir_config(f.workdir, f.config)
  return sampler.load_sampler(config=config, workdir=f.workdir, checkpoint=f.checkpoint,
                              use_ema=f.use_ema, bn_stats=bn_stats_from_flags(config,
                                                                              f.truncation),
                              max_batch=f.max_batch)
