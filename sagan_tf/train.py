"""The training binary.

  python -m sagan_tf.train --config=experiments/cpu_demo.py --workdir=/tmp/sagan_demo \
      [--config.num_train_steps=400] [--strategy=mirrored --num_cpu_devices=2] [--tpu=NAME] \
      [--preempted_exit_code=75]

Exit codes: 0 finished (num_train_steps reached), --preempted_exit_code (default 75,
EX_TEMPFAIL) stopped early by SIGTERM or Ctrl-C after saving a checkpoint (run the same command
to resume), 1 an error, printed as one line on stderr.
"""

import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from sagan_tf import config as config_lib
from sagan_tf.training import strategy as strategy_lib
from sagan_tf.training import workdir as workdir_lib

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Experiment config file (experiments/*.py).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, TensorBoard events, config.")
flags.DEFINE_enum("strategy", "default", strategy_lib.STRATEGIES, "tf.distribute strategy.")
flags.DEFINE_integer("num_cpu_devices", 0,
                     "With --strategy=mirrored and no GPU: logical CPU devices (testing).")
flags.DEFINE_string("tpu", None, "TPU name or address; implies --strategy=tpu.")
flags.DEFINE_integer("preempted_exit_code", 75,
                     "Exit code after SIGTERM / Ctrl-C stopped training early with a checkpoint "
                     "saved (restart to resume). 0 means finished and 1 an error, so it must be "
                     "in 2..255; default 75 (EX_TEMPFAIL).", lower_bound=2, upper_bound=255)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  errors = (ValueError, OSError, FloatingPointError, workdir_lib.WorkdirBusyError)
  try:
    workdir_lib.check_usable(FLAGS.workdir)
    name = "tpu" if FLAGS.tpu is not None else FLAGS.strategy
    # The strategy may split the CPU into logical devices: it comes before any TensorFlow op
    # runs, and before the training modules are imported.
    strategy = strategy_lib.get_strategy(name, FLAGS.num_cpu_devices, FLAGS.tpu or "")
    from sagan_tf.training.loop import train_and_evaluate  # pylint: disable=import-outside-toplevel
    result = train_and_evaluate(FLAGS.config, FLAGS.workdir, strategy)
  except errors as e:
    logging.debug("Traceback of the error below.", exc_info=True)  # shown with --verbosity=1
    print(f"Error: {' '.join(str(e).split())}", file=sys.stderr)
    return 1
  if result["stopped"]:
    logging.info("Stopped early at step %d: exit code %d (run the same command to resume).",
                 result["step"], FLAGS.preempted_exit_code)
    return FLAGS.preempted_exit_code
  return 0


def run():
  config_lib.check_overrides(sys.argv)
  app.run(main)


if __name__ == "__main__":
  run()
