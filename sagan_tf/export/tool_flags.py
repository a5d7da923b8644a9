"""The flags the tools share to name a generator: a workdir (+ config) or an export.

Importing this module is cheap (no TensorFlow), so a tool's --help is fast.
"""

from absl import flags
from ml_collections import config_flags

flags.disclaim_key_flags()  # the flags belong to (and show in --help of) the calling tool


def define_flags():
  """Defines --config, --workdir, --export_dir, --checkpoint, --use_ema, --seed, --truncation."""
  config_flags.DEFINE_config_file(
      "config", None, "Experiment config file (experiments/<name>.py) the workdir was "
      "trained with; --config.key=value overrides. Needed with --workdir.", lock_config=False)
  flags.DEFINE_string("workdir", None, "Training workdir (uses its latest checkpoint).")
  flags.DEFINE_string("export_dir", None, "An export: BASE (latest version) or BASE/<version>.")
  flags.DEFINE_string("checkpoint", None, "A specific ckpt-N path (default: latest in workdir).")
  flags.DEFINE_bool("use_ema", True, "With --workdir: use the EMA generator (else the raw one).")
  flags.DEFINE_integer("seed", 0, "Noise seed (as the export's generate_from_seed).")
  flags.DEFINE_float("truncation", 0.0, "0: z ~ N(0, I); > 0: truncated normal at this bound.")


def sampler_from_flags():
  """Returns sagan_tf.export.sampler.load_sampler(...) for the parsed flags."""
  from sagan_tf.export import sampler
  f = flags.FLAGS
  return sampler.load_sampler(config=f.config, workdir=f.workdir, export_dir=f.export_dir,
                              checkpoint=f.checkpoint, use_ema=f.use_ema)
