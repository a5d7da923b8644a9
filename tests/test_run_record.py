"""Resuming with another config: changeable keys take effect (the optimizers really use the new
learning rates) and are recorded in config.json's history; fixed keys are refused before
anything in the workdir changes."""

import glob
import json
import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf import hardware
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.store import record as run_record
from sagan_tf.training import loop
from sagan_tf.training.loop import train
import test_training
import tiny_sagan


def tiny_config(**overrides):
  """The training tests' tiny config with the authors' optimizer settings pinned (g_lr 1e-4,
  d_lr 4e-4, beta2 0.999), the values the expectations below are written in; the shared
  two_step_run (conftest) was trained with it for 2 steps."""
  return tiny_sagan.train_config(**{**tiny_sagan.AUTHORS_OPTIMIZER, **overrides})


_copy = test_training._copy  # a private copy of a shared workdir


def _snapshot(root):
  """{relative path: bytes} of every file under root (directories as None)."""
  out = {}
  for dirpath, dirnames, filenames in os.walk(root):
    for d in dirnames:
      out[os.path.relpath(os.path.join(dirpath, d), root)] = None
    for f in filenames:
      with open(os.path.join(dirpath, f), "rb") as fh:
        out[os.path.relpath(os.path.join(dirpath, f), root)] = fh.read()
  return out


