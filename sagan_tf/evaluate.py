"""Evaluates SAGAN checkpoints: IS, FID, KID, class accuracy, symmetry error.

  python -m sagan_tf.evaluate --config=experiments/cpu_demo.py --workdir=DIR
      [--once] [--checkpoint=DIR/checkpoints/ckpt-N] [--num_samples=N] [--classifier_path=P]
      [--use_ema=true|false] [--truncation=X] [--timeout_secs=S] [--poll_secs=S]
      [--config.KEY=VALUE ...]

Without --once it follows a training run: every new checkpoint is evaluated once, until the
final step or --timeout_secs without a new checkpoint. Results: DIR/eval/results.jsonl and
TensorBoard scalars in DIR/eval. All logic lives in sagan_tf.evaluation.
"""

import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from sagan_tf import config as config_lib
from sagan_tf import evaluation

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file "
                                          "(experiments/*.py).", lock_config=True)
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
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = evaluation.apply_overrides(
      _CONFIG.value, num_samples=_NUM_SAMPLES.value, classifier_path=_CLASSIFIER.value,
      use_ema=_USE_EMA.value, truncation=_TRUNCATION.value)
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
