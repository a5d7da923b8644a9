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
  given_config()           the --config file's own config and the keys overridden (a resume)
  check_overrides(argv)    one line for a --config file that is missing or does not load, or
                           an unknown config key; argv with a repeated override's last value
                           only (what absl parses)
  workdir_overrides(argv)  the binaries that read a workdir: argv without its --config.KEY=VALUE
                           overrides, and their values (applied to the recorded config)
  run(main, argv, reads_workdir)  every binary's entry point: the checks above, then absl's
                           app.run; `--help` lists the binary's own flags however it started
"""

import importlib.util
import os
import re
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from sagan_tf import choices
from sagan_tf import config as config_lib

flags.disclaim_key_flags()  # the flags belong to (and show in --help of) the calling binary


def define_config(required=False):
  """--config: an experiment file; a binary that reads a workdir uses the recorded config."""
  config_flags.DEFINE_config_file(
      "config", None, "Experiment config file (experiments/<name>.py); --config.KEY=VALUE "
      "overrides one key. Binaries that read a workdir use the config it recorded "
      "(WORKDIR/config.json) with the --config.KEY=VALUE overrides applied on top, and take a "
      "--config file only for a workdir that recorded none.", lock_config=True)
  if required:
    flags.mark_flag_as_required("config")


def define_workdir():
  flags.DEFINE_string("workdir", None, "The training workdir (checkpoints/, config.json, "
                      "samples/, eval/): written by sagan-train, read by the other binaries.")


def define_checkpoint():
  flags.DEFINE_string("checkpoint", None, "A checkpoint of --workdir by name (ckpt-N) or path "
                      "(WORKDIR/checkpoints/ckpt-N; its ckpt-N.index or .data-* file names it "
                      f"too), or '{choices.CHECKPOINT_BEST}': the one the evaluation job scored "
                      "best (WORKDIR/best/) (default: the latest checkpoint in --workdir).")


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
  """--classes: class ids or recorded class names (comma-separated, CSV quoting;
  sagan_tf.sampling.sampler.class_ids)."""
  flags.DEFINE_list("classes", None, f"Classes: {help_text} Comma-separated ids, or the class "
                    "names the run recorded, e.g. 0,3 or disk,ring; id:N and name:X say which "
                    "(a value that is one class's id and another's name is refused); a name "
                    "with a comma in double quotes: '\"a, b\",c'.")


def bn_flags_given():
  """True when a --bn_stats* flag was given on the command line."""
  return any(flags.FLAGS[name].present
             for name in ("bn_stats", "bn_stats_batches", "bn_stats_batch_size"))


def _config_files(argv, flag="config"):
  """The values of argv's --config flags (FILE or FILE:ARG; absl parses each)."""
  found = []
  for i, arg in enumerate(argv[1:], 1):
    name, eq, value = arg.lstrip("-").partition("=")
    if arg.startswith("-") and name == flag:
      found.append(value if eq else (argv[i + 1] if i + 1 < len(argv) else ""))
  return found


