"""WORKDIR/config.json: the config in effect and its history; which keys a resume may change;
the config every binary that reads a workdir uses (`workdir_config`).

Format:
  {"config": {key: value in effect now},
   "history": [{"from_step": 0, "config": {key: value}},
               {"from_step": S, "changes": {key: [old, new]}}, ...],
   "class_names": [name of class 0, name of class 1, ...],
   "machines": [{"from_step": S, "tensorflow": version, "cpu": model, "bf16": [...],
                 "accelerators": [...]}, ...],
   "file_config": {changeable key: the value the --config file gave at the latest start}}
An entry says what was in effect from its step on. "class_names" (sagan_tf.data.class_names,
written by the trainer; absent in older workdirs and for data without names) maps the
labels the run trained on to the data's classes; a resume refuses data whose names differ.
"machines" (written by the trainer at each start; absent in older workdirs) says what trained
from each step on (sagan_tf.hardware.machine): a seed's run differs between CPUs. An older flat {key: value} file is upgraded
on resume. A resume at the step of the last entry replaces that entry (its values trained no step
that a checkpoint kept), so the history never holds a value that was not used.

On resume, a CHANGEABLE key keeps the value in effect (the record's "config") unless the
command sets it (in_effect): a --config.KEY=VALUE override, or a --config file that gives
another value than it gave at the previous start ("file_config"; absent in older records, then
the value in effect stands for it). So a change sticks until a command changes it again.
A change of a CHANGEABLE key takes effect from the resumed step
(the loop builds optimizers, EMA and schedules from the new config and assigns the learning
rates, which checkpoints carry, after the restore). Every other key is fixed: a difference is
refused before any work, naming the keys.
"""

import json
import os
import shlex

from absl import logging
import numpy as np
import tensorflow as tf

from sagan_tf import config as config_lib

# Keys a resumed run may change: optimization hyperparameters, the schedule, execution
# (same math), logging / checkpoint cadence, where the data lives, and evaluation / sampling
# settings that training does not use. diffaugment too: it changes what D sees, not what any
# weight or state means (no variable depends on it), like a learning rate; switching it on
# when D starts to overfit is a use (adaptive augmentation does so by design). lr_schedule and
# lr_decay_start_step as the learning rates they scale: the schedule is a function of the
# checkpointed step and of the config (num_train_steps too), so a change moves the rate from the
# resumed step on (e.g. constant -> linear_decay at step s jumps to 1 - (s - s0) / (T - s0) of
# the base rate) and the history records it.
CHANGEABLE = frozenset({
    "g_lr", "d_lr", "lr_schedule", "lr_decay_start_step", "beta1", "beta2", "adam_epsilon",
    "ema_decay", "ema_start_step",
    "num_train_steps", "steps_per_loop", "jit_compile", "attention_impl", "d_fused_pass",
    "attention_query_block", "diffaugment",
    "checkpoint_every_steps", "keep_checkpoints", "log_every_steps", "image_every_steps",
    "num_image_samples", "data_dir", "shuffle_buffer",
    "eval_num_samples", "eval_batch_size", "eval_use_ema", "eval_truncation", "eval_split",
    "classifier_path", "eval_class_classifier_path", "eval_stats_dir", "eval_allow_small_n",
    "sample_bn_stats", "standing_stats_batches", "standing_stats_batch_size",
})
# Keys fixed for the life of a workdir: the model (config.MODEL_KEYS) and what its weights
# mean (normalization), the data set and its order (dataset, tfds_name, split, data_seed,
# global_batch_size: the resumed data position is step * d_steps * global_batch_size), the
# training procedure (loss, d_steps, substep_order, seed: the stateless noise), and
# mixed_precision.
FIXED = frozenset(config_lib.MODEL_KEYS) | frozenset({
    "sn_stop_gradient", "bn_momentum", "head_bn_momentum", "cross_replica_bn", "dataset",
    "tfds_name", "split", "data_seed", "loss", "global_batch_size", "d_steps", "substep_order",
    "seed", "mixed_precision",
})
RECORD_FILE = "config.json"
FILE_CONFIG = "file_config"  # the record's entry: what the --config file gave (changeable keys)

