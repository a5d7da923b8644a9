"""TensorFlow's start-up noise, kept out of the binaries' output (plain Python: no TensorFlow).

Every binary loads TensorFlow inside `with quiet.startup():`. Unless the user set
TF_CPP_MIN_LOG_LEVEL (then TensorFlow's logging is theirs and nothing here changes it), that:
  - sets TF_CPP_MIN_LOG_LEVEL=1: TensorFlow's C++ INFO lines (the cpu_feature_guard and oneDNN
    notices) are not printed; its C++ warnings and errors are;
  - drops the INFO (and DEBUG) records that code outside sagan_tf logs through the Python
    loggers 'absl' and 'tensorflow' (e.g. functional_saver's "Sharding callback duration" at
    every checkpoint, SavedModel writing notes), and TensorFlow's deprecation notices about
    code outside sagan_tf (TF-GAN's "map_fn ... back_prop"); every warning and error stays,
    as do the project's own lines;
  - while the block runs (the imports that load TensorFlow, then its device listing, which
    starts the CUDA platform), sends file descriptor 2 to a temporary file, then writes back
    every line but the known start-up noise below. Those lines come from static initializers
    of TensorFlow's shared libraries (absl's pre-InitializeLog warning, "Could not find cuda
    drivers" of cudart_stub.cc), which print before any log level is read
    (tensorflow/tensorflow#100442), and from cuInit failing with 303 on a machine without an
    NVIDIA driver, logged at ERROR. Should the process die inside the block, the captured
    lines are lost: set TF_CPP_MIN_LOG_LEVEL to see them.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "1"  # C++: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR
# Start-up lines written straight to stderr by TensorFlow's C++ code (one regex each).
NOISE = tuple(re.compile(p) for p in (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR$",
    r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.$",
    r"cuda_platform\.cc:\d+\] failed call to cuInit: .*\(303\)$",
    r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU "
    r"instructions",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.$",
    r"port\.cc:\d+\] oneDNN custom operations are on\.",
))
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DEPRECATION = os.path.join("tensorflow", "python", "util", "deprecation.py")


def requested():
  """True when the user set TF_CPP_MIN_LOG_LEVEL: TensorFlow's logs are shown as it says."""
  return ENV in os.environ


class _LibraryInfoFilter(logging.Filter):
  """Drops INFO / DEBUG records logged from outside sagan_tf, and TensorFlow's deprecation
  notices about code outside sagan_tf (their first argument is 'file:line')."""

  def filter(self, record):
    ours = record.pathname.startswith(_PACKAGE + os.sep)
    if record.levelno < logging.WARNING:
      return ours
    if record.pathname.endswith(_DEPRECATION) and record.args:
      return str(record.args[0]).startswith(_PACKAGE + os.sep)
    return True


_FILTER = _LibraryInfoFilter()
LOGGERS = ("absl", "tensorflow")


def is_noise(line):
  return any(p.search(line) for p in NOISE)


@contextlib.contextmanager
def startup():
  """Runs the block that loads TensorFlow with its start-up noise silenced (module docstring);
  does nothing when requested()."""
  if requested():
    yield
    return
  os.environ[ENV] = QUIET_LEVEL
  for name in LOGGERS:
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
      logger.addFilter(_FILTER)
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as capture:
    os.dup2(capture.fileno(), 2)
    try:
      yield
      tf = sys.modules.get("tensorflow")
      if tf is not None:
        tf.config.list_physical_devices()  # starts the platforms (cuInit) inside the capture
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(True)
              if not is_noise(line.rstrip("\n"))]
      sys.stderr.write("".join(kept))
      sys.stderr.flush()
