"""The README's main command: trains on the built-in data, writes checkpoints and events,
and a second run resumes from the last step."""

import glob
import os
import subprocess
import sys

from sagan_tf.training import checkpoint as ckpt_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--config.g_ch=8", "--config.d_ch=8", "--config.global_batch_size=4",
        "--config.steps_per_loop=2", "--config.checkpoint_every_steps=2",
        "--config.log_every_steps=2", "--config.image_every_steps=2",
        "--config.num_image_samples=4"]


def _train(workdir, steps, *extra):
  cmd = [sys.executable, "-m", "sagan_tf.train", "--config=experiments/cpu_demo.py",
         f"--workdir={workdir}", f"--config.num_train_steps={steps}"] + TINY + list(extra)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_main_command_trains_and_resumes(tmp_path):
  workdir = str(tmp_path / "demo")
  first = _train(workdir, 2)
  assert first.returncode == 0, first.stderr[-3000:]
  assert "step 2/2" in first.stderr
  assert ckpt_lib.checkpoint_step(ckpt_lib.list_checkpoints(workdir)[-1]) == 2
  assert glob.glob(os.path.join(workdir, "train", "events.out.tfevents.*"))
  assert os.path.exists(os.path.join(workdir, "config.json"))
  second = _train(workdir, 4)
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resumed from" in second.stderr and "at step 2" in second.stderr
  assert "step 4/4" in second.stderr
  assert [ckpt_lib.checkpoint_step(p) for p in ckpt_lib.list_checkpoints(workdir)] == [2, 4]


def test_unknown_override_fails_cleanly_before_training(tmp_path):
  result = _train(str(tmp_path / "w"), 2, "--config.num_step=3")
  assert result.returncode != 0
  assert "Unknown config key 'num_step'" in result.stderr
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "w").exists()


def test_sigterm_saves_a_checkpoint_and_exits(tmp_path):
  # Preemption: SIGTERM lets the current loop finish, saves, and exits 0.
  import signal
  import time
  workdir = str(tmp_path / "preempted")
  cmd = [sys.executable, "-m", "sagan_tf.train", "--config=experiments/cpu_demo.py",
         f"--workdir={workdir}", "--config.num_train_steps=100000",
         "--config.checkpoint_every_steps=100000"] + TINY
  proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
                          stderr=subprocess.PIPE, text=True)
  lines = []
  deadline = time.time() + 600
  while time.time() < deadline:
    line = proc.stderr.readline()
    lines.append(line)
    if "step 2/100000" in line or not line:
      break
  proc.send_signal(signal.SIGTERM)
  _, rest = proc.communicate(timeout=300)
  log = "".join(lines) + rest
  assert proc.returncode == 0, log[-3000:]
  assert "on request; checkpoint saved" in log
  steps = [ckpt_lib.checkpoint_step(p) for p in ckpt_lib.list_checkpoints(workdir)]
  assert len(steps) == 1 and steps[0] >= 2 and steps[0] % 2 == 0  # a whole loop, saved
