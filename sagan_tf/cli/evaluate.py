"""sagan-evaluate: FID, KID, IS, class accuracy, symmetry error of checkpoints, and the best
checkpoint kept in DIR/best/ (python -m sagan_tf.cli.evaluate).

  sagan-evaluate --workdir=DIR [--config=experiments/cpu_demo.py]
      [--once] [--checkpoint=DIR/checkpoints/ckpt-N|best] [--num_samples=N]
      [--classifier_path=P] [--class_classifier_path=S]
      [--use_ema=true|false] [--truncation=X] [--bn_stats=standing|moving|batch]
      [--bn_stats_batches=K] [--bn_stats_batch_size=B] [--timeout_secs=S] [--poll_secs=S]
      [--keep_best=true|false] [--config.KEY=VALUE ...]

The config is the one DIR recorded (DIR/config.json); a given --config must agree with it on
the model's keys. Without --once it follows a training run: new checkpoints are evaluated,
the newest first when it falls behind, until the final step or --timeout_secs without a new
checkpoint. Results: DIR/eval/results.jsonl, TensorBoard scalars in DIR/eval, the best
checkpoint in DIR/best/. All logic lives in sagan_tf.evaluation and sagan_tf.sampling.

Exit codes: 0 done; 1 bad input or an error, as one line `Error: ...` on stderr (flag errors
that need no TensorFlow come before it loads); 130 interrupted by Ctrl-C (nothing of the
checkpoint in progress is written).
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging

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
_CLASSIFIER = flags.DEFINE_string("classifier_path", None, "Overrides config.classifier_path: "
                                  "the main network (FID, KID), a local SavedModel dir or "
                                  "TF-Hub handle.")
_CLASS_CLASSIFIER = flags.DEFINE_string(
    "class_classifier_path", None, "Overrides config.eval_class_classifier_path: a stand-in "
    "SavedModel with the dataset's classes, for class accuracy (and its IS) beside the main "
    "network ('' = none).")
_TIMEOUT = flags.DEFINE_float("timeout_secs", 3600.0, "Continuous mode: stop after this long "
                              "without a new checkpoint.")
_POLL = flags.DEFINE_float("poll_secs", 30.0, "Continuous mode: seconds between polls.")
_KEEP_BEST = flags.DEFINE_bool(
    "keep_best", None, "Which results may keep the best checkpoint in DIR/best/. Unset: those "
    "of the workdir's own scoring (N above the main network's features, and the generator, "
    "truncation and BN statistics DIR/config.json says), which also replace a best/ kept with "
    "other settings; true: any (the best of this evaluation's settings, replacing a best/ of "
    "other settings); false: none (best/ is left alone).")
FLAGS = flags.FLAGS
INTERRUPTED = 130  # the exit code after Ctrl-C (128 + SIGINT)


def _flag_errors():
  """The first problem of the flags that needs no TensorFlow to see, or None."""
  for name in ("bn_stats_batches", "bn_stats_batch_size"):
    value = FLAGS[name].value
    if value is not None and value < 1:
      return (f"--{name}={value}: standing BN statistics average K passes of B latents, so "
              "--bn_stats_batches and --bn_stats_batch_size must be >= 1.")
  for flag in (_CLASSIFIER, _CLASS_CLASSIFIER):
    path = flag.value
    if path and "://" not in path and not any(
        os.path.isfile(os.path.join(path, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
      what = ("does not exist" if not os.path.exists(path)
              else "is not a SavedModel directory (no saved_model.pb)")
      return (f"--{flag.name}={path} {what}: pass a SavedModel directory (the imported "
              "Inception network, or a stand-in from sagan-train-classifier; see "
              "docs/evaluation.md)" + (", or leave it out for TF-Hub's Inception."
                                       if flag is _CLASSIFIER else "."))
  return None


def _fail(error):
  print(f"Error: {' '.join(str(error).split())}", file=sys.stderr)
  return 1


def _evaluate(overrides):
  with quiet.startup():  # TensorFlow's start-up noise silenced
    # deferred: TensorFlow loads here, after the flags are checked (--help stays fast).
    from sagan_tf import evaluation  # deferred: keeps --help free of TensorFlow
    from sagan_tf.cli import sources  # deferred: keeps --help free of TensorFlow
  try:
    config = evaluation.apply_overrides(sources.workdir_config(overrides),
                                        num_samples=_NUM_SAMPLES.value,
                                        classifier_path=_CLASSIFIER.value,
                                        class_classifier_path=_CLASS_CLASSIFIER.value)
    if _ONCE.value or FLAGS.checkpoint:
      evaluation.evaluate_and_write(config, FLAGS.workdir, checkpoint_path=FLAGS.checkpoint,
                                    keep_best=_KEEP_BEST.value)
    else:
      evaluation.run_continuous(config, FLAGS.workdir, timeout_secs=_TIMEOUT.value,
                                poll_secs=_POLL.value, keep_best=_KEEP_BEST.value)
  except (ValueError, OSError, evaluation.ClassifierError) as e:
    logging.debug("Traceback of the error below.", exc_info=True)  # shown with --verbosity=1
    return _fail(e)
  return 0


def main(argv, overrides):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  error = _flag_errors()
  if error:
    return _fail(error)
  try:
    return _evaluate(overrides)
  except KeyboardInterrupt:
    print(f"Interrupted: nothing of the checkpoint in progress was written (finished ones are "
          f"in {FLAGS.workdir}/eval/results.jsonl); exit code {INTERRUPTED}.", file=sys.stderr)
    return INTERRUPTED


def run(argv=None):
  cli_flags.run(main, argv, reads_workdir=True)


if __name__ == "__main__":
  run()
