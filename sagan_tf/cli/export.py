r"""sagan-export: a trained generator as a TF Serving SavedModel (python -m sagan_tf.cli.export).

  sagan-export --workdir=/tmp/sagan --export_dir=/tmp/sagan_export \
      [--config=experiments/cpu_demo.py] [--version=N] [--use_ema=true] [--checkpoint=PATH|best] \
      [--bn_stats=standing|moving] [--bn_stats_batches=K] [--bn_stats_batch_size=B] \
      [--truncation=T] [--max_batch=256] [--warmup=true] [--model_name=sagan]

writes /tmp/sagan_export/<N>/ (default N: 1 + the largest existing numeric version, or 1),
atomically, and refuses to overwrite an existing version. The config is the one the workdir
recorded (a given --config must agree with it on the model's keys). The exported generator is
a sampling copy with standing BN statistics by default (sagan_tf.sampling.bn_stats; the
standing latents truncated at --truncation, the truncation requests will mostly use); the
settings, --max_batch and the class names the run recorded go to
assets.extra/sagan_export.json. Serve it with
  tensorflow_model_server --rest_api_port=8501 --model_name=sagan \
      --model_base_path=/tmp/sagan_export
Signatures: see sagan_tf/export/exporter.py.
"""

import os
import sys

from absl import app
from absl import flags

from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet
from sagan_tf.store import exports

cli_flags.define_config()
cli_flags.define_workdir()
cli_flags.define_export_dir("sagan-export writes BASE/<version>.")
cli_flags.define_checkpoint()
cli_flags.define_generator_flags()
flags.DEFINE_integer("version", None, "Version number (>= 1); default next free.")
flags.DEFINE_bool("warmup", False, "Write assets.extra/tf_serving_warmup_requests.")
flags.DEFINE_string("model_name", "sagan", "Model name used in the warm-up requests.")
flags.mark_flags_as_required(["workdir", "export_dir"])
FLAGS = flags.FLAGS


def _fail(error):
  print(f"Error: {error}", file=sys.stderr)
  sys.exit(1)


def main(argv, overrides):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  base = os.path.abspath(FLAGS.export_dir)
  version = exports.next_version(base) if FLAGS.version is None else FLAGS.version
  try:
    exports.version_dir(base, version)  # fail fast, before loading anything
  except (FileExistsError, NotADirectoryError, ValueError) as e:
    _fail(e)
  with quiet.startup():  # TensorFlow's start-up noise silenced
    # deferred: TensorFlow loads here, after the flags are parsed (--help stays fast).
    from sagan_tf import sampling  # deferred: keeps --help free of TensorFlow
    from sagan_tf.cli import sources  # deferred: keeps --help free of TensorFlow
    from sagan_tf.export import exporter  # deferred: keeps --help free of TensorFlow
    from sagan_tf.store import checkpoints  # deferred: keeps --help free of TensorFlow
    from sagan_tf.store import record  # deferred: keeps --help free of TensorFlow
  try:
    max_batch = sampling.check_max_batch(FLAGS.max_batch)
    config = sources.workdir_config(overrides)
    stats = sampling.settings.bn_stats(config)
    if stats.mode == "batch":
      raise ValueError("--bn_stats=batch cannot be exported: each image would depend on the "
                       "other rows of its request. Export standing (default) or moving.")
    restored = checkpoints.restore_models(config, FLAGS.workdir, FLAGS.checkpoint)
    generator = restored[sampling.settings.generator_key(config)]
    prepared = sampling.prepare(generator, stats)
    metadata = dict(checkpoint=restored["path"], step=restored["step"],
                    use_ema=config.eval_use_ema, config=config.to_dict(),
                    bn_stats=stats.identity(), class_names=record.class_names(FLAGS.workdir))
    path = exporter.export_generator(prepared.model, base, version, metadata=metadata,
                                     warmup=FLAGS.warmup, model_name=FLAGS.model_name,
                                     max_batch=max_batch)
  except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError,
          exporter.DiskFullError) as e:
    _fail(e)
  which = "EMA generator" if config.eval_use_ema else "generator"
  print(f"Exported the {which} of {restored['path']} (step {restored['step']}) with "
        f"{stats.describe()}, at most {max_batch} rows per request, to {path}")
  print(f"Serve: tensorflow_model_server --rest_api_port=8501 --model_name={FLAGS.model_name} "
        f"--model_base_path={base}")


def run(argv=None):
  cli_flags.run(main, argv, reads_workdir=True)


if __name__ == "__main__":
  run()
