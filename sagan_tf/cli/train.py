"""sagan-train: the training binary (python -m sagan_tf.cli.train).

  sagan-train --config=experiments/cpu_demo.py --workdir=/tmp/sagan_demo \
      [--config.num_train_steps=400] [--strategy=mirrored --num_cpu_devices=2] [--tpu=NAME] \
      [--preempted_exit_code=75] [--record_config]

Exit codes: 0 finished (num_train_steps reached), --preempted_exit_code (default 75,
EX_TEMPFAIL) stopped early by SIGTERM or Ctrl-C after saving a checkpoint (run the same command
to resume), or before training started (one line: nothing was trained), 1 an error, printed as
one line on stderr.
"""

import signal
import sys

from absl import app
from absl import flags
from absl import logging

from sagan_tf import choices
from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

FLAGS = flags.FLAGS
cli_flags.define_config(required=True)
cli_flags.define_workdir()
flags.mark_flag_as_required("workdir")
flags.DEFINE_enum("strategy", "default", list(choices.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_integer("num_cpu_devices", 0,
                     "With --strategy=mirrored and no GPU: logical CPU devices (testing).")
flags.DEFINE_string("tpu", None, "TPU name or address; implies --strategy=tpu.")
flags.DEFINE_integer("preempted_exit_code", 75,
                     "Exit code after SIGTERM / Ctrl-C stopped training early with a checkpoint "
                     "saved (restart to resume). 0 means finished and 1 an error, so it must be "
                     "in 2..255; default 75 (EX_TEMPFAIL).", lower_bound=2, upper_bound=255)
flags.DEFINE_bool("record_config", False, "Resume a workdir whose config.json is lost: record "
                  "this --config as the one its checkpoints were trained with (only the "
                  "architecture is checked, by the restore). Without it, such a resume is "
                  "refused; no effect when config.json exists.")


class _Preempted(BaseException):
  """SIGTERM / SIGINT before training started (args: the signal number)."""


class _StartupSignals:
  """SIGTERM and SIGINT from the first moment of run() until the training loop installs its
  own handler: _Preempted is raised where the program is (a signal during flag parsing waits
  for main()), and run() exits with --preempted_exit_code and one line. A context manager (the
  previous handlers come back); disarm() ignores signals once training has returned."""

  def __init__(self):
    self.armed, self.pending, self._previous = True, None, {}

  def _handle(self, signum, frame):
    del frame
    if not self.armed:
      return
    self.pending = signum
    if FLAGS.is_parsed():
      self.check()

  def check(self):
    """Raises _Preempted for a signal received so far (once)."""
    if self.armed and self.pending is not None:
      self.armed = False
      raise _Preempted(self.pending)

  def disarm(self):
    self.armed = False

  def __enter__(self):
    self.armed, self.pending = True, None
    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGTERM caught: both are
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread
        pass
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}


_STARTUP = _StartupSignals()


def main(argv):
  _STARTUP.check()  # a signal that came while the flags were parsed
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  with quiet.startup():  # TensorFlow's start-up noise silenced
    # deferred: TensorFlow loads here, after the flags are parsed (--help stays fast).
    from sagan_tf.training import loop  # deferred: keeps --help free of TensorFlow
    from sagan_tf.training import strategy as strategy_lib  # deferred: keeps --help free of TF
    from sagan_tf.training import workdir as workdir_lib  # deferred: keeps --help free of TF
  errors = (ValueError, OSError, FloatingPointError, workdir_lib.WorkdirBusyError)
  try:
    workdir_lib.check_usable(FLAGS.workdir)
    name = "tpu" if FLAGS.tpu is not None else FLAGS.strategy
    # The strategy may split the CPU into logical devices: before any TensorFlow op runs.
    strategy = strategy_lib.get_strategy(name, FLAGS.num_cpu_devices, FLAGS.tpu or "")
    logging.info("Strategy %s: %d replica(s).", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    file_config, overridden = cli_flags.given_config()
    result = loop.train(FLAGS.config, FLAGS.workdir, strategy, FLAGS.record_config,
                        file_config, overridden)
  except errors as e:
    logging.debug("Traceback of the error below.", exc_info=True)  # shown with --verbosity=1
    print(f"Error: {' '.join(str(e).split())}", file=sys.stderr)
    return 1
  finally:
    _STARTUP.disarm()  # training is over: its own handler said what a signal did
  if result["stopped"]:
    logging.info("Stopped early at step %d: exit code %d (run the same command to resume).",
                 result["step"], FLAGS.preempted_exit_code)
    return FLAGS.preempted_exit_code
  return 0


def run(argv=None):
  with _STARTUP:  # first: a scheduler's SIGTERM may come at once
    try:
      cli_flags.run(main, argv)
    except _Preempted as e:
      name, code = signal.Signals(e.args[0]).name, FLAGS.preempted_exit_code
      print(f"Stopped by {name} before training started: nothing was trained; run the same "
            f"command to train (exit code {code}).", file=sys.stderr, flush=True)
      sys.exit(code)


if __name__ == "__main__":
  run()
