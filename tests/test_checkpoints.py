"""sagan_tf.store.checkpoints' best checkpoint: --checkpoint resolution, pinning against the
trainer's rotation, and keep_best's switch, which an interruption at any point leaves whole.
Checkpoints of two plain variables (no models), so each test takes well under a second."""

import glob
import os
import socket
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.store import checkpoints as ckpt_lib


def _save(workdir, steps, keep=5):
  """Saves ckpt-<k> (w = [k, k, k, k]) for each k as the training loop does (keep `keep`)."""
  step, w = tf.Variable(0, dtype=tf.int64), tf.Variable(np.zeros(4, np.float32))
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, w=w),
                                       ckpt_lib.checkpoint_dir(workdir), max_to_keep=keep)
  for k in steps:
    step.assign(k)
    w.assign(np.full(4, k, np.float32))
    manager.save(checkpoint_number=k)


def _w(path):
  return float(tf.train.load_checkpoint(path).get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE")[0])


def _ckpt(workdir, k):
  return os.path.join(ckpt_lib.checkpoint_dir(workdir), f"ckpt-{k}")


def test_resolve_checkpoint(tmp_path):
  workdir = str(tmp_path)
  with pytest.raises(FileNotFoundError, match="No checkpoint in .*train first"):
    ckpt_lib.resolve_checkpoint(workdir)
  _save(workdir, [10, 20])
  assert ckpt_lib.resolve_checkpoint(workdir) == _ckpt(workdir, 20)
  assert ckpt_lib.resolve_checkpoint(workdir, _ckpt(workdir, 10)) == _ckpt(workdir, 10)
  with pytest.raises(FileNotFoundError, match=r"ckpt-5: no such checkpoint.*holds ckpt-10, ckpt-20.*--checkpoint=best"):
    ckpt_lib.resolve_checkpoint(workdir, _ckpt(workdir, 5))
  with pytest.raises(FileNotFoundError, match=r"^--checkpoint=best: no best checkpoint in "
                     r".*best yet; the evaluation job keeps"):
    ckpt_lib.resolve_checkpoint(workdir, "best")


def _crash_on(name, monkeypatch):
  """tf.io.gfile.rename raises (a kill) when its destination is named `name`."""
  real = tf.io.gfile.rename

  def rename(src, dst, overwrite=False):
    if os.path.basename(dst.rstrip("/")) == name:
      raise OSError(f"killed while renaming onto {dst}")
    return real(src, dst, overwrite)

  monkeypatch.setattr(tf.io.gfile, "rename", rename)


def test_keep_best_switches_whole_even_when_interrupted(tmp_path, monkeypatch):
  workdir = str(tmp_path)
  best = ckpt_lib.best_dir(workdir)
  _save(workdir, [10, 20])
  # Interrupted while the first best is made (the directory rename): no best/ at all.
  _crash_on("best", monkeypatch)
  with ckpt_lib.PinnedCheckpoint(_ckpt(workdir, 10), workdir) as pin:
    with pytest.raises(OSError, match="killed"):
      ckpt_lib.keep_best(workdir, pin, {"value": 2.0})
  assert ckpt_lib.read_best(workdir) is None and not os.path.exists(best)
  monkeypatch.undo()
  with ckpt_lib.PinnedCheckpoint(_ckpt(workdir, 10), workdir) as pin:
    assert ckpt_lib.keep_best(workdir, pin, {"value": 2.0}) == os.path.join(best, "ckpt-10")
  assert _w(ckpt_lib.resolve_checkpoint(workdir, "best")) == 10
  # Interrupted at the switch (best.json renamed over the old): ckpt-10 is still the best.
  _crash_on(ckpt_lib.BEST_FILE, monkeypatch)
  with ckpt_lib.PinnedCheckpoint(_ckpt(workdir, 20), workdir) as pin:
    with pytest.raises(OSError, match="killed"):
      ckpt_lib.keep_best(workdir, pin, {"value": 1.0})
  assert ckpt_lib.read_best(workdir)["step"] == 10
  assert _w(ckpt_lib.resolve_checkpoint(workdir, "best")) == 10
  monkeypatch.undo()
  # The next switch completes and removes what the interrupted one left behind.
  with ckpt_lib.PinnedCheckpoint(_ckpt(workdir, 20), workdir) as pin:
    ckpt_lib.keep_best(workdir, pin, {"value": 1.0})
  assert ckpt_lib.read_best(workdir) == dict(value=1.0, step=20, checkpoint="ckpt-20",
                                             source=_ckpt(workdir, 20))
  assert sorted(os.listdir(best)) == ["best.json", "ckpt-20.data-00000-of-00001",
                                      "ckpt-20.index"]
  assert _w(ckpt_lib.resolve_checkpoint(workdir, "best")) == 20
  assert not glob.glob(os.path.join(workdir, "best.tmp-*"))


def test_a_pin_outlives_the_rotation_and_dead_pins_are_removed(tmp_path):
  workdir = str(tmp_path)
  _save(workdir, [10, 20, 30], keep=2)  # ckpt-10 rotated away
  with pytest.raises(ckpt_lib.CheckpointGoneError, match="ckpt-10 was deleted"):
    ckpt_lib.PinnedCheckpoint(_ckpt(workdir, 10), workdir)
  pin = ckpt_lib.PinnedCheckpoint(_ckpt(workdir, 20), workdir)
  index = _ckpt(workdir, 20) + ".index"
  assert os.stat(pin.path + ".index").st_ino == os.stat(index).st_ino  # a link, not a copy
  _save(workdir, [40, 50], keep=2)  # ckpt-20 and ckpt-30 rotated away
  assert not os.path.exists(index)
  assert _w(pin.path) == 20 and pin.source == _ckpt(workdir, 20) and pin.step == 20
  # A killed job's pin (dead pid, this host) goes at the next pin; another host's stays.
  dead = subprocess.Popen(["true"])
  dead.wait()
  stale = os.path.join(workdir, f"best.tmp-{socket.gethostname()}-{dead.pid}-7")
  elsewhere = os.path.join(workdir, "best.tmp-otherhost-1-7")
  os.makedirs(stale)
  os.makedirs(elsewhere)
  with ckpt_lib.PinnedCheckpoint(_ckpt(workdir, 50), workdir):
    pass
  assert not os.path.exists(stale) and os.path.exists(elsewhere) and os.path.exists(pin.dir)
  pin.close()
  assert not glob.glob(os.path.join(workdir, f"best.tmp-{socket.gethostname()}-*"))
