"""Timing calls: warm-up calls, then repeated timed runs of `steps` calls (seconds)."""

import contextlib
import time

import tensorflow as tf


class Eagerly:
  """Runs tf.functions eagerly inside the block (restores the previous setting)."""

  def __enter__(self):
    self.previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)

  def __exit__(self, *exc):
    tf.config.run_functions_eagerly(self.previous)


def mode_context(mode):
  """The context a mode's calls run in: Eagerly() for 'eager', else one that does nothing."""
  return Eagerly() if mode == "eager" else contextlib.nullcontext()


def time_calls(call, warmup, repeats, steps, measure=None):
  """(first call s, [seconds per call over each timed run of `steps` calls], measured).

  Calls `call` warmup times untimed (the first is timed alone: tracing / compilation), then
  repeats runs of `steps` calls. measure: None or a function returning a context manager that
  is entered around the timed runs only (after the warm-up); its `as` value is `measured`.
  """
  start = time.perf_counter()
  call()
  first = time.perf_counter() - start
  for _ in range(warmup - 1):
    call()
  runs = []
  with (measure or contextlib.nullcontext)() as measured:
    for _ in range(repeats):
      start = time.perf_counter()
      for _ in range(steps):
        call()
      runs.append((time.perf_counter() - start) / steps)
  return first, runs, measured
