"""A tiny "trained" workdir and export for the export and tools tests (not a test module).

make_tiny_workdir(root) writes root/tiny_config.py (experiments/cpu_demo.py shrunk: 32x32,
width 16, 4 classes, z_dim 32, attention at 16x16 in G and D) and root/workdir with one
checkpoint (ckpt-7) saved the way the training loop saves, and the config and class names the
training loop records (root/workdir/config.json: CLASS_NAMES, the synthetic data's), so
binaries need no --config. The weights are untrained but
perturbed so that what the tests check matters: attention gamma != 0, per-class CBN tables
differ, BN moving statistics are not the identity, and the EMA generator differs from G.
shared(tmp_path_factory) builds it once per pytest process; shared_export(...) exports its EMA
generator (library call: its own, moving, BN statistics; CLASS_NAMES in its metadata) once.
Job runs a command in the background (the slow subprocesses of the tests overlap instead of
queueing). train_config(...) is the training tests' tiny config, and two_step_workdir(dir) a
workdir the training loop trained with it, made once per test run.
"""

import fcntl
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from sagan_tf import models as models_lib
from sagan_tf.data import synthetic
from sagan_tf.export import exporter
from sagan_tf.store import checkpoints as checkpoint_lib
from sagan_tf.store import record as run_record
from sagan_tf.training import loop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP = 7
Z_DIM = 32
NUM_CLASSES = 4
RESOLUTION = 32
CLASS_NAMES = synthetic.class_names(NUM_CLASSES)  # disk, square, ring, diamond

CONFIG_TEXT = f'''"""Tiny test config: experiments/cpu_demo.py shrunk."""
import runpy


def get_config():
  c = runpy.run_path({os.path.join(REPO, "experiments", "cpu_demo.py")!r})["get_config"]()
  c.resolution = {RESOLUTION}
  c.g_ch = 16
  c.d_ch = 16
  c.z_dim = {Z_DIM}
  c.num_classes = {NUM_CLASSES}
  c.g_attention = (16,)
  c.d_attention = (16,)
  c.global_batch_size = 4
  return c
'''

# The authors' optimizer settings (train_imagenet.py: TTUR 1e-4 / 4e-4, Adam beta2 0.999), which
# the run-record tests write their expectations in.
AUTHORS_OPTIMIZER = {"g_lr": 1e-4, "d_lr": 4e-4, "beta2": 0.999}


def train_config(**overrides):
  """experiments/cpu_demo.py shrunk for training tests: 32 px, 4 classes, width 8, attention at
  16x16 in G and D, batch 4, 4 steps, 2 per call, a checkpoint every 2, EMA from step 1."""
  c = runpy.run_path(os.path.join(REPO, "experiments", "cpu_demo.py"))["get_config"]()
  c.update(dict(resolution=32, num_classes=4, g_ch=8, d_ch=8, g_attention=(16,),
                d_attention=(16,), global_batch_size=4, num_train_steps=4, steps_per_loop=2,
                checkpoint_every_steps=2, log_every_steps=2, image_every_steps=4,
                num_image_samples=4, ema_start_step=1, ema_decay=0.9))
  c.update(overrides)
  return c


