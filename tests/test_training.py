"""Tests of the training job: equivalences (replicas, resume), XLA lowering, NaN stop, bad
input."""

import glob
import logging
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import losses
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.training import gan_step
from sagan_tf.training.loop import train
from sagan_tf import models as models_lib
from sagan_tf.cli import flags as cli_flags

import tiny_sagan


tiny_config = tiny_sagan.train_config


def _weights(workdir, config):
  """All checkpointed values (models and optimizers) as {key: array}."""
  path = tf.train.latest_checkpoint(ckpt_lib.checkpoint_dir(workdir))
  reader = tf.train.load_checkpoint(path)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if "OBJECT_GRAPH" not in k}


def _copy(workdir, tmp_path):
  """A private copy of a shared workdir (its lock file left out)."""
  dst = str(tmp_path / "w")
  shutil.copytree(workdir, dst, ignore=shutil.ignore_patterns("train.lock"))
  return dst


def _divergence_warnings(caplog):
  return [r for r in caplog.records if "TRAINING LOOKS DIVERGED" in r.getMessage()]


DIFFAUGMENT = "color,translation,cutout"  # on in the equivalence and XLA tests: its seeds too


def _as_after_a_crash_at(workdir, step, dst):
  """A copy of workdir as a crash right after its step-`step` save left it: the later
  checkpoints' files and entries gone."""
  shutil.copytree(workdir, dst)
  ckpt_dir = ckpt_lib.checkpoint_dir(str(dst))
  kept = [os.path.basename(p) for p in ckpt_lib.list_checkpoints(str(dst))
          if int(p.rsplit("-", 1)[1]) <= step]
  for path in glob.glob(os.path.join(ckpt_dir, "ckpt-*")):
    if os.path.basename(path).split(".")[0] not in kept:
      os.remove(path)
  tf.compat.v1.train.update_checkpoint_state(ckpt_dir, kept[-1], kept)
  return str(dst)


def test_resume_equals_uninterrupted_run(tmp_path, caplog):
  caplog.set_level(logging.WARNING)  # and the health warning stays quiet on normal training
  config = tiny_config(num_train_steps=4, diffaugment=DIFFAUGMENT)  # a checkpoint every 2
  train(config, str(tmp_path / "straight"))
  resumed = _as_after_a_crash_at(tmp_path / "straight", 2, tmp_path / "resumed")
  assert ckpt_lib.latest_checkpoint(resumed).endswith("ckpt-2")
  result = train(config, resumed)
  assert result["step"] == 4
  a, b = _weights(tmp_path / "straight", config), _weights(tmp_path / "resumed", config)
  assert a.keys() == b.keys()
  keys = list(a)
  assert any("ema_generator" in k for k in keys) and any("g_optimizer" in k for k in keys)
  for k in keys:
    np.testing.assert_allclose(a[k], b[k], atol=1e-5, rtol=0, err_msg=k)
  assert not _divergence_warnings(caplog)


def test_two_replicas_match_one_replica(tmp_path, two_cpu_strategy):
  # Cross-replica BN, so per-replica moments cannot differ; noise is sliced from a global draw.
  # Every G bias but the head's feeds a BN, so its true gradient is 0 and what is computed is
  # float32 round-off; Adam with epsilon 1e-8 turns that into full-size steps of random sign.
  # epsilon = 1e-3 keeps such noise-level gradients from moving weights, so what is compared
  # is the distribution logic, not round-off amplification.
  # DiffAugment on: each replica augments with its rows of the global draw. Linear decay of
  # the rates (1, then 1/2): each replica reads the step counter for the schedule.
  config = tiny_config(num_train_steps=2, cross_replica_bn=True, adam_epsilon=1e-3,
                       diffaugment=DIFFAUGMENT, lr_schedule="linear_decay")
  one = tf.distribute.OneDeviceStrategy("/cpu:0")
  two = two_cpu_strategy
  train(config, str(tmp_path / "one"), one)
  train(config, str(tmp_path / "two"), two)
  a, b = _weights(tmp_path / "one", config), _weights(tmp_path / "two", config)
  assert a.keys() == b.keys()
  # Documented tolerance: float32 sums in another order (all-reduce vs one batch).
  for k in a:
    np.testing.assert_allclose(a[k], b[k], atol=2e-5, rtol=1e-4, err_msg=k)