def given_config(flag="config"):
  """(the parsed --config file's own config, before its --config.KEY=VALUE overrides; the keys
  those overrides set): what sagan-train's command sets, which a resume compares with the
  workdir's record (sagan_tf.store.record.in_effect). The file is loaded again, as
  ml_collections loads it (FILE or FILE:ARG)."""
  holder = flags.FLAGS[flag]
  path, *arg = holder.config_filename.split(":", 1)
  spec = importlib.util.spec_from_file_location("sagan_given_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(*arg), set(holder.override_values)


def _check_config_file(value, flag="config"):
  """Raises SystemExit with one line unless FILE of `value` (FILE or FILE:ARG, as
  ml_collections reads it) loads and its get_config(ARG) runs."""
  path, *arg = value.split(":", 1)
  if not os.path.isfile(path):
    raise SystemExit(f"Error: --{flag}={path}: no such file; pass an experiment file such "
                     f"as experiments/cpu_demo.py.")
  fix = "an experiment file defines get_config() returning a ConfigDict (experiments/cpu_demo.py)"
  try:
    spec = importlib.util.spec_from_file_location("sagan_checked_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "get_config", None)):
      raise SystemExit(f"Error: --{flag}={path} defines no get_config(): {fix}.")
    module.get_config(*arg)
  except Exception as e:  # pylint: disable=broad-except: any error of the file, as one line
    detail = " ".join(f"{type(e).__name__}: {e}".split())
    raise SystemExit(f"Error: --{flag}={path} does not load ({detail}): {fix}.") from None


def _overrides(argv, schema, flag="config"):
  """[(key, [the argv indices of that override: 1, or 2 for `--config.KEY VALUE`])] in argv
  order, up to a bare `--`; schema: the config whose value types say which form a key takes."""
  found, i = [], 1
  while i < len(argv) and argv[i] != "--":
    match = re.match(rf"-{{1,2}}(no)?{flag}\.([^=.]+)[^=]*(=?)", argv[i])
    if not match:
      i += 1
      continue
    key = match.group(2)
    separate = (not (match.group(1) or match.group(3)) and key in schema
                and not isinstance(schema[key], bool) and i + 1 < len(argv))
    found.append((key, [i, i + 1] if separate else [i]))
    i += len(found[-1][1])
  return found


def check_overrides(argv, flag="config"):
  """Returns argv with a --config.KEY override given more than once kept only where it is
  last (its last value counts, for every key: ml_collections alone would append a tuple key's
  values, so `--config.g_attention=(64,) --config.g_attention=(32,)` meant (64, 32)).

  Raises SystemExit with one clear line if argv's --config names no file, a file that does
  not load (a syntax error, no get_config(), an error in it), or overrides a key the schema
  lacks. Binaries call it before absl parses flags (and before TensorFlow loads) and give absl
  what it returns: ml_collections would otherwise fail deep in flag parsing with a bare
  KeyError for `--config.no_such_key=1`, a 37-line traceback for a file without get_config,
  and defer a missing file to its first use as two chained tracebacks.
  """
  for value in _config_files(argv, flag):
    _check_config_file(value, flag)
  schema = config_lib.base_config()
  overrides = _overrides(argv, schema, flag)
  for key, where in overrides:
    if key not in schema:
      raise SystemExit(f"Error: Unknown config key {key!r} in {argv[where[0]]!r}. Known keys: "
                       f"{', '.join(sorted(schema.keys()))}.")
  last = {key: where for key, where in overrides}
  dropped = {i for key, where in overrides if where is not last[key] for i in where}
  return [arg for i, arg in enumerate(argv) if i not in dropped]


def workdir_overrides(argv):
  """Returns (argv for absl, {key: value}) for a binary that reads a workdir.

  The --config.KEY=VALUE overrides apply to the config the workdir recorded
  (store.record.workdir_config, which refuses fixed keys, and takes a --config file equal to
  the record, or for a workdir that recorded none): they are taken out of argv and parsed here
  with ml_collections' own parsers against the schema, so values get the types and errors they
  get in training. Raises SystemExit with one line for a bad file, an unknown key or a bad
  value (plain Python: before TensorFlow loads).
  """
  argv = check_overrides(argv)
  schema = config_lib.base_config()
  taken_at = {i for _, where in _overrides(argv, schema) for i in where}
  rest = [arg for i, arg in enumerate(argv) if i not in taken_at]
  taken = [argv[0]] + [argv[i] for i in sorted(taken_at)]
  if len(taken) == 1:
    return rest, {}
  parsed = flags.FlagValues()
  try:
    config_flags.DEFINE_config_dict("config", schema, flag_values=parsed, sys_argv=taken)
    parsed(taken)
  except (flags.Error, KeyError, TypeError, ValueError, AttributeError) as e:
    raise SystemExit(f"Error: {' '.join(str(e).split())}") from None
  return rest, dict(parsed["config"].override_values)


def _show_in_help(module_name):
  """Makes `--help` show the binary's docstring and flags. absl prints the docstring of
  __main__ and the flags filed under sys.argv[0]: for a console script those are its launcher,
  which has neither (with `python -m`, __main__ is the binary itself)."""
  for flag in flags.FLAGS.get_key_flags_for_module(module_name):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  launcher = sys.modules.get("__main__")
  if launcher is not None and not launcher.__doc__:
    launcher.__doc__ = sys.modules[module_name].__doc__


def run(main, argv=None, reads_workdir=False):
  """A binary's entry point: argv (default sys.argv) checked by check_overrides, or split by
  workdir_overrides for a binary that reads a workdir (then main(args, overrides)), before
  absl's app.run parses the flags and exits with main's return value. Tests call it in
  process with their own argv."""
  argv = list(sys.argv if argv is None else argv)
  _show_in_help(main.__module__)
  if reads_workdir:
    argv, overrides = workdir_overrides(argv)
    app.run(lambda args: main(args, overrides), argv=argv)
  else:
    app.run(main, argv=check_overrides(argv))