def _scalars(workdir, tag):
  """{step: value} of a scalar summary in workdir/train."""
  out = {}
  for path in glob.glob(os.path.join(workdir, "train", "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        if v.tag == tag:
          out[event.step] = float(tf.make_ndarray(v.tensor))
  return out


def test_every_key_is_changeable_or_fixed():
  keys = set(config_lib.base_config().keys())
  assert run_record.CHANGEABLE | run_record.FIXED == keys
  assert not run_record.CHANGEABLE & run_record.FIXED


@pytest.mark.parametrize("overrides, named", [
    (dict(g_ch=16), "g_ch: 8 -> 16"),
    (dict(global_batch_size=8, seed=3), "global_batch_size: 4 -> 8, seed: 0 -> 3"),
    (dict(mixed_precision="mixed_bfloat16", g_lr=1e-3), "mixed_precision: '' -> 'mixed_bfloat16'"),
])
def test_fixed_change_is_refused_and_workdir_untouched(two_step_run, tmp_path, overrides, named):
  workdir = _copy(two_step_run, tmp_path)
  before = _snapshot(workdir)
  with pytest.raises(ValueError, match="cannot change on resume") as e:
    train(tiny_config(num_train_steps=4, **overrides), workdir)
  assert named in str(e.value)
  assert "g_lr" not in str(e.value).split("cannot change on resume")[1].split(". Use")[0]
  assert _snapshot(workdir) == before


def test_data_with_other_class_names_is_refused_and_workdir_untouched(two_step_run, tmp_path):
  workdir = _copy(two_step_run, tmp_path)
  path = os.path.join(workdir, "config.json")
  with open(path) as f:
    record = json.load(f)
  assert record["class_names"] == ["disk", "square", "ring", "diamond"]
  record["class_names"][2] = "owl"  # as if data_dir now held other classes
  with open(path, "w") as f:
    json.dump(record, f)
  before = _snapshot(workdir)
  with pytest.raises(ValueError, match=r"recorded -> now: 2: 'owl' -> 'ring'\): its labels "
                     r"would mean other classes"):
    train(tiny_config(num_train_steps=4), workdir)
  assert _snapshot(workdir) == before


def test_class_names_check_of_older_records():
  check = run_record.check_class_names
  check(None, ["1", "2", "10"], string_sorted_before=True)  # a fresh workdir
  old = {"config": {}, "history": []}  # recorded before class names were
  check(old, ["a", "b", "c"], string_sorted_before=True)  # both orders agree
  check(old, ["1", "2", "10"])  # not folders: the order never changed
  with pytest.raises(ValueError, match=r"ordered as strings \(\['1', '10', '2'\]\); they are "
                     r"now in natural order \(\['1', '2', '10'\]\).*new --workdir"):
    check(old, ["1", "2", "10"], string_sorted_before=True)
  with pytest.raises(ValueError, match="the number of classes differs"):
    check({**old, "class_names": ["a", "b"]}, ["a", "b", "c"])


def test_changed_learning_rates_take_effect_and_are_recorded(two_step_run, tmp_path, caplog):
  workdir = _copy(two_step_run, tmp_path)
  caplog.set_level(logging.WARNING)
  # g_lr = 0: Adam's update is lr * m / (sqrt(v) + eps), so G's trained weights must not move
  # at all over steps 3-4 while D's do, if (and only if) the optimizer uses the new rate.
  train(tiny_config(num_train_steps=4, g_lr=0.0, d_lr=2e-4, beta2=0.99), workdir)
  ckpts = ckpt_lib.list_checkpoints(workdir)
  assert [ckpt_lib.checkpoint_step(p) for p in ckpts] == [2, 4]
  at2, at4 = (ckpt_lib.restore_models(tiny_config(), workdir, p) for p in ckpts)
  for a, b in zip(at2["generator"].trainable_variables, at4["generator"].trainable_variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
  moved = [not np.array_equal(a.numpy(), b.numpy()) for a, b in
           zip(at2["discriminator"].trainable_variables, at4["discriminator"].trainable_variables)]
  assert sum(moved) > len(moved) // 2
  # TensorBoard shows the rates in effect.
  assert _scalars(workdir, "lr/generator") == pytest.approx({2: 1e-4, 4: 0.0})
  assert _scalars(workdir, "lr/discriminator") == pytest.approx({2: 4e-4, 4: 2e-4})
  # A WARNING per changed key names it, both values, the step and the way back; config.json
  # records what was used from when.
  warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
            and r.getMessage().startswith("Config changed on resume")]
  record_path = os.path.join(workdir, "config.json")
  assert warned == [
      f"Config changed on resume from step 2: {key} {old} -> {new}. It stays in effect on later "
      f"resumes (recorded in {record_path}); to undo it, resume with --config.{key}={old}."
      for key, old, new in (("beta2", 0.999, 0.99), ("d_lr", 0.0004, 0.0002),
                            ("g_lr", 0.0001, 0.0), ("num_train_steps", 2, 4))]
  with open(os.path.join(workdir, "config.json")) as f:
    record = json.load(f)
  assert record["config"]["g_lr"] == 0.0 and record["config"]["d_lr"] == 2e-4
  assert [h["from_step"] for h in record["history"]] == [0, 2]
  assert record["history"][0]["config"]["g_lr"] == 1e-4
  assert record["history"][1] == {"from_step": 2, "changes": {
      "g_lr": [1e-4, 0.0], "d_lr": [4e-4, 2e-4], "beta2": [0.999, 0.99],
      "num_train_steps": [2, 4]}}
  assert run_record.recorded_config(workdir).g_lr == 0.0
  assert record["class_names"] == ["disk", "square", "ring", "diamond"]  # the data's, kept
  assert run_record.class_names(workdir) == record["class_names"]
  # Each start records what trained from its step: the first run's entry is kept.
  here = dict(tensorflow=tf.__version__, **hardware.machine([]))
  assert record["machines"] == [dict(from_step=0, **here), dict(from_step=2, **here)]
  # A start that died before its first checkpoint trained no kept step: its entry is replaced.
  record["machines"].append(dict(here, from_step=4, cpu="died before saving"))
  run_record.write(workdir, record)
  train(tiny_config(num_train_steps=6, g_lr=0.0, d_lr=2e-4, beta2=0.99), workdir)
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["machines"] == [dict(from_step=s, **here) for s in (0, 2, 4)]


def test_flat_config_json_is_upgraded_with_the_rates_the_checkpoint_used(two_step_run, tmp_path):
  # Older versions wrote a flat config.json with the overrides of the latest start, although
  # the optimizers kept the checkpoint's learning rates: the checkpoint is the truth.
  workdir = _copy(two_step_run, tmp_path)
  flat = json.loads(json.dumps(tiny_config(g_lr=5e-5).to_dict()))
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(flat, f)
  train(tiny_config(num_train_steps=4, g_lr=5e-5), workdir)
  with open(os.path.join(workdir, "config.json")) as f:
    record = json.load(f)
  assert record["history"][0]["from_step"] == 0
  assert record["history"][0]["config"]["g_lr"] == 1e-4
  assert record["history"][1] == {"from_step": 2, "changes": {"g_lr": [1e-4, 5e-5]}}
  assert record["config"]["g_lr"] == 5e-5


DIFFAUGMENT = "color,translation,cutout"


def test_a_changed_key_sticks_until_the_command_sets_it():
  """sagan-train --config=F (file_config F) resumed once with --config.diffaugment=... and
  --config.g_lr=5e-5: both stay on when F is run again; an override or an edited F changes
  one; a library call trains its config as given."""
  file = tiny_config()
  record, _ = run_record.resume(None, file, 0, {}, file)
  assert record["file_config"]["diffaugment"] == "" and "seed" not in record["file_config"]
  given = tiny_config(diffaugment=DIFFAUGMENT, g_lr=5e-5)
  config, kept = run_record.in_effect(record, given, file, {"diffaugment", "g_lr"})
  assert (config.diffaugment, config.g_lr, kept) == (DIFFAUGMENT, 5e-5, {})
  record, changes = run_record.resume(record, config, 2, {"g_lr": 1e-4}, file)
  assert changes == {"diffaugment": ["", DIFFAUGMENT], "g_lr": [1e-4, 5e-5]}
  assert record["file_config"]["diffaugment"] == ""  # what the file says, not the override
  # The original command again: both kept, and said so.
  config, kept = run_record.in_effect(record, file, file, set())
  assert (config.diffaugment, config.g_lr) == (DIFFAUGMENT, 5e-5)
  assert kept == {"diffaugment": ["", DIFFAUGMENT], "g_lr": [1e-4, 5e-5]}
  assert run_record.describe_kept(kept, "/w") == (
      "Kept from /w/config.json, set by an earlier start: diffaugment='color,translation,"
      "cutout' (the command's ''), g_lr=5e-05 (the command's 0.0001); --config.KEY=VALUE "
      "changes one.")
  # An override given again changes it (back); an edited file changes a key on its own.
  config, kept = run_record.in_effect(record, file, file, {"diffaugment"})
  assert (config.diffaugment, config.g_lr, list(kept)) == ("", 5e-5, ["g_lr"])
  edited = tiny_config(diffaugment="translation")
  config, _ = run_record.in_effect(record, edited, edited, set())
  assert (config.diffaugment, config.g_lr) == ("translation", 5e-5)
  # A library call (no command) trains its config as given.
  assert run_record.in_effect(record, file) == (file, {})
  # A record from before file_config: the file is compared with the values in effect.
  older = {k: v for k, v in record.items() if k != "file_config"}
  config, kept = run_record.in_effect(older, file, file, set())
  assert (config.diffaugment, config.g_lr, kept) == ("", 1e-4, {})
  # The WARNING of a change names the key, both values and how to undo it.
  assert run_record.describe_changes(changes, 2, "/w") == [
      "Config changed on resume from step 2: diffaugment '' -> 'color,translation,cutout'. It "
      "stays in effect on later resumes (recorded in /w/config.json); to undo it, resume with "
      "--config.diffaugment=''.",
      "Config changed on resume from step 2: g_lr 0.0001 -> 5e-05. It stays in effect on later "
      "resumes (recorded in /w/config.json); to undo it, resume with --config.g_lr=0.0001."]


def test_a_resume_trains_with_the_kept_keys(two_step_run, tmp_path, monkeypatch, caplog):
  """The trainer is built with what in_effect keeps (stopped there: nothing trains)."""
  workdir = _copy(two_step_run, tmp_path)
  path = os.path.join(workdir, "config.json")
  with open(path) as f:
    record = json.load(f)
  file = tiny_config(num_train_steps=2)  # the two-step run's command, its file
  record["config"]["diffaugment"] = DIFFAUGMENT  # as a resume with the override left it
  record.setdefault("file_config", {})["diffaugment"] = ""
  run_record.write(workdir, record)
  built = []

  class Built(Exception):
    pass

  def trainer(config, strategy):
    built.append(config)
    raise Built

  monkeypatch.setattr(loop, "GANTrainer", trainer)
  caplog.set_level(logging.INFO, logger="absl")  # the loop logs through absl
  with pytest.raises(Built):
    train(tiny_config(num_train_steps=4), workdir, file_config=file,
          overridden={"num_train_steps"})
  assert built[0].diffaugment == DIFFAUGMENT and built[0].num_train_steps == 4
  assert (f"Kept from {path}, set by an earlier start: diffaugment='{DIFFAUGMENT}' (the "
          "command's '')" in caplog.text)
  with pytest.raises(Built):  # given again: the override wins
    train(tiny_config(num_train_steps=4), workdir, file_config=file,
          overridden={"num_train_steps", "diffaugment"})
  assert built[1].diffaugment == ""


def test_a_change_that_trained_no_kept_step_is_replaced():
  # A run resumed at step 6 with g_lr 2e-4 died before its next checkpoint (ckpt-6 trained with
  # 1e-4); resuming at 6 again with 3e-4 must not keep 2e-4 (it trained no kept step); going
  # back to 1e-4 removes the entry.
  base = tiny_config()
  record, _ = run_record.resume(None, base, 0, {})
  record, changes = run_record.resume(record, tiny_config(g_lr=2e-4), 6, {"g_lr": 1e-4})
  assert changes == {"g_lr": [1e-4, 2e-4]}
  again, _ = run_record.resume(record, tiny_config(g_lr=3e-4, d_lr=1e-3), 6, {"g_lr": 1e-4})
  assert again["history"][1:] == [
      {"from_step": 6, "changes": {"g_lr": [1e-4, 3e-4], "d_lr": [4e-4, 1e-3]}}]
  back, _ = run_record.resume(again, tiny_config(), 6, {"g_lr": 1e-4})
  assert back["history"] == record["history"][:1]
  assert back["config"] == record["history"][0]["config"]


def test_config_json_without_history_is_a_record_everywhere(two_step_run, tmp_path):
  """{"config": ...} alone (its history lost): the config from step 0, for a resume (checked
  and recorded as the trainer does) and for the binaries that read the workdir."""
  workdir = _copy(two_step_run, tmp_path)
  path = os.path.join(workdir, "config.json")
  with open(path) as f:
    config = json.load(f)["config"]
  with open(path, "w") as f:
    json.dump({"config": config}, f)
  assert run_record.workdir_config(workdir).to_dict() == tiny_config(
      num_train_steps=2).to_dict()
  with pytest.raises(ValueError, match=r"cannot change on resume: g_ch: 8 -> 16\."):
    run_record.check_resume(workdir, tiny_config(num_train_steps=4, g_ch=16))
  new = tiny_config(num_train_steps=4, g_lr=5e-5)
  record = run_record.check_resume(workdir, new)
  record, changes = run_record.resume(record, new, 2, {"g_lr": 1e-4, "d_lr": 4e-4})
  assert changes == {"g_lr": [1e-4, 5e-5], "num_train_steps": [2, 4]}
  assert record["history"][0]["config"] == config
  assert record["history"][1] == {"from_step": 2, "changes": changes}


@pytest.mark.parametrize("text, detail", [
    ("[1, 2]", "holds a JSON list, not a config record"),
    ("{not json", "is not valid JSON"),
    ('{"history": []}', r"not a config record of this sagan_tf version \(Unknown config key"),
    ('{"config": {"g_ch": "wide"}, "history": []}', "not a config record of this sagan_tf"),
])
def test_a_config_json_that_is_no_record_is_refused_naming_the_file_and_the_fix(
    tmp_path, text, detail):
  workdir = str(tmp_path / "w")
  os.makedirs(workdir)
  path = os.path.join(workdir, "config.json")
  with open(path, "w") as f:
    f.write(text)
  for read in (lambda: run_record.check_resume(workdir, tiny_config()),
               lambda: run_record.workdir_config(workdir)):
    with pytest.raises(ValueError, match=rf"^{path} .*{detail}.*: restore it \(e.g. from a "
                       r"backup\), or delete it and resume training with --record_config"):
      read()
  with open(path) as f:
    assert f.read() == text


def test_missing_config_json_with_checkpoints_refuses_resume_until_record_config(two_step_run,
                                                                                 tmp_path):
  # Without config.json the fixed keys the checkpoints trained with are unknown: resuming with
  # another batch size and d_steps is refused, nothing written; --record_config resumes.
  workdir = _copy(two_step_run, tmp_path)
  os.remove(os.path.join(workdir, "config.json"))
  before = _snapshot(workdir)
  with pytest.raises(ValueError, match=r"config.json is missing, but .* holds checkpoints: .*"
                     r"Restore config.json .*or pass --record_config"):
    train(tiny_config(num_train_steps=4, global_batch_size=8, d_steps=2), workdir)
  assert _snapshot(workdir) == before
  train(tiny_config(num_train_steps=4), workdir, record_config=True)
  assert [ckpt_lib.checkpoint_step(p) for p in ckpt_lib.list_checkpoints(workdir)] == [2, 4]
  with open(os.path.join(workdir, "config.json")) as f:
    record = json.load(f)
  assert record["history"] == [{"from_step": 2, "config": record["config"]}]
  assert record["config"]["num_train_steps"] == 4


def _linear_decay(step, start, total):
  """The rate factor of iteration `step` (0-based) under SNGAN's linear decay from `start` to 0
  at `total` (float64)."""
  return min(1.0, (total - step) / (total - start))


def test_linear_decay_continues_exactly_on_resume(tmp_path):
  # The schedule is a function of the checkpointed step: a run resumed at step 2 trains and
  # logs the rates of the uninterrupted run. lr/* at step S shows iteration S - 1's rates.
  base = dict(num_train_steps=4, lr_schedule="linear_decay", lr_decay_start_step=1)
  config = tiny_config(**base)
  straight = str(tmp_path / "straight")
  train(config, straight)
  resumed = test_training._as_after_a_crash_at(straight, 2, tmp_path / "resumed")
  shutil.rmtree(os.path.join(resumed, "train"))  # the straight run's summaries
  train(tiny_config(**base), resumed)
  a, b = test_training._weights(straight, None), test_training._weights(resumed, None)
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_allclose(a[k], b[k], atol=1e-5, rtol=0, err_msg=k)
  for tag, rate in (("lr/generator", 1e-4), ("lr/discriminator", 4e-4)):
    want = {s: rate * _linear_decay(s - 1, 1, 4) for s in (2, 4)}
    assert want[4] == pytest.approx(rate / 3)
    assert _scalars(straight, tag) == pytest.approx(want, rel=1e-6)
    assert _scalars(resumed, tag) == pytest.approx({4: want[4]}, rel=1e-6)
  with open(os.path.join(resumed, "config.json")) as f:
    assert [h["from_step"] for h in json.load(f)["history"]] == [0]  # nothing changed


def test_lr_schedule_may_change_on_resume(two_step_run, tmp_path, caplog):
  # two_step_run trained 2 constant-rate steps of 2; switching to linear decay over 4 steps
  # puts iteration 3 at (4 - 3) / 4 of the base rates.
  workdir = _copy(two_step_run, tmp_path)
  caplog.set_level(logging.WARNING)
  train(tiny_config(num_train_steps=4, lr_schedule="linear_decay"), workdir)
  assert _scalars(workdir, "lr/generator") == pytest.approx({2: 1e-4, 4: 0.25e-4}, rel=1e-6)
  assert _scalars(workdir, "lr/discriminator") == pytest.approx({2: 4e-4, 4: 1e-4}, rel=1e-6)
  with open(os.path.join(workdir, "config.json")) as f:
    record = json.load(f)
  assert record["history"][-1] == {"from_step": 2, "changes": {
      "lr_schedule": ["constant", "linear_decay"], "num_train_steps": [2, 4]}}
  assert "lr_schedule 'constant' -> 'linear_decay'" in caplog.text