def two_step_workdir(shared_dir):
  """A workdir trained 2 steps by the training loop with train_config and AUTHORS_OPTIMIZER,
  made once per test run in shared_dir (the first xdist worker to ask trains it under a lock;
  it appears complete or not at all). Tests copy it before changing anything."""
  workdir = os.path.join(shared_dir, "two_step", "w")
  os.makedirs(os.path.dirname(workdir), exist_ok=True)
  with open(os.path.join(os.path.dirname(workdir), "make.lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    if not os.path.exists(workdir):
      partial = workdir + ".partial"
      shutil.rmtree(partial, ignore_errors=True)
      loop.train(train_config(num_train_steps=2, **AUTHORS_OPTIMIZER), partial)
      os.rename(partial, workdir)
  return workdir


_CACHE = {}


def load_config(path):
  return runpy.run_path(path)["get_config"]()


def _perturb(model, rng, attention_gamma):
  for w in model.weights:
    name = w.path.rsplit("/", 1)[-1]
    value = w.numpy()
    if name == "gamma" and value.ndim == 0:  # attention gamma
      w.assign(np.float32(attention_gamma))
    elif name in ("gamma", "beta") and value.ndim == 2:  # per-class CBN tables
      w.assign(value + rng.normal(0, 0.3, value.shape).astype(np.float32))
    elif name == "moving_mean":
      w.assign(rng.normal(0, 0.1, value.shape).astype(np.float32))
    elif name == "moving_variance":
      w.assign(rng.uniform(0.5, 2.0, value.shape).astype(np.float32))


def make_tiny_workdir(root):
  """Returns dict(config_path, config, workdir, generator, ema_generator, discriminator)."""
  key = os.path.abspath(root)
  if key in _CACHE:
    return _CACHE[key]
  os.makedirs(root, exist_ok=True)
  config_path = os.path.join(root, "tiny_config.py")
  with open(config_path, "w") as f:
    f.write(CONFIG_TEXT)
  config = load_config(config_path)
  g, d = models_lib.build_models(config)
  ema, _ = models_lib.build_models(config)
  rng = np.random.default_rng(0)
  _perturb(g, rng, 1.5)
  _perturb(d, rng, 1.5)
  for src, dst in zip(g.weights, ema.weights):
    value = src.numpy()
    if src.trainable and value.ndim >= 1:
      value = value + rng.normal(0, 0.02, value.shape).astype(np.float32)
    dst.assign(value)
  workdir = os.path.join(root, "workdir")
  ckpt = checkpoint_lib.make_checkpoint(g, ema, d, step=tf.Variable(STEP, dtype=tf.int64))
  manager = tf.train.CheckpointManager(ckpt, checkpoint_lib.checkpoint_dir(workdir),
                                       max_to_keep=5)
  manager.save(checkpoint_number=STEP)
  with open(os.path.join(workdir, run_record.RECORD_FILE), "w") as f:
    json.dump({"config": config.to_dict(), "class_names": CLASS_NAMES}, f)
  _CACHE[key] = dict(config_path=config_path, config=config, workdir=workdir, generator=g,
                     ema_generator=ema, discriminator=d)
  return _CACHE[key]


def shared(tmp_path_factory):
  """The session's tiny workdir (built on first use)."""
  if "shared" not in _CACHE:
    _CACHE["shared"] = make_tiny_workdir(str(tmp_path_factory.mktemp("tiny")))
  return _CACHE["shared"]


def shared_export(tmp_path_factory):
  """(base, version dir) of the in-memory EMA generator exported to a fresh BASE/1."""
  if "export" not in _CACHE:
    tiny = shared(tmp_path_factory)
    base = str(tmp_path_factory.mktemp("export"))
    path = exporter.export_generator(tiny["ema_generator"], base, metadata={
        "step": STEP, "use_ema": True, "bn_stats": {"mode": "moving", "batches": None,
                                                     "batch_size": None, "truncation": None,
                                                     "seed": None},
        "class_names": CLASS_NAMES})
    _CACHE["export"] = (base, path)
  return _CACHE["export"]


def round_trip_lost(tiny):
  """Paths of G / EMA G weights that differ after restore_models (cached; [] when exact)."""
  if "round_trip_lost" not in tiny:
    restored = checkpoint_lib.restore_models(tiny["config"], tiny["workdir"])
    tiny["round_trip_lost"] = {
        key: [w.path for w, r in zip(tiny[key].weights, restored[key].weights)
              if not np.array_equal(w.numpy(), r.numpy())]
        for key in ("generator", "ema_generator")}
  return tiny["round_trip_lost"]


def require_round_trip(tiny):
  """Fails the calling test, naming the cause, if the workdir's checkpoint does not restore
  the in-memory generators exactly (then nothing read from the workdir can match them)."""
  import pytest
  lost = round_trip_lost(tiny)
  if any(lost.values()):
    pytest.fail(f"The workdir's checkpoint does not restore the generators it was saved from "
                f"({ {k: len(v) for k, v in lost.items()} } weights differ after "
                f"restore_models, e.g. {lost['generator'][:3]}). See tests/test_export.py::"
                f"test_checkpoint_round_trip_keeps_every_generator_weight.")


def shared_loaded(tmp_path_factory):
  """tf.saved_model.load of shared_export's version directory (loaded once)."""
  if "loaded" not in _CACHE:
    _CACHE["loaded"] = tf.saved_model.load(shared_export(tmp_path_factory)[1])
  return _CACHE["loaded"]


def clean_env():
  """Environment for subprocesses: quiet TF, no PYTHONPATH pointing at the repo."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop("PYTHONPATH", None)
  return env


class Job:
  """A command started now in the background; result() waits for (returncode, stdout, stderr).

  Output goes to temporary files (a full pipe would block a process nobody reads yet).
  """

  def __init__(self, args, cwd=REPO, timeout=300):
    self.args, self.timeout = [str(a) for a in args], timeout
    self._files = [tempfile.TemporaryFile(mode="w+") for _ in range(2)]
    self.proc = subprocess.Popen(self.args, cwd=cwd, env=clean_env(), stdout=self._files[0],
                                 stderr=self._files[1], text=True)
    self._result = None

  def result(self):
    if self._result is None:
      self.proc.wait(timeout=self.timeout)
      texts = []
      for f in self._files:
        f.seek(0)
        texts.append(f.read())
        f.close()
      self._result = (self.proc.returncode, texts[0], texts[1])
    return self._result

  def check(self):
    """Waits; asserts success; returns stdout."""
    rc, out, err = self.result()
    assert rc == 0, f"{' '.join(self.args)} failed ({rc}):\n{err[-3000:]}"
    return out


def python(*args, **kwargs):
  return Job([sys.executable] + list(args), **kwargs)
