"""Progress lines of long passes over images, and Ctrl-C as a flag they check.

Inside `ctrl_c_as_flag()` the first Ctrl-C (SIGINT) only sets a flag; `check_ctrl_c()` (called by
every Progress.update, i.e. after each batch of a pass, and by the evaluation job before and
after it writes a result) and `wait()` turn it into KeyboardInterrupt at that point. Python's
own handler raises KeyboardInterrupt wherever the main thread next runs Python code, which may
be a callback from TensorFlow's C++ code whose exception is swallowed (seen: an evaluation that
finished and exited 0 after a Ctrl-C during its real-data pass); here a press is never lost and
never interrupts a write. A second press raises at once.
"""

import contextlib
import signal
import threading
import time

from absl import logging

_PRESSED = threading.Event()
_DEPTH = [0]  # nested ctrl_c_as_flag blocks: the outermost installs and clears


def _handle(signum, frame):
  del signum, frame
  if _PRESSED.is_set():
    raise KeyboardInterrupt
  _PRESSED.set()


@contextlib.contextmanager
def ctrl_c_as_flag():
  """Ctrl-C sets the flag inside the block (main thread only; elsewhere the block changes
  nothing). The previous handler and a clear flag are restored when the outermost block ends."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = signal.signal(signal.SIGINT, _handle) if _DEPTH[0] == 0 else None
  _DEPTH[0] += 1
  try:
    yield
  finally:
    _DEPTH[0] -= 1
    if _DEPTH[0] == 0:
      signal.signal(signal.SIGINT, previous)
      _PRESSED.clear()


def check_ctrl_c():
  """Raises KeyboardInterrupt if Ctrl-C was pressed inside ctrl_c_as_flag()."""
  if _PRESSED.is_set():
    raise KeyboardInterrupt


def wait(seconds):
  """Sleeps `seconds`, or raises KeyboardInterrupt as soon as Ctrl-C is pressed."""
  if _PRESSED.wait(max(0.0, seconds)):
    raise KeyboardInterrupt


class Progress:
  """Logs `desc: done/total images (p%), R images/s, ETA Ts` about every 10% of a pass; each
  update checks for Ctrl-C (check_ctrl_c)."""

  def __init__(self, total, desc, every_fraction=0.1):
    self.total, self.desc = int(total), desc
    self.step = max(1, int(self.total * every_fraction))
    self.done, self._next = 0, self.step
    self.start = time.time()

  def update(self, n):
    check_ctrl_c()
    self.done += int(n)
    if self.done >= self._next or self.done >= self.total:
      elapsed = max(time.time() - self.start, 1e-9)
      rate = self.done / elapsed
      eta = max(self.total - self.done, 0) / max(rate, 1e-9)
      logging.info("%s: %d/%d images (%.0f%%), %.1f images/s, ETA %.0fs", self.desc, self.done,
                   self.total, 100.0 * self.done / max(self.total, 1), rate, eta)
      while self._next <= self.done:
        self._next += self.step
