"""Choosing the tf.distribute strategy from flags."""

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


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
    cpu = tf.config.list_physical_devices("CPU")[0]
    if n > 1 and len(tf.config.list_logical_devices("CPU")) < n:
      tf.config.set_logical_device_configuration(
          cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:n]]
    return tf.distribute.MirroredStrategy(devices)
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("strategy=multi_worker needs the TF_CONFIG environment variable "
                       "(cluster workers and this task's index); see README 'Multi-worker'.")
    json.loads(os.environ["TF_CONFIG"])  # fail early on malformed JSON
    return tf.distribute.MultiWorkerMirroredStrategy()
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
  """True on the worker that writes checkpoints and summaries."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(resolver, "task_type", None):
    return True
  return resolver.task_type in ("chief", None) or (
      resolver.task_type == "worker" and resolver.task_id == 0)
