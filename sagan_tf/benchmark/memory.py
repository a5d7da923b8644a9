"""Peak memory while a block runs: TensorFlow's CPU allocator and the process RSS (bytes).

  with Memory() as memory:
    ...
  memory.tf_base, memory.tf_peak  # TF-allocator bytes before / peak during (None: untracked)
  memory.rss_peak                 # peak resident set size, sampled every 2 ms
"""

import os
import resource
import threading
import time

import tensorflow as tf

MiB = 2.0 ** 20


class RssSampler:
  """Peak resident set size of this process while the block runs (sampled every 2 ms)."""

  def __init__(self):
    self.peak = 0
    self._stop = threading.Event()
    self._page = os.sysconf("SC_PAGE_SIZE")

  def _rss(self):
    with open("/proc/self/statm") as f:
      return int(f.read().split()[1]) * self._page

  def _run(self):
    while not self._stop.is_set():
      self.peak = max(self.peak, self._rss())
      time.sleep(0.002)

  def __enter__(self):
    self.peak = self._rss()
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()
    self.peak = max(self.peak, self._rss())


def tf_memory(reset=False, key="peak"):
  """Peak (or, key='current', current) bytes of TensorFlow's CPU allocator; None if this build
  does not track it. reset=True first resets the peak to the current bytes."""
  try:
    if reset:
      tf.config.experimental.reset_memory_stats("CPU:0")
    return tf.config.experimental.get_memory_info("CPU:0")[key]
  except (ValueError, RuntimeError, tf.errors.OpError):
    return None


class Memory:
  """Peak TF-allocator bytes (and those allocated before the block: tf_base) and peak
  process RSS while the block runs."""

  def __init__(self):
    self.tf_peak, self.tf_base, self.rss_peak = None, None, 0

  def __enter__(self):
    self.tf_base = tf_memory(reset=True, key="current")
    self._rss = RssSampler().__enter__()
    return self

  def __exit__(self, *exc):
    self._rss.__exit__(*exc)
    self.rss_peak = self._rss.peak
    self.tf_peak = tf_memory()


def process_peak_rss():
  """Peak resident set size of this process since it started (getrusage ru_maxrss), bytes."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
