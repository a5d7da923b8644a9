"""The training binary as the README shows it: trains and resumes, quietly (TensorFlow's
start-up noise hidden unless TF_CPP_MIN_LOG_LEVEL is set), on one device and on two logical CPU
devices; exit codes (0 finished, 75 stopped early, 1 error as one line); the one-writer lock; a
full disk during a save. One 2-step run of the binary, made once per test run, serves the tests
that need a trained workdir."""

import fcntl
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import binaries
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.store import record as run_record

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--config.g_ch=8", "--config.d_ch=8", "--config.global_batch_size=4",
        "--config.steps_per_loop=2", "--config.checkpoint_every_steps=2",
        "--config.log_every_steps=2", "--config.image_every_steps=2",
        "--config.num_image_samples=4"]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
QUIET_ENV = {k: v for k, v in ENV.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
# What TensorFlow prints on a machine without a GPU when nothing silences it (issue 17.1).
NOISE = ("All log messages before absl::InitializeLog()", "Could not find cuda drivers",
         "cpu_feature_guard", "This TensorFlow binary is optimized", "oneDNN custom operations",
         "failed call to cuInit", "Sharding callback duration", "back_prop=False is deprecated")


def _command(workdir, steps, *extra):
  return [sys.executable, "-m", "sagan_tf.cli.train", "--config=experiments/cpu_demo.py",
          f"--workdir={workdir}", f"--config.num_train_steps={steps}"] + TINY + list(extra)


def _train(workdir, steps, *extra, env=None):
  return subprocess.run(_command(workdir, steps, *extra), cwd=REPO, env=env or ENV,
                        capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def two_step_binary_run(shared_run_dir):
  """(workdir, stderr) of the binary's 2-step run as a user runs it (QUIET_ENV), made once per
  test run (the first xdist worker to ask runs it under a lock). Tests copy the workdir
  (_copy) before changing it."""
  root = shared_run_dir / "train_binary"
  root.mkdir(exist_ok=True)
  workdir, done = root / "demo", root / "result.json"
  with open(root / "make.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    if not done.exists():
      shutil.rmtree(workdir, ignore_errors=True)
      first = _train(str(workdir), 2, env=QUIET_ENV)
      (root / "result.json.tmp").write_text(json.dumps([first.returncode, first.stderr]))
      os.replace(root / "result.json.tmp", done)
  returncode, stderr = json.loads(done.read_text())
  assert returncode == 0, stderr[-3000:]
  return str(workdir), stderr


def _copy(workdir, dst):
  """A private copy of a shared workdir at dst (its lock file left out); returns dst."""
  shutil.copytree(workdir, dst, ignore=shutil.ignore_patterns("train.lock"))
  return str(dst)


def test_main_command_trains_quietly_and_resumes(tmp_path, two_step_binary_run):
  shared, first_stderr = two_step_binary_run
  workdir = _copy(shared, tmp_path / "demo")
  assert "step 2/2" in first_stderr
  noise = [line for line in first_stderr.splitlines() if any(n in line for n in NOISE)]
  assert not noise, noise
  assert ckpt_lib.checkpoint_step(ckpt_lib.list_checkpoints(workdir)[-1]) == 2
  assert glob.glob(os.path.join(workdir, "train", "events.out.tfevents.*"))
  with open(os.path.join(workdir, "config.json")) as f:  # the class names, with the run
    assert json.load(f)["class_names"] == ["disk", "square", "ring", "diamond", "cross",
                                           "triangle", "hbar", "vbar", "hollow_square", "x"]
  assert "Classes (id name): 0 disk, 1 square, 2 ring," in first_stderr
  # The user's TF_CPP_MIN_LOG_LEVEL brings TensorFlow's logs back (here: one at each save).
  second = _train(workdir, 4, env=dict(QUIET_ENV, TF_CPP_MIN_LOG_LEVEL="0"))
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resumed from" in second.stderr and "at step 2" in second.stderr
  assert "step 4/4" in second.stderr
  assert "Sharding callback duration" in second.stderr
  assert [ckpt_lib.checkpoint_step(p) for p in ckpt_lib.list_checkpoints(workdir)] == [2, 4]


def test_a_change_on_resume_is_loud_and_sticks_and_a_finished_rerun_is_quiet(
    tmp_path, two_step_binary_run):
  """Resumed once with --config.diffaugment=...: a WARNING names the key, both values and the
  way back; the same command without it (the workdir now finished) keeps DiffAugment on, says
  so, and prints INFO lines only (no TensorFlow note about unrestored checkpoint values)."""
  workdir = _copy(two_step_binary_run[0], tmp_path / "demo")
  record = os.path.join(workdir, "config.json")
  policy = "color,translation,cutout"
  first = _train(workdir, 4, f"--config.diffaugment={policy}", env=QUIET_ENV)
  assert first.returncode == 0, first.stderr[-3000:]
  warned = [line.split("] ", 1)[1] for line in first.stderr.splitlines()
            if line.startswith("W") and "Config changed on resume" in line]
  assert warned == [
      f"Config changed on resume from step 2: diffaugment '' -> '{policy}'. It stays in effect "
      f"on later resumes (recorded in {record}); to undo it, resume with "
      "--config.diffaugment=''.",
      "Config changed on resume from step 2: num_train_steps 2 -> 4. It stays in effect on later "
      f"resumes (recorded in {record}); to undo it, resume with --config.num_train_steps=2."]
  again = _train(workdir, 4, env=QUIET_ENV)
  assert again.returncode == 0, again.stderr[-3000:]
  assert (f"Kept from {record}, set by an earlier start: diffaugment='{policy}' (the "
          "command's '')" in again.stderr)
  assert "Already trained 4 >= num_train_steps=4 steps." in again.stderr
  assert [line for line in again.stderr.splitlines() if not re.match(r"I\d{4} ", line)] == []
  with open(record) as f:
    assert json.load(f)["config"]["diffaugment"] == policy


def test_unknown_override_fails_cleanly_before_training(tmp_path):
  result = _train(str(tmp_path / "w"), 2, "--config.num_step=3")
  assert result.returncode != 0
  assert "Unknown config key 'num_step'" in result.stderr
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("sig, flags, code", [
    (signal.SIGTERM, [], 75),                           # the documented default
    (signal.SIGINT, ["--preempted_exit_code=3"], 3),    # Ctrl-C; the code is configurable
])
def test_stop_signal_saves_a_checkpoint_and_exits_with_the_restart_code(tmp_path, sig, flags,
                                                                        code):
  # Preemption: the current loop finishes, a checkpoint is saved, and the exit code says
  # "stopped early, restart me" (0 is kept for a finished run).
  workdir = str(tmp_path / "preempted")
  proc = subprocess.Popen(_command(workdir, 100000, "--config.checkpoint_every_steps=100000",
                                   *flags),
                          cwd=REPO, env=ENV, stderr=subprocess.PIPE, text=True)
  lines = []
  deadline = time.time() + 600
  while time.time() < deadline:
    line = proc.stderr.readline()
    lines.append(line)
    if "step 2/100000" in line or not line:
      break
  proc.send_signal(sig)
  _, rest = proc.communicate(timeout=300)
  log = "".join(lines) + rest
  assert proc.returncode == code, log[-3000:]
  assert "on request; checkpoint saved" in log
  assert f"exit code {code}" in log
  steps = [ckpt_lib.checkpoint_step(p) for p in ckpt_lib.list_checkpoints(workdir)]
  assert len(steps) == 1 and steps[0] >= 2 and steps[0] % 2 == 0  # a whole loop, saved
  assert ckpt_lib.restore_models(run_record.recorded_config(workdir), workdir)["step"] == steps[0]


@pytest.mark.parametrize("args, env, message", [
    (["--strategy=mirrored", "--num_cpu_devices=2", "--config.global_batch_size=3"], {},
     "Error: global_batch_size=3 is not divisible by the 2 replicas of the strategy: use a "
     "multiple of 2."),
    (["--config=experiments/no_such.py"], {},
     "Error: --config=experiments/no_such.py: no such file"),
    (["--config", "experiments/no_such.py", "--config.g_ch=8"], {},
     "Error: --config=experiments/no_such.py: no such file"),
    (["--workdir=FILE"], {}, "is a regular file, not a directory"),
    (["--strategy=multi_worker"], {"TF_CONFIG": "{'cluster': 1}"},
     "Error: TF_CONFIG is not valid JSON"),
    (["--strategy=multi_worker"],
     {"TF_CONFIG": json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                               "task": {"type": "worker", "index": 1}})},
     "Error: TF_CONFIG task index 1 is outside the cluster"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, args, env,
                                              message):
  """In process (tests/binaries.py): what the binary prints and returns, not the process."""
  workdir = tmp_path / "w"
  (tmp_path / "file").write_text("not a directory")
  args = [a.replace("FILE", str(tmp_path / "file")) for a in args]
  monkeypatch.chdir(REPO)
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  code = binaries.call("train", "--config=experiments/cpu_demo.py", f"--workdir={workdir}",
                       *TINY, *args)
  stderr = capsys.readouterr().err
  assert code == 1
  errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
  assert len(errors) == 1 and message in errors[0], stderr[-3000:]
  assert "Traceback" not in stderr
  assert not workdir.exists()


def _snapshot(root):
  return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
          for d, _, files in os.walk(root) for f in files}


def test_second_trainer_is_refused_until_the_first_dies(tmp_path, two_step_binary_run):
  workdir = _copy(two_step_binary_run[0], tmp_path / "w")
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from sagan_tf.training.workdir import "
       "WorkdirLock; WorkdirLock(sys.argv[1]).__enter__(); print('locked', flush=True); "
       "time.sleep(900)", workdir], cwd=REPO, env=ENV, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    before = _snapshot(workdir)
    refused = _train(workdir, 2)
    assert refused.returncode == 1
    assert (f"Error: Workdir {workdir} is being trained by another process (pid {holder.pid} "
            f"on host {socket.gethostname()}") in refused.stderr, refused.stderr[-3000:]
    assert "Traceback" not in refused.stderr
    assert _snapshot(workdir) == before
  finally:
    holder.kill()  # SIGKILL: the kernel releases the flock
    holder.wait()
  second = _train(workdir, 2)  # takes the lock: resumes at step 2 of 2, done
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resumed from" in second.stderr and "at step 2" in second.stderr


def test_checkpoints_without_config_json_are_not_resumed(tmp_path):
  # config.json deleted, checkpoints kept (a checkpoint state naming ckpt-2, which is refused
  # before anything reads it): a resume with other fixed keys is refused in one line.
  workdir = tmp_path / "w"
  (workdir / "checkpoints").mkdir(parents=True)
  (workdir / "checkpoints" / "checkpoint").write_text(
      'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
  (workdir / "checkpoints" / "ckpt-2.index").write_bytes(b"")
  before = _snapshot(workdir)
  result = _train(workdir, 4, "--config.global_batch_size=16", "--config.d_steps=2")
  assert result.returncode == 1
  errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
  assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
  assert errors[0].startswith(f"Error: {workdir}/config.json is missing, but {workdir} holds "
                              f"checkpoints")
  assert "Restore config.json (e.g. from a backup), or pass --record_config" in errors[0]
  assert _snapshot(workdir) == before


def test_full_disk_during_a_save_is_one_line_and_keeps_the_earlier_checkpoint(
    small_tmpfs, two_step_binary_run):
  workdir = _copy(two_step_binary_run[0], small_tmpfs / "w")
  stat = os.statvfs(small_tmpfs)
  with open(small_tmpfs / "filler", "wb") as f:  # leave less than a checkpoint (~470 KB)
    f.write(b"\0" * (stat.f_bavail * stat.f_frsize - 100_000))
  second = _train(workdir, 4)
  assert second.returncode == 1
  errors = [line for line in second.stderr.splitlines() if line.startswith("Error: ")]
  assert len(errors) == 1, second.stderr[-3000:]
  assert f"No space left in {ckpt_lib.checkpoint_dir(workdir)} while saving checkpoint ckpt-4" \
      in errors[0]
  assert "Traceback" not in second.stderr
  assert not glob.glob(os.path.join(ckpt_lib.checkpoint_dir(workdir), "ckpt-4*"))
  assert ckpt_lib.restore_models(run_record.recorded_config(workdir), workdir)["step"] == 2