def test_train_step_lowers_to_xla_with_static_shapes():
  """config.jit_compile: the replica step (with DiffAugment) lowers to XLA's HLO, what a TPU
  compiles, with no dynamic dimension. Compiling that HLO for the CPU and running it is the
  benchmark's xla mode (tests/test_benchmark.py runs it): over a minute of this suite, so not
  again here."""
  # Linear decay of the rates: the schedule's read of the step counter compiles too.
  config = tiny_config(jit_compile=True, diffaugment=DIFFAUGMENT, lr_schedule="linear_decay")
  trainer = gan_step.GANTrainer(config, tf.distribute.get_strategy())
  b, r = config.global_batch_size, config.resolution
  batches = ((tf.zeros([b, r, r, 3]), tf.zeros([b], tf.int32)),) * config.d_steps
  hlo = trainer._replica_step_fn.experimental_get_compiler_ir(  # the step train() runs
      batches, tf.constant(0, tf.int64))(stage="hlo")
  assert hlo.startswith("HloModule")
  op_types = set(re.findall(r'op_type="(\w+)"', hlo))
  # Both updates, the noise and DiffAugment's draws are inside the compiled step.
  assert {"ResourceApplyAdam", "StatelessRandomNormalV2", "StatelessRandomUniformV2"} <= op_types
  assert not re.search(r"\[<=", hlo), "a bounded dynamic dimension (f32[<=N]) in the HLO"


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, two_step_run):
  workdir = _copy(two_step_run, tmp_path)
  good = tf.train.latest_checkpoint(ckpt_lib.checkpoint_dir(workdir))
  before = _weights(workdir, None)
  nan_d = lambda real, fake: losses.hinge_d(real, fake) * np.nan
  monkeypatch.setitem(losses.LOSSES, "hinge", (nan_d, losses.hinge_g))
  with pytest.raises(FloatingPointError, match="Non-finite loss"):
    train(tiny_config(num_train_steps=6), workdir)
  assert tf.train.latest_checkpoint(ckpt_lib.checkpoint_dir(workdir)) == good
  after = _weights(workdir, None)
  for k in before:
    np.testing.assert_array_equal(before[k], after[k])


@pytest.mark.parametrize("overrides, strategy, match", [
    (dict(global_batch_size=3), "two", "not divisible"),
    (dict(dataset="imagenet_please"), None, "dataset"),
    (dict(dataset="folder", data_dir="/no/such/dir"), None, "/no/such/dir"),
])
def test_bad_input_fails_before_touching_workdir(tmp_path, overrides, strategy, match,
                                                two_cpu_strategy):
  strat = two_cpu_strategy if strategy else None
  workdir = tmp_path / "w"
  with pytest.raises((ValueError, FileNotFoundError), match=match):
    train(tiny_config(**overrides), str(workdir), strat)
  assert not workdir.exists()


def test_unknown_config_key_is_rejected():
  from sagan_tf import config as config_lib
  c = tiny_config()
  with pytest.raises(SystemExit, match="Unknown config key 'num_steps'"):
    cli_flags.check_overrides(["train", "--config.num_steps=3"])
  c.unlock()
  c.bogus = 1
  with pytest.raises(ValueError, match="unknown key"):
    config_lib.validate(c)