# Keys a checkpoint also stores (the optimizers' learning-rate variables): the checkpoint is
# the truth for their old values.
CHECKPOINTED = ("g_lr", "d_lr")


def record_path(workdir):
  return os.path.join(workdir, RECORD_FILE)


def _plain(config):
  """The config as JSON stores it (tuples as lists), with every schema key."""
  return json.loads(json.dumps(config.to_dict(), default=str))


def read(workdir):
  """Returns workdir/config.json as {"config":, "history":} (a flat file, or one without its
  history, is upgraded: its values as the config from step 0), or None when the workdir has
  none. Reads only. ValueError naming the file and the fix if it is not a config record."""
  path = record_path(workdir)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    text = f.read()
  fix = ("restore it (e.g. from a backup), or delete it and resume training with "
         "--record_config to record the --config you pass")
  try:
    record = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"{path} is not valid JSON ({e}): {fix}.") from e
  if not isinstance(record, dict):
    raise ValueError(f"{path} holds a JSON {type(record).__name__}, not a config record "
                     f"(an object with its config and history): {fix}.")
  if "config" in record and "history" in record:
    pass  # the current format
  elif isinstance(record.get("config"), dict):  # a record whose history was lost
    upgraded = {"config": record["config"], "history": [{"from_step": 0, "config": dict(
        record["config"]), "note": "config.json had no history: its config from step 0"}]}
    if record.get("class_names"):
      upgraded["class_names"] = record["class_names"]
    record = upgraded
  else:
    record = {"config": record, "history": [{"from_step": 0, "config": dict(record), "note": (
        "upgraded from a flat config.json: the values of its latest start")}]}
  try:
    config_lib.config_from_dict(record["config"])
  except (ValueError, TypeError, AttributeError) as e:
    raise ValueError(f"{path} is not a config record of this sagan_tf version ("
                     f"{' '.join(str(e).split())}): {fix}.") from None
  return record


def _differences(record, config):
  """{key: [recorded, new]} for every key whose value differs (schema defaults fill keys the
  record predates)."""
  old = _plain(config_lib.config_from_dict(record["config"]))
  new = _plain(config)
  return {k: [old[k], new[k]] for k in new if old[k] != new[k]}


def check_resumable(record, config):
  """Raises ValueError naming every FIXED key whose value differs from the record."""
  if record is None:
    return
  fixed = {k: v for k, v in _differences(record, config).items() if k not in CHANGEABLE}
  if fixed:
    listed = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in sorted(fixed.items()))
    raise ValueError(
        f"This workdir was trained with another config, and these keys cannot change on "
        f"resume: {listed}. Use the workdir's values (its config.json) or another --workdir. "
        f"Changeable on resume: {', '.join(sorted(CHANGEABLE))}.")


def check_resume(workdir, config, record_config=False):
  """Returns read(workdir), checked for resuming workdir's checkpoints with config.

  Raises ValueError (the caller has written nothing) naming every FIXED key whose value
  differs from the record; or, without config.json, naming the fix: the fixed keys the
  checkpoints were trained with are then unknown, so a resume is refused unless record_config
  (sagan-train --record_config) says that config is theirs (None is returned: the config is
  recorded from the resumed step).
  """
  record = read(workdir)
  if record is None and not record_config:
    raise ValueError(
        f"{record_path(workdir)} is missing, but {workdir} holds checkpoints: the fixed keys "
        f"they were trained with (batch size, d_steps, loss, seed, data) are unknown, so a "
        f"resume could change them silently. Restore config.json (e.g. from a backup), or pass "
        f"--record_config to record this --config as theirs and resume (only the "
        f"architecture is checked, by restoring the checkpoint).")
  check_resumable(record, config)
  return record


