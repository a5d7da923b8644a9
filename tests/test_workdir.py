"""The training workdir guard: usable-directory check and the one-writer lock."""

import os
import socket

import pytest

from sagan_tf.training import workdir as workdir_lib


def test_a_regular_file_is_not_a_usable_workdir(tmp_path):
  (tmp_path / "f").write_text("x")
  with pytest.raises(NotADirectoryError, match="is a regular file"):
    workdir_lib.check_usable(str(tmp_path / "f"))
  with pytest.raises(NotADirectoryError, match=f"inside {tmp_path / 'f'}"):
    workdir_lib.check_usable(str(tmp_path / "f" / "sub" / "w"))
  workdir_lib.check_usable(str(tmp_path / "new" / "w"))  # created later: fine
  assert not (tmp_path / "new").exists()


def test_second_lock_is_refused_naming_the_holder_and_released_on_exit(tmp_path):
  workdir = str(tmp_path / "w")
  with workdir_lib.WorkdirLock(workdir):
    with pytest.raises(workdir_lib.WorkdirBusyError,
                       match=f"pid {os.getpid()} on host {socket.gethostname()}"):
      with workdir_lib.WorkdirLock(workdir):
        pass
  with workdir_lib.WorkdirLock(workdir):  # released
    pass
  assert os.path.exists(os.path.join(workdir, workdir_lib.LOCK_FILE))
