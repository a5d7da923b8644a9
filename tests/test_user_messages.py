"""What a user reads besides the one error line (issue 36): no TensorFlow checkpoint notes after
it (another model's checkpoint; a finished or NaN-stopped run), --classes values that are both
an id and another class's name, names with commas, and sample-sheet labels the font cannot
draw."""

import gc
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import ImageFont

import tiny_sagan
from sagan_tf import losses
from sagan_tf import models as models_lib
from sagan_tf import visualization as vis
from sagan_tf.sampling import sampler as sampler_lib
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.training.loop import train

REPO = tiny_sagan.REPO
PENDING = ("unrestored values", "could not be found in the restored object")


class _Records(logging.Handler):
  """Collects the records of TensorFlow's Python logger (where its checkpoint notes go)."""

  def __init__(self):
    super().__init__(logging.WARNING)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())

  def __enter__(self):
    logging.getLogger("tensorflow").addHandler(self)
    return self

  def __exit__(self, *exc):
    logging.getLogger("tensorflow").removeHandler(self)

  def pending(self):
    gc.collect()  # TensorFlow lists pending values when the checkpoint objects are deleted
    return [m for m in self.messages if any(p in m for p in PENDING)]


def test_another_models_checkpoint_is_one_line(tiny, two_step_run, tmp_path):
  """sagan-sample on the tiny workdir (width 16) with a training checkpoint of a width-8 model
  (optimizers included): the one error line and nothing else, as a user runs it."""
  other = ckpt_lib.latest_checkpoint(two_step_run)
  out = tmp_path / "s.png"
  env = {k: v for k, v in tiny_sagan.clean_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  result = subprocess.run(
      [sys.executable, "-m", "sagan_tf.cli.sample", f"--workdir={tiny['workdir']}",
       f"--checkpoint={other}", f"--out={out}"], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=300)
  assert result.returncode == 1
  lines = result.stderr.splitlines()
  assert len(lines) == 1, result.stderr[-3000:]
  assert lines[0].startswith(f"Error: Checkpoint {other} does not match the config ")
  assert "variables have other shapes: discriminator/" in lines[0]
  assert "is [1, 1, 8, 1] there, [1, 1, 16, 2] here" in lines[0]
  assert not out.exists()


def test_restores_leave_no_checkpoint_value_pending(tiny, two_step_run, tmp_path, monkeypatch):
  """A refused restore (another model's checkpoint), a re-run of a finished workdir and a NaN
  stop leave TensorFlow nothing to warn about; a partial read nobody marked still warns."""
  other = ckpt_lib.latest_checkpoint(two_step_run)
  with _Records() as records:
    with pytest.raises(ValueError, match="variables have other shapes"):
      ckpt_lib.restore_models(tiny["config"], tiny["workdir"], other)
    assert records.pending() == []
    workdir = str(tmp_path / "w")
    shutil.copytree(two_step_run, workdir, ignore=shutil.ignore_patterns("train.lock"))
    config = lambda steps: tiny_sagan.train_config(num_train_steps=steps,
                                                   **tiny_sagan.AUTHORS_OPTIMIZER)
    assert train(config(2), workdir)["metrics"] is None  # finished: nothing trained
    assert records.pending() == []
    nan_d = lambda real, fake: losses.hinge_d(real, fake) * np.nan
    monkeypatch.setitem(losses.LOSSES, "hinge", (nan_d, losses.hinge_g))
    try:
      train(config(4), workdir)
      raise AssertionError("the NaN loss did not stop training")
    except FloatingPointError:
      pass
    assert records.pending() == []
    # A real note stays visible: a checkpoint read without its optimizers, not marked partial.
    g, d = models_lib.build_models(config(2))
    ema, _ = models_lib.build_models(config(2))
    ckpt = ckpt_lib.make_checkpoint(g, ema, d)
    ckpt.read(other).assert_existing_objects_matched()
    del ckpt, g, ema, d
    assert records.pending(), "TensorFlow's notes did not reach the test's handler"


# ----------------------------------------------------------------------------------------------
# --classes: ids, names, both.


FOLDERS = ["1", "2", "10"]  # image folders, ids 0, 1, 2 in natural order


def test_a_value_that_is_an_id_and_another_classs_name_is_refused():
  class_ids = sampler_lib.class_ids
  with pytest.raises(ValueError, match=r"^Class '1' is ambiguous: it is the name of class 0 and "
                     r"the id of class 1 \(named '2'\); write name:1 or id:1\.$"):
    class_ids(["0", "1"], FOLDERS, 3)
  with pytest.raises(ValueError, match=r"Class '2' is ambiguous"):
    class_ids(["2"], FOLDERS, 3)
  # Each reading by its prefix; a bare value with one reading as before.
  assert class_ids(["name:1", "id:1", "name:2", "id:2", "10", "0"], FOLDERS, 3) == [0, 1, 1, 2,
                                                                                    2, 0]
  assert class_ids(["0", "1", "2"], ["0", "1", "2"], 3) == [0, 1, 2]  # a name that is its id
  assert class_ids(["ring", "3", 1, " disk"], tiny_sagan.CLASS_NAMES, 4) == [2, 3, 1, 0]
  with pytest.raises(ValueError, match=r"^Class 'name:7': no class is named '7' \(the names: "
                     r"1, 2, 10\)\.$"):
    class_ids(["name:7"], FOLDERS, 3)
  with pytest.raises(ValueError, match=r"^Class 'id:x': after 'id:' give an integer"):
    class_ids(["id:x"], FOLDERS, 3)
  with pytest.raises(ValueError, match=r"no class is named 'disk' \(the names: none recorded\)"):
    class_ids(["name:disk"], None, 4)


def test_a_name_with_a_comma_is_picked_quoted_or_by_id():
  names = ["cats, dogs", "birds"]
  parse = flags.ListParser().parse  # how --classes is split: CSV, with its quoting
  assert sampler_lib.class_ids(parse('"cats, dogs",birds'), names, 2) == [0, 1]
  assert sampler_lib.class_ids(parse('"name:cats, dogs",id:0,1'), names, 2) == [0, 0, 1]
  with pytest.raises(ValueError, match=r"^Unknown class 'cats': give a class name \(cats, dogs, "
                     r"birds\) or an id in \[0, 2\) \(a name with a comma: quote it, "
                     r"--classes='\"a, b\",c', or give its id\)\.$"):
    sampler_lib.class_ids(parse("cats, dogs"), names, 2)


# ----------------------------------------------------------------------------------------------
# Sample-sheet labels.


class _StubSampler:
  """What sample_grid asks of a sampler, with grey images."""
  num_classes, resolution = 4, 8

  def __init__(self, class_names):
    self.class_names = class_names

  def noise(self, seed, n, truncation):
    return np.zeros([n, 2], np.float32)

  def generate(self, z, labels):
    return tf.zeros([len(labels), self.resolution, self.resolution, 3])


def test_a_label_the_font_cannot_draw_falls_back_to_the_id():
  default = ImageFont.load_default()  # Pillow's own font: ASCII
  assert not vis.can_draw("ß", default) and vis.can_draw("disk 3", default)
  names = ["disk", "Straße", "猫", "\ufdd0"]  # U+FDD0: a noncharacter, in no font
  assert [vis.class_label(i, names, default) for i in range(4)] == ["0 disk", "1", "2", "3"]
  assert [vis.class_label(i, names) for i in range(4)] == [  # no font: the console's labels
      "0 disk", "1 Straße", "2 猫", "3 \ufdd0"]
  font = vis.label_font()
  assert vis.class_label(3, names, font) == "3"
  if "DejaVuSans" in str(getattr(font, "path", "")):  # Debian's fonts-dejavu-core
    assert [vis.class_label(i, names, font) for i in range(3)] == ["0 disk", "1 Straße", "2"]
  # A sheet's rows are labelled so: the row of a name it cannot draw shows the id alone.
  sheet = vis.sample_grid(_StubSampler(names), [0, 3], 1, scale=1, pad=0)
  want, layout = vis.draw_sheet(np.full([2, 1, 8, 8, 3], 128, np.uint8), ["0 disk", "3"],
                                scale=1, pad=0)
  assert layout.font is font
  np.testing.assert_array_equal(sheet[:, :layout.label_width], want[:, :layout.label_width])