def check_class_names(record, names, string_sorted_before=False):
  """Raises ValueError unless the data's class names `names` (list or None) mean the labels
  the recorded run trained on: they must equal the record's "class_names" when both exist.
  A record without names (older versions) cannot say; string_sorted_before=True (folders,
  which older versions ordered as strings) refuses names whose order that rule changes."""
  recorded = record.get("class_names") if record else None
  if recorded and names and list(recorded) != list(names):
    moved = [f"{i}: {a!r} -> {b!r}" for i, (a, b) in enumerate(zip(recorded, names)) if a != b]
    raise ValueError(
        f"The data's classes are not those this workdir was trained with (class id: "
        f"recorded -> now: {', '.join(moved[:5]) or 'the number of classes differs'}): "
        f"its labels would mean other classes. Point data_dir at the same classes or use "
        f"another --workdir.")
  if record and not recorded and names and string_sorted_before and sorted(names) != names:
    raise ValueError(
        f"This workdir was trained before class names were recorded, when class folders "
        f"were ordered as strings ({sorted(names)[:5]}); they are now in natural order "
        f"({names[:5]}), so its labels would mean other folders. Train in a new --workdir.")


def class_names(workdir):
  """The class names recorded with the run in workdir (class id -> name), or None (an older
  workdir, or data without names)."""
  record = read(workdir)
  names = record.get("class_names") if record else None
  return [str(n) for n in names] if names else None


def _float32_equal(a, b):
  return np.float32(a) == np.float32(b)


def in_effect(record, config, file_config=None, overridden=()):
  """The config a resume trains with: `config`, except that a CHANGEABLE key the command does
  not set keeps the value in effect (record["config"]). The command sets a key when it is in
  `overridden` (its --config.KEY=VALUE overrides) or when `file_config` (the --config file's
  own values) gives another value than the file gave at the previous start (record
  "file_config", or the value in effect for a record without it).

  Returns (config, kept: {key: [the command's value, the value kept]}). `config` itself, and
  nothing kept, when record or file_config is None (a library call: config is what to train).
  """
  if record is None or file_config is None:
    return config, {}
  now, given = _plain(config), _plain(file_config)
  effect = _plain(config_lib.config_from_dict(record["config"]))
  before = {**effect, **record.get(FILE_CONFIG, {})}
  values, kept = dict(now), {}
  for key in sorted(CHANGEABLE):
    if key in overridden or given.get(key, now[key]) != before[key]:
      continue  # the command sets it
    if effect[key] != now[key]:
      values[key], kept[key] = effect[key], [now[key], effect[key]]
  return config_lib.config_from_dict(values), kept


def _flag_value(value):
  """value as a --config.KEY=VALUE override writes it (for a shell)."""
  if isinstance(value, bool):
    return str(value).lower()
  if isinstance(value, str):
    return shlex.quote(value)
  return repr(value)


def describe_kept(kept, workdir):
  """The log line naming the changeable keys a resume kept (in_effect's `kept`)."""
  listed = ", ".join(f"{k}={v!r} (the command's {c!r})" for k, (c, v) in sorted(kept.items()))
  return (f"Kept from {record_path(workdir)}, set by an earlier start: {listed}; "
          f"--config.KEY=VALUE changes one.")


def describe_changes(changes, step, workdir):
  """One WARNING line per changed key (resume's `changes`): the key, old and new value, that
  the change sticks and how to undo it."""
  return [f"Config changed on resume from step {step}: {key} {old!r} -> {new!r}. It stays in "
          f"effect on later resumes (recorded in {record_path(workdir)}); to undo it, resume "
          f"with --config.{key}={_flag_value(old)}."
          for key, (old, new) in sorted(changes.items())]


def resume(record, config, step, checkpointed, file_config=None):
  """Returns (new record, changes {key: [old, new]}) for training config from `step` on.

  Args:
    record: read(workdir) when a checkpoint was restored, else None (the config is then
      recorded from `step`: a record without a checkpoint trained no kept step).
    config: the config now in effect (already checked with check_resumable).
    step: int, the restored step (0 for a fresh run).
    checkpointed: {key in CHECKPOINTED: float} values the restored checkpoint trained with,
      or {} without a checkpoint. Where a record disagrees (a flat file written by older
      versions, which kept the checkpoint's learning rates on resume), the checkpoint wins.
    file_config: the --config file's own values (in_effect), recorded as "file_config";
      None: config's.
  """
  values = _plain(config)
  given = _plain(config if file_config is None else file_config)
  given = {FILE_CONFIG: {k: given.get(k, values[k]) for k in sorted(CHANGEABLE)}}
  if record is None:
    return {"config": values, "history": [{"from_step": step, "config": values}], **given}, {}
  record = json.loads(json.dumps(record))  # a copy
  history = record["history"]
  if history[-1]["from_step"] == step and "changes" in history[-1]:
    for key, (old, _) in history.pop()["changes"].items():  # trained no kept step: undone
      record["config"][key] = old
  for key, used in checkpointed.items():
    if not _float32_equal(record["config"].get(key, config_lib.base_config()[key]), used):
      used = float(str(np.float32(used)))  # the shortest decimal of the float32 value
      logging.warning("config.json says %s=%s, but the checkpoint trained with %s: recording "
                      "%s.", key, record["config"].get(key), used, used)
      record["config"][key] = used
      if history[0].get("note"):  # an upgraded flat file: older versions never changed it
        history[0]["config"][key] = used
  changes = _differences(record, config)
  if history[-1]["from_step"] == step:  # the first entry, recorded at this step
    history[-1]["config"] = values
  elif changes:
    history.append({"from_step": step, "changes": changes})
  return {"config": values, "history": history, **given}, changes


