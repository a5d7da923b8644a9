"""sagan_tf.evaluation.progress: Ctrl-C inside ctrl_c_as_flag() is a flag that the checks turn
into KeyboardInterrupt at known points (never lost, never mid-write); progress lines."""

import os
import signal
import threading
import time

import pytest

from sagan_tf.evaluation import progress


def _press():
  os.kill(os.getpid(), signal.SIGINT)
  time.sleep(0.05)  # the handler runs at the main thread's next bytecode


def test_a_press_is_raised_at_the_next_check_only():
  before = signal.getsignal(signal.SIGINT)
  with progress.ctrl_c_as_flag():
    _press()  # no KeyboardInterrupt here: the block goes on
    with progress.ctrl_c_as_flag():  # nested: the outer block's flag is kept
      pass
    with pytest.raises(KeyboardInterrupt):
      progress.check_ctrl_c()
  assert signal.getsignal(signal.SIGINT) is before
  progress.check_ctrl_c()  # cleared with the block


def test_progress_updates_and_waits_check_the_flag(caplog):
  caplog.set_level("INFO", logger="absl")
  with progress.ctrl_c_as_flag():
    bar = progress.Progress(100, "real images")
    bar.update(50)
    assert "real images: 50/100 images (50%)" in caplog.text
    _press()
    with pytest.raises(KeyboardInterrupt):
      bar.update(10)
    assert bar.done == 50
  with progress.ctrl_c_as_flag():
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
      progress.wait(30)  # returns at the press, not after 30 s
    assert time.monotonic() - start < 10


def test_a_second_press_raises_at_once():
  with progress.ctrl_c_as_flag():
    _press()
    with pytest.raises(KeyboardInterrupt):
      _press()
