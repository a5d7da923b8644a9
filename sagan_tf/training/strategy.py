"""Choosing the tf.distribute strategy from flags."""

import json
import os

import tensorflow as tf

from sagan_tf.choices import STRATEGIES


def get_strategy(name="default", num_cpu_devices=0, tpu=""):
  """Returns a tf.distribute.Strategy.

  Args:
    name: 'default' (one device), 'mirrored' (all local GPUs, or num_cpu_devices logical CPU
      devices when there is no GPU), 'multi_worker' (MultiWorkerMirroredStrategy from the
      TF_CONFIG environment variable), 'tpu' (TPUStrategy; tpu names the TPU).
    num_cpu_devices: with 'mirrored' on a machine without GPUs, split the CPU into this many
      logical devices (for testing). Must be called before TensorFlow initializes its devices.
    tpu: TPU name or address for TPUClusterResolver ('' for the local TPU VM).
  """
  if name not in STRATEGIES:
    raise ValueError(f"Unknown strategy {name!r}; choose one of {STRATEGIES}.")
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    if tf.config.list_physical_devices("GPU"):
      return tf.distribute.MirroredStrategy()
    n = max(int(num_cpu_devices), 1)
    if n > 1:
      _split_cpu(n)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:n]]
    return tf.distribute.MirroredStrategy(devices)
  if name == "multi_worker":
    check_tf_config(os.environ.get("TF_CONFIG"))
    return tf.distribute.MultiWorkerMirroredStrategy()
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def _split_cpu(n):
  """Splits the CPU into n logical devices, unless it already has at least n.

  Must run before TensorFlow initializes its runtime: anything that lists logical devices or
  runs an op does (tf.config.list_logical_devices included), so the configured split is read
  with get_logical_device_configuration, which does not.
  """
  cpu = tf.config.list_physical_devices("CPU")[0]
  if len(tf.config.get_logical_device_configuration(cpu) or ()) >= n:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * n)
  except RuntimeError as e:
    raise ValueError(
        f"Cannot split the CPU into {n} logical devices: TensorFlow's runtime was initialized "
        f"first. Create the strategy (get_strategy) before running any TensorFlow op.") from e


def check_tf_config(text):
  """Raises ValueError (one line, naming the problem) unless text is a usable TF_CONFIG.

  Args:
    text: the TF_CONFIG environment variable, or None when it is unset. It must be JSON
      {"cluster": {job: ["host:port", ...]}, "task": {"type": job, "index": i}} with the task's
      job in the cluster and 0 <= i < that job's number of addresses; i may be an int or an
      int-like string ("1"), as TensorFlow's TFConfigClusterResolver reads it with int().
  """
  if not text:
    raise ValueError("strategy=multi_worker needs the TF_CONFIG environment variable "
                     "(cluster workers and this task's index); see docs/training.md.")
  try:
    tf_config = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {text[:200]!r}.") from e
  cluster = tf_config.get("cluster") if isinstance(tf_config, dict) else None
  task = tf_config.get("task") if isinstance(tf_config, dict) else None
  if not isinstance(cluster, dict) or not isinstance(task, dict):
    raise ValueError('TF_CONFIG needs {"cluster": {"worker": ["host:port", ...]}, "task": '
                     f'{{"type": "worker", "index": i}}}}; got {text[:200]!r}.')
  job, index = task.get("type"), task.get("index")
  addresses = cluster.get(job)
  if not isinstance(addresses, list):
    raise ValueError(f"TF_CONFIG task type {job!r} is not a job of its cluster "
                     f"{sorted(cluster)}.")
  try:
    number = int(index) if isinstance(index, (int, str)) else None
  except ValueError:
    number = None
  if number is None:
    raise ValueError(f"TF_CONFIG task index {index!r} is not an integer: give this task's "
                     f"position in job {job!r}, 0..{len(addresses) - 1}.")
  if not 0 <= number < len(addresses):
    raise ValueError(f"TF_CONFIG task index {index!r} is outside the cluster: job {job!r} has "
                     f"{len(addresses)} address(es), so the index must be in "
                     f"0..{len(addresses) - 1}.")


def is_chief(strategy):
  """True on the worker that writes checkpoints and summaries."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(resolver, "task_type", None):
    return True
  return resolver.task_type in ("chief", None) or (
      resolver.task_type == "worker" and resolver.task_id == 0)
