"""Guards a training workdir: it must be a directory, and one training process writes it.

The lock is an exclusive `fcntl.flock` on `workdir/train.lock`, which holds the owner's pid, host
and start time (for the refusal message). The kernel drops a flock when its process ends in any
way (kill -9 included), so a dead run never leaves the workdir locked; the file itself stays (it
is not deleted: removing it would let a waiting process lock an unlinked file). Readers
(evaluation, export, tools) never take the lock. Only local (and NFS-mounted) workdirs can be
locked: for remote ones (gs://...) the lock is skipped with a warning.
"""

import errno
import fcntl
import os
import socket
import time

from absl import logging
import tensorflow as tf

LOCK_FILE = "train.lock"


class WorkdirBusyError(RuntimeError):
  """Another live process holds the workdir's training lock."""


def _is_remote(workdir):
  return "://" in workdir


def check_usable(workdir):
  """Raises NotADirectoryError if workdir, or the nearest ancestor that exists, is not a
  directory (training could not create its files there). Reads only; creates nothing."""
  if _is_remote(workdir):
    if tf.io.gfile.exists(workdir) and not tf.io.gfile.isdir(workdir):
      raise NotADirectoryError(f"--workdir={workdir} is a file, not a directory: pass a "
                               f"directory (it is created if missing).")
    return
  path = os.path.abspath(workdir)
  while not os.path.lexists(path):
    path = os.path.dirname(path)
  if not os.path.isdir(path):
    where = "is" if path == os.path.abspath(workdir) else f"is inside {path}, which is"
    raise NotADirectoryError(f"--workdir={workdir} {where} a regular file, not a directory: "
                             f"pass a directory path (it is created if missing).")


class WorkdirLock:
  """Context manager: holds the workdir's training lock (creating workdir if needed).

  Raises WorkdirBusyError on entry, naming the holder's pid and host, if another process holds
  it. Re-entering from a second WorkdirLock in the same process also fails (one run per workdir).
  """

  def __init__(self, workdir):
    self.workdir = workdir
    self.path = os.path.join(workdir, LOCK_FILE)
    self._fd = None

  def __enter__(self):
    if _is_remote(self.workdir):
      logging.warning("Workdir %s is not on a local file system: it cannot be locked; make "
                      "sure only one training process writes it.", self.workdir)
      return self
    os.makedirs(self.workdir, exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      holder = os.pread(fd, 1000, 0).decode(errors="replace").strip() or "unknown process"
      os.close(fd)
      if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
        raise
      raise WorkdirBusyError(
          f"Workdir {self.workdir} is being trained by another process ({holder}): one "
          f"training process per workdir. Stop that process first (it releases the workdir "
          f"when it exits, even on kill -9), or use another --workdir.") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, (f"pid {os.getpid()} on host {socket.gethostname()}, started "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}\n").encode(), 0)
    self._fd = fd
    return self

  def __exit__(self, *exc):
    if self._fd is not None:
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None