def test_checkpoint_holds_every_weight(two_step_run):
  # Keras 3 (TF backend) checkpoints only direct attributes: every model weight must be saved.
  workdir = two_step_run
  saved = _weights(workdir, None)
  restored = ckpt_lib.restore_models(tiny_config(), workdir)
  for name in ("generator", "ema_generator", "discriminator"):
    model = restored[name]
    assert model.weights
    for v in model.weights:
      assert np.abs(v.numpy()).sum() == 0 or any(
          x.shape == v.shape and np.array_equal(x, v.numpy()) for x in saved.values()), v.path
  assert len(restored["generator"].weights) == len(restored["ema_generator"].weights)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_and_keeps_float32_weights(tmp_path, policy):
  import keras
  result = train(tiny_config(num_train_steps=2, mixed_precision=policy),
                              str(tmp_path))
  assert all(np.isfinite(v) for v in result["metrics"].values())
  assert keras.mixed_precision.global_policy().name == "float32"  # not leaked
  restored = ckpt_lib.restore_models(tiny_config(mixed_precision=policy), str(tmp_path))
  assert all(v.dtype == "float32" for v in restored["generator"].weights)


def test_huge_learning_rates_warn_once(tmp_path, caplog):
  # lr 1e3 stays finite (no NaN stop) but moves every weight by ~1e3 per step.
  caplog.set_level(logging.WARNING)
  result = train(
      tiny_config(num_train_steps=4, steps_per_loop=1, g_lr=1e3, d_lr=1e3), str(tmp_path))
  assert result["step"] == 4
  warnings = _divergence_warnings(caplog)
  assert len(warnings) == 1
  text = warnings[0].getMessage()
  assert "at step 1:" in text and "g_lr=1000.0" in text and "--config.g_lr=" in text


def test_health_bounds_hold_for_initial_weights():
  # Every freshly initialized variable is far inside the weight bound, and the bound is not
  # met by a merely large weight (x10) but by a diverged one (x1e3), as a numpy reference says.
  from sagan_tf.training import health
  g, d = models_lib.build_models(tiny_config())
  watch = health.HealthWatch(g, d)
  rms, _ = watch.max_weight_rms()
  reference = max(np.sqrt(np.mean(np.square(v.numpy())))
                  for v in g.trainable_variables + d.trainable_variables)
  np.testing.assert_allclose(rms, reference, rtol=1e-5)
  assert rms * 10 < health.WEIGHT_RMS_BOUND < rms * 1e3
  kernel = d.trainable_variables[0]
  kernel.assign(kernel * 1e3 / np.sqrt(np.mean(np.square(kernel.numpy()))))
  assert watch.max_weight_rms() == pytest.approx((1e3, f"{d.name}/{kernel.path}"), rel=1e-5)
  assert watch.check(7, {"d_loss": 1.0, "g_loss": 2.0}, tiny_config()) is not None
  assert watch.check(8, {"d_loss": 1.0, "g_loss": 2.0}, tiny_config()) is None  # once


def test_disk_full_during_save_removes_the_partial_save(tmp_path, monkeypatch, two_step_run):
  from tensorflow.python.ops import gen_io_ops  # pylint: disable=g-direct-tensorflow-import
  workdir = _copy(two_step_run, tmp_path)
  ckpt_dir = ckpt_lib.checkpoint_dir(workdir)

  def full_disk(*args, **kwargs):  # the shards are in ckpt-4_temp/ when the merge runs
    assert glob.glob(os.path.join(ckpt_dir, "ckpt-4_temp*", "*"))
    raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

  monkeypatch.setattr(gen_io_ops, "merge_v2_checkpoints", full_disk)
  with pytest.raises(ckpt_lib.DiskFullError, match=f"No space left in {ckpt_dir} while saving "
                     f"checkpoint ckpt-4.*latest checkpoint is still .*ckpt-2"):
    train(tiny_config(num_train_steps=4), workdir)
  assert sorted(os.listdir(ckpt_dir)) == [
      "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
  assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-2")
  assert ckpt_lib.restore_models(tiny_config(), workdir)["step"] == 2
