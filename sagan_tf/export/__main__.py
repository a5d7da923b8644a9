r"""Exports a trained generator for TF Serving.

  python -m sagan_tf.export --config=experiments/cpu_demo.py --workdir=/tmp/sagan \
      --export_dir=/tmp/sagan_export [--version=N] [--use_ema=true] [--checkpoint=PATH] \
      [--warmup=true] [--model_name=sagan]

writes /tmp/sagan_export/<N>/ (default N: 1 + the largest existing numeric version, or 1),
atomically, and refuses to overwrite an existing version. Serve it with
  tensorflow_model_server --rest_api_port=8501 --model_name=sagan \
      --model_base_path=/tmp/sagan_export
Signatures: see sagan_tf/export/exporter.py.
"""

import os
import sys

from absl import app, flags
from ml_collections import config_flags

config_flags.DEFINE_config_file(
    "config", None, "Experiment config file the workdir was trained with (experiments/*.py); "
    "--config.key=value overrides.", lock_config=False)
flags.DEFINE_string("workdir", None, "Training workdir holding checkpoints/.")
flags.DEFINE_string("export_dir", None, "Model base path (TF Serving's --model_base_path); "
                    "the export goes to <export_dir>/<version>.")
flags.DEFINE_integer("version", None, "Version number (>= 1); default next free.")
flags.DEFINE_bool("use_ema", True, "Export the EMA generator (default) or the raw generator.")
flags.DEFINE_string("checkpoint", None, "A specific ckpt-N path; default the latest in workdir.")
flags.DEFINE_bool("warmup", False, "Write assets.extra/tf_serving_warmup_requests.")
flags.DEFINE_string("model_name", "sagan", "Model name used in the warm-up requests.")
flags.mark_flags_as_required(["workdir", "export_dir"])
FLAGS = flags.FLAGS


def _fail(error):
  print(f"Error: {error}", file=sys.stderr)
  sys.exit(1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from sagan_tf.export import versions
  base = os.path.abspath(FLAGS.export_dir)
  version = versions.next_version(base) if FLAGS.version is None else FLAGS.version
  try:
    versions.version_dir(base, version)  # fail fast, before loading anything
  except (FileExistsError, ValueError) as e:
    _fail(e)
  if FLAGS.config is None:
    raise app.UsageError("--config=experiments/<name>.py is required (the training config).")
  from sagan_tf.export import exporter
  from sagan_tf.training import checkpoint as checkpoint_lib
  try:
    restored = checkpoint_lib.restore_models(FLAGS.config, FLAGS.workdir, FLAGS.checkpoint)
    generator = restored["ema_generator" if FLAGS.use_ema else "generator"]
    metadata = dict(checkpoint=restored["path"], step=restored["step"], use_ema=FLAGS.use_ema,
                    config=FLAGS.config.to_dict())
    path = exporter.export_generator(generator, base, version, metadata=metadata,
                                     warmup=FLAGS.warmup, model_name=FLAGS.model_name)
  except (FileExistsError, FileNotFoundError, ValueError) as e:
    _fail(e)
  which = "EMA generator" if FLAGS.use_ema else "generator"
  print(f"Exported the {which} of {restored['path']} (step {restored['step']}) to {path}")
  print(f"Serve: tensorflow_model_server --rest_api_port=8501 --model_name={FLAGS.model_name} "
        f"--model_base_path={base}")


def run():
  from sagan_tf.config import check_overrides  # imports TensorFlow: not needed for --help
  check_overrides(sys.argv)
  app.run(main)


if __name__ == "__main__":
  run()