def write(workdir, record):
  """Writes workdir/config.json atomically (a temporary file renamed over it)."""
  path = record_path(workdir)
  tmp = path + ".tmp"
  tf.io.gfile.makedirs(workdir)
  with tf.io.gfile.GFile(tmp, "w") as f:
    f.write(json.dumps(record, indent=2))
  tf.io.gfile.rename(tmp, path, overwrite=True)


def recorded_config(workdir):
  """The config in effect for the latest training of workdir, from its config.json (a flat
  {key: value} file of older versions is read as that config). Raises FileNotFoundError when
  the workdir has none."""
  record = read(workdir)
  if record is None:
    raise FileNotFoundError(
        f"{record_path(workdir)} not found: {workdir!r} is not a training workdir, or it was "
        f"never trained. Pass --config=experiments/<name>.py, or train first.")
  return config_lib.config_from_dict(record["config"])


def _norm(value):
  return list(value) if isinstance(value, (tuple, list)) else value


def workdir_config(workdir, given=None, overrides=None):
  """The config a binary that reads `workdir` uses.

  Without `given`: the config recorded in workdir/config.json (FileNotFoundError naming
  --config if there is none) with `overrides` ({key: value}, the --config.KEY=VALUE of
  cli.flags.workdir_overrides) applied; ValueError naming them if one changes a FIXED key
  (the keys a resume may change, CHANGEABLE, are those a reader may override).
  With `given` (a --config file, overrides not applied): for a workdir that recorded no config,
  `given` with `overrides`; where a config is recorded, the same as without it when `given`
  equals the record but for overridden keys (a user repeating the training command), else
  ValueError naming the keys that differ.
  """
  if not tf.io.gfile.isdir(workdir):
    raise FileNotFoundError(f"--workdir={workdir} does not exist.")
  overrides = overrides or {}
  if given is not None:
    if not tf.io.gfile.exists(record_path(workdir)):
      for key, value in overrides.items():
        given[key] = value
      return given
    recorded = recorded_config(workdir)
    differ = sorted(k for k in recorded.keys()
                    if k not in overrides and _norm(given[k]) != _norm(recorded[k]))
    if differ:
      listed = ", ".join(f"{k} (--config {given[k]!r}, recorded {recorded[k]!r})"
                         for k in differ[:6]) + (" ..." if len(differ) > 6 else "")
      raise ValueError(
          f"--config differs from the config {workdir} recorded ({record_path(workdir)}) in "
          f"{len(differ)} key(s): {listed}. The record is the config the checkpoints were "
          f"trained with: drop --config (or give the file the workdir was trained with), and "
          f"change keys with --config.KEY=VALUE on top of the record.")
  config = recorded_config(workdir)
  fixed = {k: v for k, v in overrides.items() if k in FIXED and _norm(v) != _norm(config[k])}
  if fixed:
    listed = ", ".join(f"--config.{k}={v!r} (recorded {config[k]!r})"
                       for k, v in sorted(fixed.items()))
    raise ValueError(
        f"{listed}: fixed for {workdir} ({record_path(workdir)}): a workdir's model, data and "
        f"training procedure cannot be overridden when reading it. Drop the override; keys "
        f"that may be overridden: {', '.join(sorted(CHANGEABLE))}.")
  for key, value in overrides.items():
    config[key] = value
  return config
