"""The binaries run in this process, through their `run(argv)` (not a test module).

A binary's flags live in absl's global FLAGS, and two binaries define flags of the same names, so
`call` imports the binary afresh with sys.argv set to the call's argv (ml_collections reads the
--config file named in sys.argv when the flag is defined, to define its --config.KEY flags),
runs it inside absl's flagsaver, then deletes the flags it defined, forgets the module and
restores sys.argv: each call sees only its own flags, at their defaults. In process,
a call pays no interpreter start and no TensorFlow import (the subprocess tests of each binary
keep what only a process shows: exit codes of signals, quiet start-up, `--help`).
Logs go through Python's logging (read them with caplog); print()s to sys.stdout / sys.stderr
(capsys).
"""

import contextlib
import importlib
import sys

from absl import flags
from absl.testing import flagsaver

CLI = "sagan_tf.cli."


@contextlib.contextmanager
def _binary(argv):
  """The freshly imported module argv[0] (sagan_tf.cli.<name>), its flags defined for argv
  (sys.argv = argv meanwhile); forgotten after."""
  module_name, saved_argv = argv[0], sys.argv
  before = set(flags.FLAGS)
  sys.modules.pop(module_name, None)
  sys.argv = list(argv)
  try:
    with flagsaver.flagsaver():
      yield importlib.import_module(module_name)
  finally:
    for flag in set(flags.FLAGS) - before:
      delattr(flags.FLAGS, flag)
    sys.modules.pop(module_name, None)
    sys.argv = saved_argv


def call(name, *args):
  """Runs `sagan-<name> args` (name as in sagan_tf.cli.<name>) in process; returns its exit
  code as the process would exit with it (0 for a main that returns None; 1, with the message
  printed to stderr, for a sys.exit("message"))."""
  argv = [CLI + name, *map(str, args)]
  with _binary(argv) as module:
    try:
      module.run(argv)
    except SystemExit as e:
      if isinstance(e.code, str):
        print(e.code, file=sys.stderr)
        return 1
      return e.code or 0
  return 0


def parse(name, *args):
  """Parses `sagan-<name> args` as the binary does, without running it: returns
  {flag: value} of the flags given (the --config flag's value is the loaded ConfigDict).
  Raises SystemExit (one line) for what the binary refuses before it runs."""
  argv = [CLI + name, *map(str, args)]
  with _binary(argv) as module:
    got = {}

    def capture(argv, *_):
      if len(argv) > 1:
        raise SystemExit(f"Error: unexpected arguments {argv[1:]}")
      got.update({f: flags.FLAGS[f].value for f in flags.FLAGS if flags.FLAGS[f].present})

    module.main = capture  # what run() hands to absl
    try:
      module.run(argv)
    except SystemExit as e:
      if e.code:
        raise
    return got
