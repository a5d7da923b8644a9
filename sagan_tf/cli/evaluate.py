"""sagan-evaluate: IS, FID, KID, class accuracy, symmetry error of checkpoints
(python -m sagan_tf.cli.evaluate).

  sagan-evaluate --workdir=DIR [--config=experiments/cpu_demo.py]
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

from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

cli_flags.define_config()
cli_flags.define_workdir()
cli_flags.define_checkpoint()
cli_flags.define_generator_flags()
flags.mark_flag_as_required("workdir")
_ONCE = flags.DEFINE_bool("once", False, "Evaluate one checkpoint (--checkpoint or the latest) "
                          "and exit, instead of following the workdir.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "Overrides config.eval_num_samples.")
_CLASSIFIER = flags.DEFINE_string("classifier_path", None, "Overrides config.classifier_path: a "
                                  "local SavedModel dir or TF-Hub handle.")
_TIMEOUT = flags.DEFINE_float("timeout_secs", 3600.0, "Continuous mode: stop after this long "
                              "without a new checkpoint.")
_POLL = flags.DEFINE_float("poll_secs", 30.0, "Continuous mode: seconds between polls.")
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  with quiet.startup():  # TensorFlow's start-up noise silenced
    # deferred: TensorFlow loads here, after the flags are parsed (--help stays fast).
    from sagan_tf import evaluation  # deferred: keeps --help free of TensorFlow
    from sagan_tf.cli import sources  # deferred: keeps --help free of TensorFlow
  try:
    config = sources.workdir_config()
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"Error: {e}")
  config = evaluation.apply_overrides(config, num_samples=_NUM_SAMPLES.value,
                                      classifier_path=_CLASSIFIER.value)
  if _ONCE.value or FLAGS.checkpoint:
    evaluation.evaluate_and_write(config, FLAGS.workdir, checkpoint_path=FLAGS.checkpoint)
  else:
    evaluation.run_continuous(config, FLAGS.workdir, timeout_secs=_TIMEOUT.value,
                              poll_secs=_POLL.value)


def run():
  cli_flags.check_overrides(sys.argv)
  app.run(main)


if __name__ == "__main__":
  run()
