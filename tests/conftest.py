"""Shared test setup: quiet TF logs, 2 logical CPU devices (for MirroredStrategy tests), and
the tiny trained workdir / export fixtures of tests/tiny_sagan.py."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:
  pass  # already initialized


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
