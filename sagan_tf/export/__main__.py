r"""Exports a trained generator for TF Serving.

  python -m sagan_tf.export --workdir=/tmp/sagan --export_dir=/tmp/sagan_export \
      [--config=experiments/cpu_demo.py] [--version=N] [--use_ema=true] [--checkpoint=PATH] \
      [--bn_stats=standing|moving] [--bn_stats_batches=K] [--bn_stats_batch_size=B] \
      [--truncation=T] [--max_batch=256] [--warmup=true] [--model_name=sagan]

writes /tmp/sagan_export/<N>/ (default N: 1 + the largest existing numeric version, or 1),
atomically, and refuses to overwrite an existing version. The config is the one the workdir
recorded (a given --config must agree with it on the model's keys). The exported generator is
a sampling copy with standing BN statistics by default (sagan_tf.sampling.bn_stats; the
standing latents truncated at --truncation); the settings and --max_batch go to
assets.extra/sagan_export.json. Serve it with
  tensorflow_model_server --rest_api_port=8501 --model_name=sagan \
      --model_base_path=/tmp/sagan_export
Signatures: see sagan_tf/export/exporter.py.
"""

import os
import sys

from absl import app, flags

from sagan_tf.sampling import flags as sampling_flags

sampling_flags.define_config_flag()
flags.DEFINE_string("workdir", None, "Training workdir holding checkpoints/.")
flags.DEFINE_string("export_dir", None, "Model base path (TF Serving's --model_base_path); "
                    "the export goes to <export_dir>/<version>.")
flags.DEFINE_integer("version", None, "Version number (>= 1); default next free.")
flags.DEFINE_bool("use_ema", True, "Export the EMA generator (default) or the raw generator.")
flags.DEFINE_string("checkpoint", None, "A specific ckpt-N path; default the latest in workdir.")
flags.DEFINE_float("truncation", 0.0, "Truncation of the standing-statistics latents (0: "
                   "N(0, I)); use the truncation the export will mostly be asked for.")
flags.DEFINE_integer("max_batch", sampling_flags.DEFAULT_MAX_BATCH,
                     "Largest request (rows) the signatures accept; larger ones fail with "
                     "INVALID_ARGUMENT before anything is allocated.")
flags.DEFINE_bool("warmup", False, "Write assets.extra/tf_serving_warmup_requests.")
flags.DEFINE_string("model_name", "sagan", "Model name used in the warm-up requests.")
sampling_flags.define_bn_flags()
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
    if FLAGS.max_batch < 1:
      raise ValueError(f"--max_batch must be >= 1, got {FLAGS.max_batch}.")
    config = sampling_flags.workdir_config(FLAGS.workdir, FLAGS.config)
    stats = sampling_flags.bn_stats_from_flags(config, FLAGS.truncation)
    if stats.mode == "batch":
      raise ValueError("--bn_stats=batch cannot be exported: each image would depend on the "
                       "other rows of its request. Export standing (default) or moving.")
  except (FileExistsError, FileNotFoundError, ValueError) as e:
    _fail(e)
  from sagan_tf.export import exporter
  from sagan_tf.sampling import bn_stats
  from sagan_tf.training import checkpoint as checkpoint_lib
  try:
    restored = checkpoint_lib.restore_models(config, FLAGS.workdir, FLAGS.checkpoint)
    generator = restored["ema_generator" if FLAGS.use_ema else "generator"]
    sampling = bn_stats.prepare(generator, stats)
    metadata = dict(checkpoint=restored["path"], step=restored["step"], use_ema=FLAGS.use_ema,
                    config=config.to_dict(), bn_stats=stats.identity())
    path = exporter.export_generator(sampling.model, base, version, metadata=metadata,
                                     warmup=FLAGS.warmup, model_name=FLAGS.model_name,
                                     max_batch=FLAGS.max_batch)
  except (FileExistsError, FileNotFoundError, ValueError) as e:
    _fail(e)
  which = "EMA generator" if FLAGS.use_ema else "generator"
  print(f"Exported the {which} of {restored['path']} (step {restored['step']}) with "
        f"{stats.describe()}, at most {FLAGS.max_batch} rows per request, to {path}")
  print(f"Serve: tensorflow_model_server --rest_api_port=8501 --model_name={FLAGS.model_name} "
        f"--model_base_path={base}")


def run():
  from sagan_tf.config import check_overrides  # imports TensorFlow: not needed for --help
  check_overrides(sys.argv)
  app.run(main)


if __name__ == "__main__":
  run()
