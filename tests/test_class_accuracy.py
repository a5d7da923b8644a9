"""tools/class_accuracy.py: per-class accuracy against an independent count (the in-memory
generator, the SavedModel called directly, numpy); the table's rows and columns with a classifier
whose answer is known; bad input is one line before any image is drawn."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import fake_classifiers
from tiny_sagan import CLASS_NAMES, NUM_CLASSES, STEP

from sagan_tf.evaluation.classifier import Classifier
from sagan_tf.sampling import bn_stats
from sagan_tf.sampling import sampler as sampler_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SPEC = importlib.util.spec_from_file_location(
    "class_accuracy", os.path.join(REPO, "tools", "class_accuracy.py"))
class_accuracy = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(class_accuracy)


class _Always(tf.Module):
  """Logits that always pick class `k`, whatever the images."""

  def __init__(self, k, num_classes):
    super().__init__()
    self.logits = tf.constant(np.eye(num_classes, dtype=np.float32)[k])

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
  def __call__(self, images):
    return {"logits": tf.tile(self.logits[None], [tf.shape(images)[0], 1])}


def _save_always(path, k, num_classes=NUM_CLASSES):
  module = _Always(k, num_classes)
  tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
  return str(path)


def _tool(*args):
  return subprocess.run([sys.executable, "tools/class_accuracy.py", *map(str, args)], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


def test_accuracy_row_equals_an_independent_count(tiny, tmp_path):
  sampler = sampler_lib.KerasSampler(tiny["ema_generator"], tiny["discriminator"],
                                     bn_stats=bn_stats.BNStats("moving"))
  path = fake_classifiers.save(tmp_path / "net", outputs=("logits",), dim=NUM_CLASSES, seed=3)
  z = sampler.noise(5, 64)
  row = class_accuracy.accuracy_row(sampler, Classifier(path), z)
  # the reference: every class's images in one batch, the SavedModel called directly
  labels = np.repeat(np.arange(NUM_CLASSES), len(z))
  images = sampler.generate(np.tile(z, [NUM_CLASSES, 1]), labels)
  logits = tf.saved_model.load(path)(tf.constant(images))["logits"].numpy()
  correct = (logits.argmax(axis=1) == labels).reshape(NUM_CLASSES, len(z))
  np.testing.assert_allclose(row, correct.mean(axis=1), atol=1e-12)
  # the precondition that makes the check fail on a wrong label: the images depend on it
  predicted = logits.argmax(axis=1).reshape(NUM_CLASSES, len(z))
  assert len({tuple(p) for p in predicted}) > 1


def test_table_has_a_row_per_checkpoint_and_a_column_per_class(tiny, tmp_path):
  always_2 = _save_always(tmp_path / "always2", 2)
  result = _tool(tiny["workdir"], always_2, "--per_class=3")
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert lines[0] == "| step | mean | " + " | ".join(CLASS_NAMES) + " |"
  assert lines[2:] == [f"| {STEP} | 0.250 | 0.00 | 0.00 | 1.00 | 0.00 |"]  # class 2 only
  same = _tool(tiny["workdir"], always_2, f"--steps={STEP}", "--per_class=1")
  assert same.returncode == 0 and same.stdout.splitlines()[2:] == lines[2:], same.stderr


@pytest.mark.parametrize("case, message", [
    ("step", "'8' is not a kept checkpoint"),
    ("no_logits", "has no logits"),
    ("classes", "has 3 logits"),
    ("per_class", "--per_class must be >= 1"),
    ("workdir", "is not a directory"),
    ("classifier", "does not exist"),
])
def test_bad_input_is_one_line(tiny, tmp_path, capsys, case, message):
  workdir, net, extra = tiny["workdir"], _save_always(tmp_path / "ok", 0), []
  if case == "step":
    extra = ["--steps=8"]
  elif case == "no_logits":
    net = fake_classifiers.save(tmp_path / "pool", outputs=("pool_3",), dim=8)
  elif case == "classes":
    net = _save_always(tmp_path / "three", 0, num_classes=3)
  elif case == "per_class":
    extra = ["--per_class=0"]
  elif case == "workdir":
    workdir = tmp_path / "none"
  else:
    net = tmp_path / "missing"
  assert class_accuracy.main([str(workdir), str(net), *extra]) == 1  # in process: no start-up
  out, err = capsys.readouterr()
  errors = [l for l in err.splitlines() if l.startswith("Error: ")]
  assert len(errors) == 1 and message in errors[0], err
  assert "| step |" not in out
