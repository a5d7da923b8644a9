"""Evaluates SAGAN checkpoints: IS, FID, KID, class accuracy, symmetry error.

  python -m sagan_tf.evaluate --workdir=DIR [--config=experiments/cpu_demo.py]
      [--once] [--checkpoint=DIR/checkpoints/ckpt-N] [--num_samples=N] [--classifier_path=P]
      [--use_ema=true|false] [--truncation=X] [--bn_stats=standing|moving|batch]
      [--bn_stats_batches=K] [--bn_stats_batch_size=B] [--timeout_secs=S] [--poll_secs=S]
      [--config.KEY=VALUE ...]

The config is the one DIR recorded (DIR/config.json); a given --config must agree with it on
the model's keys. Without --once it follows a training run: every new checkpoint is evaluated
once, until the final step or --timeout_secs without a new checkpoint. Results:
DIR/eval/results.jsonl and TensorBoard scalars in DIR/eval. All logic lives in
sagan_tf.evaluation and sagan_tf.sampling.
"""

import sys

from absl import app
from absl import flags

from sagan_tf import config as config_lib
from sagan_tf import evaluation
from sagan_tf.sampling import flags as sampling_flags

sampling_flags.define_config_flag()
sampling_flags.define_bn_flags()
_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir (holds checkpoints/).")
_ONCE = flags.DEFINE_bool("once", False, "Evaluate one checkpoint (--checkpoint or the latest) "
                          "and exit, instead of following the workdir.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A ckpt-N path to evaluate (implies "
                                  "--once).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "Overrides config.eval_num_samples.")
_CLASSIFIER = flags.DEFINE_string("classifier_path", None, "Overrides config.classifier_path: a "
                                  "local SavedModel dir or TF-Hub handle.")
_USE_EMA = flags.DEFINE_bool("use_ema", None, "Overrides config.eval_use_ema.")
_TRUNCATION = flags.DEFINE_float("truncation", None, "Overrides config.eval_truncation.")
_TIMEOUT = flags.DEFINE_float("timeout_secs", 3600.0, "Continuous mode: stop after this long "
                              "without a new checkpoint.")
_POLL = flags.DEFINE_float("poll_secs", 30.0, "Continuous mode: seconds between polls.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    config = sampling_flags.workdir_config(_WORKDIR.value, FLAGS.config)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"Error: {e}")
  config = evaluation.apply_overrides(
      config, num_samples=_NUM_SAMPLES.value, classifier_path=_CLASSIFIER.value,
      use_ema=_USE_EMA.value, truncation=_TRUNCATION.value, bn_stats=FLAGS.bn_stats,
      bn_stats_batches=FLAGS.bn_stats_batches, bn_stats_batch_size=FLAGS.bn_stats_batch_size)
  if _ONCE.value or _CHECKPOINT.value:
    evaluation.evaluate_and_write(config, _WORKDIR.value, checkpoint_path=_CHECKPOINT.value)
  else:
    evaluation.run_continuous(config, _WORKDIR.value, timeout_secs=_TIMEOUT.value,
                              poll_secs=_POLL.value)


def run():
  config_lib.check_overrides(sys.argv)
  app.run(main)


if __name__ == "__main__":
  run()
