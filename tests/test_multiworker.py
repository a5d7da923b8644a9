"""Two worker processes train together with MultiWorkerMirroredStrategy on 127.0.0.1, and
stop together when one of them is preempted."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import tensorflow as tf

from sagan_tf.store import checkpoints as ckpt_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--config.g_ch=8", "--config.d_ch=8", "--config.num_classes=4",
        "--config.global_batch_size=4", "--config.num_train_steps=100000",
        "--config.steps_per_loop=1", "--config.checkpoint_every_steps=100000",
        "--config.log_every_steps=1", "--config.image_every_steps=100000",
        "--config.num_image_samples=4"]


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def test_two_workers_train_together_and_stop_together(tmp_path):
  # Both workers train; then only worker 1 gets SIGTERM (a preempted VM): both must stop after
  # the same loop, save one checkpoint together, and exit with the restart code (75).
  workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
  workdir = str(tmp_path / "w")
  procs = []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
    cmd = [sys.executable, "-m", "sagan_tf.cli.train", "--strategy=multi_worker",
           f"--config={os.path.join(REPO, 'experiments', 'cpu_demo.py')}",
           f"--workdir={workdir}"] + TINY
    procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stderr=subprocess.PIPE, text=True))
  chief_log = []
  deadline = time.time() + 600
  while time.time() < deadline:
    line = procs[0].stderr.readline()
    chief_log.append(line)
    if "step 2/" in line or not line:
      break
  procs[1].send_signal(signal.SIGTERM)
  outputs = ["".join(chief_log) + procs[0].communicate(timeout=600)[1],
             procs[1].communicate(timeout=600)[1]]
  for p, out in zip(procs, outputs):
    assert p.returncode == 75, out[-3000:]
  assert "step 2/" in outputs[0]
  assert "on request; checkpoint saved" in outputs[0]
  steps = [ckpt_lib.checkpoint_step(p) for p in ckpt_lib.list_checkpoints(workdir)]
  assert len(steps) == 1 and steps[0] >= 2
  assert not os.path.exists(os.path.join(workdir, "tmp_worker", "1"))
