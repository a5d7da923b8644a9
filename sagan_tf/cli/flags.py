"""The flags the binaries share, each defined once here with one meaning, and the argv check
that runs before absl parses them. Plain Python (absl, ml_collections; no TensorFlow).

A binary calls the define_* functions of the flags it takes, at import:
  define_config(required)  --config=experiments/X.py and --config.KEY=VALUE overrides
  define_workdir()         --workdir
  define_checkpoint()      --checkpoint
  define_export_dir(help)  --export_dir (written by sagan-export, read by the tools)
  define_generator_flags() --use_ema, --truncation, --bn_stats, --bn_stats_batches,
                           --bn_stats_batch_size, --max_batch: which generator, which latents,
                           which BN statistics, how many images per request
  define_source_flags()    the sampling tools' set: a workdir or an export, a seed, and the
                           generator flags
  define_png_flags(out)    --out, --scale, --pad of the tools that write PNGs
  define_classes(help)     --classes
  check_overrides(argv)    one line for a missing --config file or an unknown config key
"""

import os

from absl import flags
from ml_collections import config_flags

from sagan_tf import choices
from sagan_tf import config as config_lib

flags.disclaim_key_flags()  # the flags belong to (and show in --help of) the calling binary


def define_config(required=False):
  """--config: an experiment file; with --workdir, the recorded config is the default."""
  config_flags.DEFINE_config_file(
      "config", None, "Experiment config file (experiments/<name>.py); --config.KEY=VALUE "
      "overrides one key. Binaries that read a workdir default to the config it recorded "
      "(WORKDIR/config.json) and refuse a --config that describes another model.",
      lock_config=True)
  if required:
    flags.mark_flag_as_required("config")


def define_workdir():
  flags.DEFINE_string("workdir", None, "The training workdir (checkpoints/, config.json, "
                      "samples/, eval/): written by sagan-train, read by the other binaries.")


def define_checkpoint():
  flags.DEFINE_string("checkpoint", None, "A WORKDIR/checkpoints/ckpt-N path (default: the "
                      "latest checkpoint in --workdir).")


def define_export_dir(help_text):
  flags.DEFINE_string("export_dir", None, "An export's base directory (TF Serving's "
                      f"--model_base_path, versions in BASE/<N>): {help_text}")


def define_generator_flags():
  """Which generator, latents, BN statistics and request size (defaults: the config's)."""
  flags.DEFINE_bool("use_ema", None, "Use the EMA generator (true) or the raw one (false). "
                    "Default: config.eval_use_ema (true).")
  flags.DEFINE_float("truncation", None, "Truncation of the latents z: 0 = N(0, I), t > 0 = "
                     "N(0, 1) truncated to (-t, t); standing BN statistics are estimated with "
                     "latents of the same truncation. Default: config.eval_truncation (0).")
  flags.DEFINE_enum("bn_stats", None, list(choices.BN_STATS_MODES),
                    "BN statistics for sampling: standing (re-estimated on a copy of G: the "
                    "average batch moments of K train-mode passes of B seeded latents), moving "
                    "(the checkpoint's moving averages, the authors' evaluation) or batch (the "
                    "generated batch's own moments). Default: config.sample_bn_stats.")
  flags.DEFINE_integer("bn_stats_batches", None, "standing: passes K (default "
                       "config.standing_stats_batches).")
  flags.DEFINE_integer("bn_stats_batch_size", None, "standing: latents per pass B (default "
                       "config.standing_stats_batch_size).")
  flags.DEFINE_integer("max_batch", choices.DEFAULT_MAX_BATCH,
                       "The most images one request may ask for: baked into an export's "
                       "signatures (larger requests fail with INVALID_ARGUMENT before anything "
                       "is allocated), or one run of a tool.")


def define_source_flags():
  """The sampling tools' flags: a workdir (+ config, checkpoint) or an export; seed; G flags."""
  define_config()
  define_workdir()
  define_export_dir("an export to sample instead of --workdir (its latest version, or "
                    "BASE/<N>).")
  define_checkpoint()
  flags.DEFINE_integer("seed", 0, "Noise seed (as the export's generate_from_seed).")
  define_generator_flags()


def define_png_flags(default_out, default_scale=1):
  """--out, --scale, --pad of the tools that write a PNG of images."""
  flags.DEFINE_string("out", default_out, "Output PNG path.")
  flags.DEFINE_integer("scale", default_scale, "Integer upscaling of each image (nearest "
                       "neighbour); 0: automatic, images of at least 128 px (sample sheets: at "
                       "least 512 px wide).", lower_bound=0)
  flags.DEFINE_integer("pad", 2, "Pixels between images.", lower_bound=0)


def png_scale(resolution):
  """--scale, with 0 (automatic) resolved to the smallest factor giving >= 128 px."""
  return flags.FLAGS.scale or max(1, -(-128 // int(resolution)))


def define_classes(help_text):
  """--classes: class ids or recorded class names (comma-separated; Sampler.class_ids)."""
  flags.DEFINE_list("classes", None, "Classes, comma-separated: ids, or the class names the "
                    "run recorded (a value equal to a name means that class), e.g. 0,3 or "
                    f"disk,ring: {help_text}")


def bn_flags_given():
  """True when a --bn_stats* flag was given on the command line."""
  return any(flags.FLAGS[name].present
             for name in ("bn_stats", "bn_stats_batches", "bn_stats_batch_size"))


def check_overrides(argv, flag="config"):
  """Raises SystemExit with one clear line if argv's --config names no file or overrides a key
  the schema lacks.

  Binaries call it before absl parses flags: ml_collections would otherwise fail deep in flag
  parsing with a bare KeyError for `--config.no_such_key=1`, and defer a missing file to its
  first use as two chained tracebacks.
  """
  for i, arg in enumerate(argv[1:], 1):
    name, eq, value = arg.lstrip("-").partition("=")
    if arg.startswith("-") and name == flag:
      path = (value if eq else (argv[i + 1] if i + 1 < len(argv) else "")).split(":", 1)[0]
      if not os.path.isfile(path):
        raise SystemExit(f"Error: --{flag}={path}: no such file; pass an experiment file such "
                         f"as experiments/cpu_demo.py.")
  keys = set(config_lib.base_config().keys())
  for arg in argv[1:]:
    if arg.startswith(f"--{flag}."):
      key = arg[len(flag) + 3:].split("=", 1)[0].split(".", 1)[0]
      if key not in keys:
        raise SystemExit(f"Unknown config key {key!r} in {arg!r}. Known keys: "
                         f"{', '.join(sorted(keys))}.")
