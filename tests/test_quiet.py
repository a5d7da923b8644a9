"""The binaries' quiet start-up (sagan_tf/cli/quiet.py): TensorFlow's start-up noise is
dropped, every other line (the project's, real warnings and errors) is kept, and a
TF_CPP_MIN_LOG_LEVEL set by the user turns it all off. No TensorFlow is loaded here: the
block writes what TensorFlow's libraries write (tests/test_train_binary.py runs the binary)."""

import logging
import os
import subprocess
import sys

from sagan_tf.cli import quiet

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "sagan_tf")
SITE = os.path.join(os.path.dirname(os.__file__), "site-packages")
# Seen on a machine without a GPU (TensorFlow 2.21, its import and first device listing).
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796133423.243748    6806 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "I0000 00:00:1796133423.329828    6806 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.",
    "E0000 00:00:1796133425.534299    6806 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "I0000 00:00:1796133425.1    6806 port.cc:153] oneDNN custom operations are on. You may see "
    "slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
]
KEPT = [
    "I1201 13:57:32.497361 140162707626880 loop.py:134] step 2/4 | d_loss 8.2405",
    "E0000 00:00:1796133425.534299    6806 cuda_platform.cc:52] failed call to cuInit: "
    "CUDA_ERROR_INVALID_DEVICE (101)",  # a GPU machine's real driver problem
    "W0000 00:00:1.0    6806 cpu_allocator_impl.cc:83] Allocation of 1073741824 exceeds 10% "
    "of free system memory.",
    "Traceback (most recent call last):",
]


def test_startup_noise_is_recognised_and_nothing_else():
  assert all(quiet.is_noise(line) for line in NOISE)
  assert not any(quiet.is_noise(line) for line in KEPT)


def _record(level, pathname, msg="message", args=()):
  return logging.LogRecord("absl", level, pathname, 1, msg, args, None)


def test_library_info_and_their_deprecation_notices_are_dropped():
  keep = quiet._FILTER.filter  # pylint: disable=protected-access
  tf_file = os.path.join(SITE, "tensorflow", "python", "checkpoint", "functional_saver.py")
  ours = os.path.join(PACKAGE, "training", "loop.py")
  deprecation = os.path.join(SITE, "tensorflow", "python", "util", "deprecation.py")
  tfgan = os.path.join(SITE, "tensorflow_gan", "python", "eval", "classifier_metrics.py")
  assert not keep(_record(logging.INFO, tf_file, "Sharding callback duration: 75"))
  assert keep(_record(logging.WARNING, tf_file)) and keep(_record(logging.ERROR, tf_file))
  assert keep(_record(logging.INFO, ours)) and keep(_record(logging.DEBUG, ours))
  notice = "From %s: calling %s (from %s) with %s is deprecated"
  assert not keep(_record(logging.WARNING, deprecation, notice, (f"{tfgan}:1157", "map_fn")))
  assert keep(_record(logging.WARNING, deprecation, notice, (f"{ours}:10", "map_fn")))


_BLOCK = """
import logging, os, sys
from sagan_tf.cli import quiet
with quiet.startup():
  os.write(2, ({noise!r} + "\\nkept line\\n").encode())
  print("python line", file=sys.stderr)
print("level", os.environ.get("TF_CPP_MIN_LOG_LEVEL"), file=sys.stderr)
print("filters", len(logging.getLogger("absl").filters), file=sys.stderr)
"""


def _run_block(env):
  code = _BLOCK.format(noise="\n".join(NOISE))
  return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=120)


def test_startup_block_drops_the_noise_and_keeps_the_rest():
  env = {k: v for k, v in os.environ.items() if k != quiet.ENV}
  result = _run_block(env)
  assert result.returncode == 0, result.stderr
  assert result.stderr.splitlines() == ["kept line", "python line", "level 1", "filters 1"]


def test_a_users_tf_cpp_min_log_level_shows_everything():
  result = _run_block(dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0"))
  assert result.returncode == 0, result.stderr
  assert result.stderr.splitlines() == NOISE + ["kept line", "python line", "level 0",
                                                "filters 0"]
