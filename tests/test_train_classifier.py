"""sagan-train-classifier: trains a few steps on the synthetic data and exports a SavedModel
with the Inception module's interface, loadable without the project's code."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_train_classifier_exports_inception_interface(tmp_path):
  out = str(tmp_path / "clf")
  cmd = [sys.executable, "-m", "sagan_tf.cli.train_classifier",
         "--config=experiments/cpu_demo.py", "--config.num_classes=4", f"--output_dir={out}",
         "--num_steps=30", "--batch_size=16", "--width=4", "--feature_dim=12",
         "--eval_examples=64", "--learning_rate=3e-3"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "held_out_accuracy=" in proc.stdout
  info = json.load(open(os.path.join(out, "classifier_info.json")))
  assert 0.0 <= info["held_out_accuracy"] <= 1.0 and info["eval_examples"] == 64
  assert info["num_classes"] == 4 and info["feature_dim"] == 12

  model = tf.saved_model.load(out)  # plain TF: no project code needed
  for size in (32, 48):  # resized internally, like the Inception module
    images = tf.random.uniform([3, size, size, 3], -1.0, 1.0)
    outputs = model(images)
    assert set(outputs) == {"logits", "pool_3"}
    assert outputs["logits"].shape == (3, 4) and outputs["pool_3"].shape == (3, 12)
    assert np.all(np.isfinite(outputs["logits"].numpy()))
  sig = model.signatures["serving_default"]
  assert sig(images=images)["pool_3"].shape == (3, 12)
  # evaluation.Classifier (loads through tensorflow_hub) sees the same model.
  from sagan_tf import evaluation  # pylint: disable=g-import-not-at-top
  clf = evaluation.Classifier(out)
  assert clf.probe(32) == (4, 12)
  logits, _ = clf(images)
  np.testing.assert_allclose(logits, outputs["logits"].numpy(), rtol=1e-5, atol=1e-6)


def test_classifier_needs_classes():
  from sagan_tf.evaluation import standin  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match="num_classes >= 2"):
    standin.build_classifier_model(32, 0)
