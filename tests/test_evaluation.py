"""The evaluation job end to end: a tiny stand-in classifier, untrained checkpoints, the python
API and the absl binary; real-statistics caching; two networks in one pass; continuous mode
under a fast trainer's rotation and the best checkpoint; bad input.

Shared, built once per module: a stand-in classifier SavedModel (60 training steps on the
synthetic data, 16-d features), a features-only network with the imported Inception network's
interface (tests/fake_classifiers.py) and a template workdir with checkpoints ckpt-10 and
ckpt-20 saved as the training loop saves them. Each test copies what it needs.
"""

import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import fake_classifiers
from sagan_tf import data
from sagan_tf import evaluation
from sagan_tf.evaluation import evaluator as evaluator_lib
from sagan_tf.evaluation import real_stats
from sagan_tf.evaluation import standin
from sagan_tf.sampling import noise
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.store import record as record_lib
from sagan_tf.store import results as results_lib
from sagan_tf import models as models_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURE_DIM = 16
TINY_FLAGS = ["--config.g_ch=8", "--config.d_ch=8", "--config.num_classes=3",
              "--config.eval_batch_size=32", "--config.num_train_steps=20",
              "--config.standing_stats_batches=2", "--config.standing_stats_batch_size=8"]


def tiny_config(classifier_path="", **overrides):
  spec = importlib.util.spec_from_file_location("cpu_demo",
                                                os.path.join(REPO, "experiments", "cpu_demo.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()  # 32x32, attention (16,), synthetic data
  c.g_ch = c.d_ch = 8
  c.num_classes = 3
  c.num_train_steps = 20
  c.eval_num_samples = 64
  c.eval_batch_size = 32
  c.classifier_path = classifier_path
  c.standing_stats_batches, c.standing_stats_batch_size = 2, 8
  for k, v in overrides.items():
    c[k] = v
  return c


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
  config = tiny_config()
  model = standin.build_classifier_model(32, 3, width=8, feature_dim=FEATURE_DIM)
  standin.train_classifier(model, data.build_dataset(config, 32), 60, learning_rate=3e-3)
  path = str(tmp_path_factory.mktemp("classifier") / "standin")
  return standin.export_classifier(model, 32, path)


@pytest.fixture(scope="module")
def features_only(tmp_path_factory):
  """The imported Inception network's interface: 'pool_3' only (16-d here), no logits."""
  return fake_classifiers.save(tmp_path_factory.mktemp("fake") / "features_only", ("pool_3",),
                               FEATURE_DIM)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
  """(workdir with ckpt-10 and ckpt-20, the models of ckpt-20); untrained weights, G moved a
  little between the two."""
  workdir = str(tmp_path_factory.mktemp("template"))
  config = tiny_config()
  g, d = models_lib.build_models(config)
  ema, _ = models_lib.build_models(config)
  step = tf.Variable(0, dtype=tf.int64)
  ckpt = ckpt_lib.make_checkpoint(g, ema, d, step=step)
  manager = tf.train.CheckpointManager(ckpt, ckpt_lib.checkpoint_dir(workdir), max_to_keep=5)
  step.assign(10)
  manager.save(checkpoint_number=10)
  for model in (g, ema):
    w = model.linear.trainable_weights[0]
    w.assign_add(0.05 * tf.ones_like(w))
  step.assign(20)
  manager.save(checkpoint_number=20)  # ckpt-20 = the weights returned
  return workdir, dict(generator=g, ema_generator=ema, discriminator=d, step=20)


@pytest.fixture(scope="module")
def template_workdir(template):
  return template[0]


def write_state(ckpt_dir, steps):
  """The `checkpoint` state file as tf.train.CheckpointManager writes it (atomic rename)."""
  lines = [f'model_checkpoint_path: "ckpt-{steps[-1]}"']
  lines += [f'all_model_checkpoint_paths: "ckpt-{k}"' for k in steps]
  tmp = os.path.join(ckpt_dir, "checkpoint.tmp")
  with open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
  os.replace(tmp, os.path.join(ckpt_dir, "checkpoint"))


def copy_checkpoints(template, workdir, steps):
  src, dst = ckpt_lib.checkpoint_dir(template), ckpt_lib.checkpoint_dir(workdir)
  os.makedirs(dst, exist_ok=True)
  for k in steps:
    for f in glob.glob(os.path.join(src, f"ckpt-{k}.*")):
      shutil.copy(f, dst)
  write_state(dst, sorted(set(steps) | {ckpt_lib.checkpoint_step(p)
                                        for p in ckpt_lib.list_checkpoints(workdir)}))
  return workdir


def result_lines(workdir):
  """The results file's lines; asserts there is no partial line (returns [] if no file)."""
  path = results_lib.results_path(workdir)
  if not os.path.exists(path):
    return []
  text = open(path).read()
  assert text == "" or text.endswith("\n"), f"partial last line in {path}: {text[-200:]!r}"
  return [json.loads(line) for line in text.splitlines()]


def np_fid(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  return float(np.sum((a.mean(0) - b.mean(0)) ** 2)
               + np.trace(c1 + c2 - 2.0 * np.real(scipy.linalg.sqrtm(c1 @ c2))))


def np_is(logits):
  logits = np.asarray(logits, np.float64)
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(p.mean(0))), axis=1))))


def np_kid(x, y):
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  k = lambda a, b: (a @ b.T / x.shape[1] + 1.0) ** 3
  kxx, kyy = k(x, x), k(y, y)
  m, n = len(x), len(y)
  return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
               + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2.0 * k(x, y).mean())


def read_scalars(workdir):
  out = {}
  for f in glob.glob(os.path.join(results_lib.eval_dir(workdir), "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(f):
      for v in event.summary.value:
        out[(v.tag, event.step)] = float(tf.make_ndarray(v.tensor))
  return out


class CapturingEvaluator(evaluation.Evaluator):
  """Keeps the generated classifier outputs so the test can recompute the metrics."""

  def generate(self, generator):
    self.captured = super().generate(generator)
    return self.captured


# ----------------------------------------------------------------------------------------------


def test_job_end_to_end(tmp_path, classifier_dir, template):
  """Continuous mode follows a training run (ckpt-20 appears while it polls), evaluates each
  checkpoint once and stops at the final step; restarts repeat nothing; the binary evaluates
  another setting with the cached real statistics."""
  template_workdir, _ = template
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10,))
  config = tiny_config(classifier_dir)

  def trainer():  # writes ckpt-20 once step 10 has been evaluated
    deadline = time.time() + 100
    while time.time() < deadline and not os.path.exists(results_lib.results_path(workdir)):
      time.sleep(0.05)
    copy_checkpoints(template_workdir, workdir, (20,))

  ev = CapturingEvaluator(config, workdir)
  thread = threading.Thread(target=trainer)
  thread.start()
  try:
    records = evaluation.run_continuous(config, workdir, timeout_secs=100, poll_secs=0.1,
                                        evaluator=ev)
  finally:
    thread.join()
  # Both checkpoints: it stopped at the final step (a timeout would have left out ckpt-20).
  assert [r["step"] for r in records] == [10, 20]
  m = records[-1]["metrics"]
  # One stand-in with the dataset's classes: every metric from it, in its units.
  assert set(m) == {"standin/fid", "standin/kid", "standin/kid_std", "standin/inception_score",
                    "standin/real_inception_score", "standin/class_accuracy",
                    "standin/real_class_accuracy", "symmetry_error", "real_symmetry_error"}
  for key in set(m) - {"standin/kid_std"}:  # N = 64 <= 1024: one KID block, no std
    assert m[key] is not None and np.isfinite(m[key]), (key, m)
  assert m["real_symmetry_error"] == pytest.approx(0.0, abs=1e-6)  # the data is symmetric
  assert m["standin/real_class_accuracy"] > 0.5  # the stand-in learned something
  # The reported numbers equal independent numpy computations on the same activations.
  real, gen = ev.real_stats["standin"], ev.captured["standin"]
  assert real.num_examples == 64 and gen["pool_3"].shape == (64, FEATURE_DIM)
  assert abs(m["standin/fid"] - np_fid(real.pool_3, gen["pool_3"])) / m["standin/fid"] < 1e-6
  assert m["standin/inception_score"] == pytest.approx(np_is(gen["logits"]), rel=1e-6)
  assert m["standin/kid"] == pytest.approx(np_kid(real.pool_3, gen["pool_3"]), rel=1e-6)
  assert m["standin/class_accuracy"] == pytest.approx(
      np.mean(np.argmax(gen["logits"], 1) == gen["labels"]))
  assert set(np.unique(gen["labels"])) <= {0, 1, 2}
  np.testing.assert_array_equal(gen["labels"], noise.seeded_labels(config.seed, 64, 3))

  lines = result_lines(workdir)
  assert [r["step"] for r in lines] == [10, 20]
  assert lines[1]["checkpoint"] == os.path.join(ckpt_lib.checkpoint_dir(workdir), "ckpt-20")
  assert lines[1]["generator"] == "ema" and lines[1]["num_samples"] == 64
  assert lines[1]["truncation"] == 0.0 and lines[1]["metrics"] == m and lines[1]["timestamp"]
  assert lines[1]["format"] == 2 and lines[1]["class_classifier"] is None
  assert lines[1]["networks"] == {"standin": dict(
      role="main", classifier=os.path.abspath(classifier_dir), num_logits=3,
      feature_dim=FEATURE_DIM)}
  assert lines[1]["bn_stats"] == {"mode": "standing", "batches": 2, "batch_size": 8,
                                  "truncation": 0.0, "seed": -1}
  scalars = read_scalars(workdir)
  assert scalars[("ema_standing2x8/standin/fid", 20)] == pytest.approx(m["standin/fid"],
                                                                        rel=1e-6)
  assert ("ema_standing2x8/standin/fid", 10) in scalars
  assert ("ema_standing2x8/standin/inception_score", 20) in scalars
  assert ("ema_standing2x8/symmetry_error", 20) in scalars

  # Nothing is evaluated twice: --once on an evaluated checkpoint, a restarted continuous job.
  first = os.path.join(ckpt_lib.checkpoint_dir(workdir), "ckpt-10")
  again = evaluation.evaluate_and_write(config, workdir, first)
  assert again["skipped"] and again["metrics"] == lines[0]["metrics"]
  assert evaluation.run_continuous(config, workdir, timeout_secs=100, poll_secs=0.1) == []
  # A run whose final step is not reached stops after the timeout with nothing new.
  start = time.time()
  longer = tiny_config(classifier_dir, num_train_steps=1000)
  assert evaluation.run_continuous(longer, workdir, timeout_secs=0.5, poll_secs=0.1) == []
  assert time.time() - start > 0.4
  assert len(result_lines(workdir)) == 2

  # Another BN setting is another result: not skipped, a line of its own.
  moving = tiny_config(classifier_dir, sample_bn_stats="moving")
  other = evaluation.evaluate_and_write(moving, workdir, first)
  assert "skipped" not in other and other["bn_stats"]["mode"] == "moving"
  assert other["metrics"]["standin/fid"] != lines[0]["metrics"]["standin/fid"]
  assert [r["bn_stats"]["mode"] for r in result_lines(workdir)] == [
      "standing", "standing", "moving"]
  assert ("ema_moving/standin/fid", 10) in read_scalars(workdir)

  # The binary, --once, another setting (raw G, truncation, batch statistics): a new line for
  # the latest checkpoint, with the real statistics loaded from the cache, not recomputed.
  assert not real.loaded_from_cache and os.path.exists(real.path)
  mtime = os.stat(real.path).st_mtime_ns
  cmd = [sys.executable, "-m", "sagan_tf.cli.evaluate", "--config=experiments/cpu_demo.py",
         *TINY_FLAGS, f"--workdir={workdir}", "--once", "--num_samples=64",
         f"--classifier_path={classifier_dir}", "--use_ema=false", "--truncation=1.5",
         "--bn_stats=batch"]
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Loaded cached real-data statistics" in proc.stderr
  assert "Computing real-data statistics" not in proc.stderr
  assert os.stat(real.path).st_mtime_ns == mtime
  assert "generated images: 64/64" in proc.stderr  # progress lines
  lines = result_lines(workdir)
  assert len(lines) == 4
  r = lines[3]
  assert r["step"] == 20  # the latest checkpoint
  assert r["generator"] == "raw" and r["truncation"] == 1.5 and r["num_samples"] == 64
  assert r["bn_stats"]["mode"] == "batch"
  assert r["classifier"] == os.path.abspath(classifier_dir)
  assert all(np.isfinite(r["metrics"][f"standin/{k}"]) for k in ("fid", "kid",
                                                                "inception_score"))
  assert r["metrics"]["standin/fid"] != m["standin/fid"]
  assert ("raw_trunc1.5_batch/standin/fid", 20) in read_scalars(workdir)


def test_fid_same_data_vs_noise(classifier_dir):
  config = tiny_config(classifier_dir)
  clf = evaluation.Classifier(classifier_dir)
  images = np.concatenate([x.numpy() for x, _ in data.build_eval_dataset(config, 100, 400)])
  _, feats = clf(images)
  noise = np.random.default_rng(0).uniform(-1, 1, size=(200, 32, 32, 3)).astype(np.float32)
  _, noise_feats = clf(noise)
  from sagan_tf.evaluation import metrics  # pylint: disable=g-import-not-at-top
  same = metrics.frechet_distance(feats[:200], feats[200:])
  vs_noise = metrics.frechet_distance(feats[:200], noise_feats)
  assert same * 10 < vs_noise, (same, vs_noise)


def test_evaluation_latents_are_generate_from_seeds(template):
  """Sample i of the evaluation has the z the export's generate_from_seed gives for config.seed
  (row i), whatever the batching, and the label seeded_labels gives."""
  from sagan_tf.evaluation import evaluator  # pylint: disable=g-import-not-at-top
  from sagan_tf.export import exporter  # pylint: disable=g-import-not-at-top
  config = tiny_config(seed=11, eval_truncation=0.7)
  batches = [evaluator.latents(config, start, num) for start, num in ((0, 4), (4, 4), (8, 2))]
  z = np.concatenate([b[0].numpy() for b in batches])
  labels = np.concatenate([b[1].numpy() for b in batches])
  archive = exporter.build_archive(template[1]["ema_generator"],
                                   ("serving_default", "generate_from_seed"))
  served = archive.sagan_endpoints["generate_from_seed"](
      seed=tf.constant(11, tf.int64), labels=tf.constant(labels),
      truncation=tf.constant(0.7))
  np.testing.assert_array_equal(z, served["z"].numpy())
  np.testing.assert_array_equal(labels, noise.seeded_labels(11, 10, 3).numpy())
  assert np.abs(z).max() < 0.7 and set(labels) <= {0, 1, 2} and len(set(labels)) > 1


def test_generation_uses_inference_mode_and_fixed_latents(tmp_path, classifier_dir, template):
  """BN with standing statistics, sampled in inference mode: an image does not depend on the
  rest of its batch, so batch sizes 8 and 32 give the same images; the latents repeat."""
  _, models = template
  clf, outs = evaluation.Classifier(classifier_dir), []
  for bs in (8, 32):
    config = tiny_config(classifier_dir, eval_batch_size=bs, eval_num_samples=32)
    ev = evaluation.Evaluator(config, str(tmp_path), classifier=clf)
    outs.append(ev.generate(models["ema_generator"]))
  outs = [o["standin"] for o in outs]
  np.testing.assert_array_equal(outs[0]["labels"], outs[1]["labels"])
  np.testing.assert_allclose(outs[0]["pool_3"], outs[1]["pool_3"], rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(outs[0]["symmetry"], outs[1]["symmetry"], rtol=1e-4, atol=1e-5)
  again = ev.generate(models["ema_generator"])["standin"]
  np.testing.assert_array_equal(again["pool_3"], outs[1]["pool_3"])
  raw = ev.generate(models["generator"])["standin"]  # EMA and raw G differ in the template
  assert np.abs(raw["pool_3"] - again["pool_3"]).max() > 1e-3


class Recording(evaluation.Classifier):
  """Logs (network, sum of the images) of every call in a list shared by the networks."""

  def __init__(self, path, name, log):
    super().__init__(path)
    self.name, self.log = name, log

  def __call__(self, images):
    self.log.append((self.name, float(np.sum(np.asarray(images, np.float64)))))
    return super().__call__(images)


def test_two_networks_in_one_pass(tmp_path, classifier_dir, features_only, template,
                                  monkeypatch):
  """Main network with pool_3 only (the imported Inception's interface): FID and KID, no IS;
  the stand-in as class network: class accuracy and IS in its units. Every batch goes through
  both networks in turn (one generation); real outputs are cached per network; the result and
  the tags name the network of each metric."""
  template_workdir, models = template
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (20,))
  monkeypatch.setattr(ckpt_lib, "restore_models",  # skip the (slow) rebuild; same weights
                      lambda c, w, pinned: dict(models, path=pinned.source))
  config = tiny_config(features_only, eval_class_classifier_path=classifier_dir)
  log = []
  ev = CapturingEvaluator(config, workdir, classifier=Recording(features_only, "inception", log),
                          class_classifier=Recording(classifier_dir, "standin", log))
  record = evaluation.evaluate_and_write(config, workdir, evaluator=ev)
  ev.close()
  m = record["metrics"]
  assert set(m) == {"inception/fid", "inception/kid", "inception/kid_std",
                    "standin/class_accuracy", "standin/real_class_accuracy",
                    "standin/inception_score", "standin/real_inception_score",
                    "symmetry_error", "real_symmetry_error"}
  # After the two probes: 2 real then 2 generated batches of 32, each through both in turn.
  assert [name for name, _ in log[:2]] == ["inception", "standin"]
  passes = log[2:]
  assert [name for name, _ in passes] == ["inception", "standin"] * 4
  assert all(a[1] == b[1] for a, b in zip(passes[::2], passes[1::2]))
  real, gen = ev.real_stats, ev.captured
  assert "logits" not in gen["inception"] and "logits" not in real["inception"].outputs
  assert m["inception/fid"] == pytest.approx(
      np_fid(real["inception"].pool_3, gen["inception"]["pool_3"]), rel=1e-6)
  assert m["inception/kid"] == pytest.approx(
      np_kid(real["inception"].pool_3, gen["inception"]["pool_3"]), rel=1e-6)
  assert m["standin/class_accuracy"] == pytest.approx(
      np.mean(np.argmax(gen["standin"]["logits"], 1) == gen["standin"]["labels"]))
  assert m["standin/inception_score"] == pytest.approx(np_is(gen["standin"]["logits"]),
                                                       rel=1e-6)
  assert m["standin/real_class_accuracy"] > 0.5
  line = result_lines(workdir)[0]
  assert line["networks"] == {
      "inception": dict(role="main", classifier=os.path.abspath(features_only), num_logits=None,
                        feature_dim=FEATURE_DIM),
      "standin": dict(role="class", classifier=os.path.abspath(classifier_dir), num_logits=3,
                      feature_dim=FEATURE_DIM)}
  assert line["class_classifier"] == os.path.abspath(classifier_dir)
  scalars = read_scalars(workdir)
  assert scalars[("ema_standing2x8/inception/fid", 20)] == pytest.approx(m["inception/fid"])
  assert ("ema_standing2x8/standin/class_accuracy", 20) in scalars
  assert not [tag for tag, _ in scalars if tag.startswith("ema_standing2x8/inception/incep")]
  # A cache file per network; the next job loads both, computing nothing.
  assert len(glob.glob(os.path.join(evaluator_lib.stats_dir(config, workdir), "*.npz"))) == 2
  inception, standin = ev.networks["inception"], ev.networks["standin"]
  again = evaluation.Evaluator(config, workdir, classifier=inception, class_classifier=standin)
  assert all(r.loaded_from_cache for r in again.real_stats.values())
  np.testing.assert_array_equal(again.real_stats["standin"].logits, real["standin"].logits)
  # The same checkpoint without the class network is another result, not a repeat.
  assert evaluator_lib.find_result(workdir, 20, tiny_config(features_only)) is None
  # A main network with logits that are not the dataset's classes (TF-Hub's 1008) is
  # 'inception' and gives IS too.
  both = evaluation.Classifier(fake_classifiers.save(tmp_path / "both", ("pool_3", "logits"),
                                                     FEATURE_DIM))
  assert evaluation.Evaluator(tiny_config(features_only), workdir, classifier=both).main == (
      "inception")
  # Refused: a class network without the dataset's classes, or beside a stand-in main network.
  with pytest.raises(evaluation.ClassifierError, match=r"missing \['logits'\]"):
    evaluation.Evaluator(config, workdir, classifier=inception, class_classifier=inception)
  with pytest.raises(evaluation.ClassifierError, match="has 16 logits, but the dataset has 3"):
    evaluation.Evaluator(config, workdir, classifier=inception, class_classifier=both)
  with pytest.raises(evaluation.ClassifierError, match="stand-in with the 3 classes already"):
    evaluation.Evaluator(config, workdir, classifier=standin)


def test_rows_written_before_two_networks_still_read(tmp_path, template_workdir, classifier_dir):
  """A results line without "format" (plain metric names, one network) reads as format 2 and
  still marks its step as done."""
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10,))
  config = tiny_config(classifier_dir)
  old = {k: v for k, v in evaluator_lib.settings(config).items() if k != "class_classifier"}
  results_lib.append_result(workdir, dict(old, step=10, checkpoint="c", metrics={
      "fid": 3.0, "class_accuracy": 0.5, "symmetry_error": 0.1}))
  results_lib.append_result(workdir, dict(old, step=5, classifier=evaluation.INCEPTION_TFHUB,
                                            metrics={"fid": 9.0, "inception_score": 2.0}))
  standin, hub = results_lib.read_results(workdir)
  assert standin["metrics"] == {"standin/fid": 3.0, "standin/class_accuracy": 0.5,
                                "symmetry_error": 0.1}
  assert standin["networks"] == {"standin": dict(role="main",
                                                 classifier=os.path.abspath(classifier_dir))}
  assert hub["metrics"] == {"inception/fid": 9.0, "inception/inception_score": 2.0}
  again = evaluation.evaluate_and_write(config, workdir)  # ckpt-10: done, nothing loaded
  assert again["skipped"] and again["metrics"]["standin/fid"] == 3.0


class FakeTrainer:
  """Saves the template's models as the training loop does (tf.train.CheckpointManager, keep
  3), G's first weight moved at every save; remembers that weight and the files' bytes per
  step. close() puts the weight back (the template is shared)."""

  def __init__(self, workdir, models):
    self.w = models["generator"].linear.trainable_weights[0]
    self.original = self.w.numpy()
    self.step = tf.Variable(0, dtype=tf.int64)
    self.manager = tf.train.CheckpointManager(
        ckpt_lib.make_checkpoint(models["generator"], models["ema_generator"],
                                 models["discriminator"], step=self.step),
        ckpt_lib.checkpoint_dir(workdir), max_to_keep=3)
    self.saved, self.files = {}, {}

  def save(self, *steps):
    for k in steps:
      self.w.assign_add(0.01 * tf.ones_like(self.w))
      self.step.assign(k)
      path = self.manager.save(checkpoint_number=k)
      self.saved[k] = self.w.numpy()
      self.files[k] = {os.path.basename(f): open(f, "rb").read()
                       for f in glob.glob(path + ".*")}

  def close(self):
    self.w.assign(self.original)


class Scripted(evaluation.Evaluator):
  """Scores from a table instead of generating; during[step]() runs while that step is scored
  (the trainer going on meanwhile)."""

  def __init__(self, config, workdir, classifier, fids, during=None):
    super().__init__(config, workdir, classifier=classifier)
    self.fids, self.during, self.scored = fids, during or {}, []

  def evaluate(self, models):
    step = models["step"]
    self.scored.append(step)
    self.during.get(step, lambda: None)()
    return dict(step=step, checkpoint=models["path"], metrics={"standin/fid": self.fids[step]},
                timestamp="t", **evaluator_lib.settings(self.config))


def test_real_statistics_of_a_small_folder_count_its_images(tmp_path, caplog):
  rng = np.random.default_rng(0)
  for name in ("a0", "a1", "a2", "b0", "b1", "b2"):
    (tmp_path / "data" / name[0]).mkdir(parents=True, exist_ok=True)
    tf.io.write_file(str(tmp_path / "data" / name[0] / f"{name}.png"),
                     tf.io.encode_png(rng.integers(0, 256, [8, 8, 3], dtype=np.uint8)))
  config = tiny_config(dataset="folder", data_dir=str(tmp_path / "data"), num_classes=2,
                       resolution=8)
  network = evaluation.Classifier(fake_classifiers.save(tmp_path / "net", dim=FEATURE_DIM))
  network.probe(8)
  caplog.set_level("INFO", logger="absl")
  stats = real_stats.load_or_compute(config, {"inception": network}, 100,
                                     str(tmp_path / "stats"), batch_size=4)
  assert stats["inception"].num_examples == 6
  log = caplog.text  # the progress counts toward the folder's 6 images, not the 100 asked for
  assert "real images: 6/6 images (100%)" in log and "/100 images" not in log, log
  assert f"Computing real-data statistics: 6 examples of the folder {tmp_path / 'data'}" in log
  assert (f"The folder {tmp_path / 'data'} has only 6 examples (100 requested): the real "
          "statistics use all 6." in log)


def _best_files(workdir):
  best = ckpt_lib.read_best(workdir)
  return {n: open(os.path.join(ckpt_lib.best_dir(workdir), n), "rb").read()
          for n in os.listdir(ckpt_lib.best_dir(workdir)) if n != ckpt_lib.BEST_FILE}, best


def test_continuous_keeps_up_with_rotation_and_keeps_the_best(tmp_path, classifier_dir, template,
                                                             caplog, monkeypatch):
  """A trainer saving faster than checkpoints are scored, keeping 3: the job takes the newest
  new checkpoint and says how many it skips; the best one (lowest FID, a tie keeps the
  earlier) survives in WORKDIR/best/ after the rotation deleted it, and --checkpoint=best
  restores its weights; one events file for the job."""
  caplog.set_level("INFO", logger="absl")
  workdir = str(tmp_path / "run")
  config = tiny_config(classifier_dir, num_train_steps=100)
  trainer = FakeTrainer(workdir, template[1])
  monkeypatch.setattr(ckpt_lib, "restore_models",  # the Scripted scores need no models
                      lambda c, w, pinned: dict(step=pinned.step, path=pinned.source))
  seen = {}

  def while_90():  # ckpt-50 is rotated away by now; it is the best so far
    seen["gone"] = not os.path.exists(os.path.join(ckpt_lib.checkpoint_dir(workdir),
                                                   "ckpt-50.index"))
    seen["best"] = _best_files(workdir)
    trainer.save(100)

  try:
    trainer.save(10, 20, 30, 40, 50)  # on disk: 30, 40, 50
    clf = evaluation.Classifier(classifier_dir)
    ev = Scripted(config, workdir, clf, fids={50: 2.0, 90: 2.0, 100: 1.0},
                  during={50: lambda: trainer.save(60, 70, 80, 90), 90: while_90,
                          100: lambda: seen.update(tie=ckpt_lib.read_best(workdir)["step"])})
    records = evaluation.run_continuous(config, workdir, timeout_secs=60, poll_secs=0.05,
                                        evaluator=ev)
    ev.close()
  finally:
    trainer.close()
  assert ev.scored == [50, 90, 100] and [r["step"] for r in records] == [50, 90, 100]
  log = caplog.text
  assert "evaluating the newest (step 50) and skipping the 2 older (steps 30, 40)" in log
  assert "evaluating the newest (step 90) and skipping the 2 older (steps 70, 80)" in log
  files, best = seen["best"]
  assert seen["gone"] and best["step"] == 50 and files == trainer.files[50]
  # 90 tied with 50 (the earlier stays); 100 is lower: best/ holds it alone.
  assert seen["tie"] == 50
  files, best = _best_files(workdir)
  assert best["step"] == 100 and best["value"] == 1.0 and best["metric"] == "standin/fid"
  assert best["source"] == os.path.join(ckpt_lib.checkpoint_dir(workdir), "ckpt-100")
  assert files == trainer.files[100]
  assert len(glob.glob(os.path.join(results_lib.eval_dir(workdir), "events.out.tfevents.*"))) == 1
  assert not glob.glob(os.path.join(workdir, "best.tmp-*"))
  # --checkpoint=best (restore_models: evaluate, export, the tools) reads its weights.
  path = ckpt_lib.resolve_checkpoint(workdir, "best")
  assert path == os.path.join(ckpt_lib.best_dir(workdir), "ckpt-100")
  np.testing.assert_array_equal(tf.train.load_checkpoint(path).get_tensor(
      "generator/linear/kernel/.ATTRIBUTES/VARIABLE_VALUE"), trainer.saved[100])
  # A lower FID with other settings (moving BN statistics) is not compared with it.
  moving = tiny_config(classifier_dir, num_train_steps=100, sample_bn_stats="moving")
  other = Scripted(moving, workdir, clf, fids={90: 0.1})
  evaluation.evaluate_and_write(moving, workdir,
                                os.path.join(ckpt_lib.checkpoint_dir(workdir), "ckpt-90"),
                                evaluator=other)
  assert ckpt_lib.read_best(workdir)["step"] == 100


def test_only_the_workdirs_own_scoring_keeps_the_best_unless_asked(tmp_path, classifier_dir,
                                                                  template_workdir, caplog,
                                                                  monkeypatch):
  """A smoke test (N=10, eval_allow_small_n) or other sampling settings leave best/ alone;
  --keep_best makes one the best of its settings; a result of the workdir's own scoring (N above
  the features, config.json's sampling) then replaces it, whatever the FIDs; --keep_best=false
  never touches it."""
  caplog.set_level("INFO", logger="absl")
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10, 20))
  own = tiny_config(classifier_dir)  # the config the workdir recorded: N=64 > 16 features
  record_lib.write(workdir, record_lib.resume(None, own, 0, {})[0])
  monkeypatch.setattr(ckpt_lib, "restore_models",  # the Scripted scores need no models
                      lambda c, w, pinned: dict(step=pinned.step, path=pinned.source))
  clf = evaluation.Classifier(classifier_dir)
  ckpt = lambda step: os.path.join(ckpt_lib.checkpoint_dir(workdir), f"ckpt-{step}")

  def evaluate(config, step, fid, **kwargs):
    ev = Scripted(config, workdir, clf, fids={step: fid})
    evaluation.evaluate_and_write(config, workdir, ckpt(step), evaluator=ev, **kwargs)
    best = ckpt_lib.read_best(workdir)
    return best and (best["step"], best["default_scoring"])

  # Each call scores a (step, settings) not scored before (a repeat would be skipped).
  small = tiny_config(classifier_dir, eval_num_samples=10, eval_allow_small_n=True)
  assert evaluate(small, 20, 1.0) is None
  assert (f"Step 20 does not compete for {ckpt_lib.best_dir(workdir)}: N=10 is not above the "
          f"main network's {FEATURE_DIM} features (eval_allow_small_n). --keep_best keeps the "
          "best of these settings there." in caplog.text)
  moving = tiny_config(classifier_dir, sample_bn_stats="moving")
  assert evaluate(moving, 20, 1.0) is None
  assert "Step 20 does not compete for" in caplog.text and "its bn_stats differ from" in caplog.text
  asked = tiny_config(classifier_dir, eval_num_samples=11, eval_allow_small_n=True)
  assert evaluate(asked, 20, 1.0, keep_best=True) == (20, False)  # asked for
  # The workdir's own scoring replaces it, although its FID is higher (another N: not compared).
  assert evaluate(own, 10, 5.0) == (10, True)
  assert ("New best checkpoint: step 10, standin/fid=5 (before: step 20, 1 with other "
          "settings)" in caplog.text)
  # Then the smoke test competes no more, and --keep_best=false touches nothing.
  assert evaluate(tiny_config(classifier_dir, eval_num_samples=12, eval_allow_small_n=True), 20,
                  0.5) == (10, True)
  assert evaluate(tiny_config(classifier_dir, eval_use_ema=False), 20, 0.5,
                  keep_best=False) == (10, True)
  # A larger N is the workdir's own scoring too (compared with the kept one: another N).
  assert evaluate(tiny_config(classifier_dir, eval_num_samples=128), 20, 0.5) == (10, True)
  assert "scored with other settings: step 20 is not compared" in caplog.text
  # A best.json of an earlier version (no default_scoring) is judged by its settings.
  evaluate(tiny_config(classifier_dir, eval_num_samples=14, eval_allow_small_n=True), 20, 9.0,
           keep_best=True)
  path = os.path.join(ckpt_lib.best_dir(workdir), ckpt_lib.BEST_FILE)
  with open(path) as f:
    old = {k: v for k, v in json.load(f).items() if k != "default_scoring"}
  with open(path, "w") as f:
    json.dump(old, f)
  assert evaluate(own, 20, 5.0) == (20, True)


# ----------------------------------------------------------------------------------------------
# Bad input: a clear error before any work, and no partial line in the results file.


def test_missing_or_invalid_classifier_path(tmp_path, template_workdir):
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10,))
  missing = tiny_config(str(tmp_path / "no_such_dir"))
  with pytest.raises(evaluation.ClassifierError, match="does not exist.*--classifier_path"):
    evaluation.evaluate_and_write(missing, workdir)
  (tmp_path / "empty").mkdir()
  with pytest.raises(evaluation.ClassifierError, match="not a SavedModel directory"):
    evaluation.evaluate_and_write(tiny_config(str(tmp_path / "empty")), workdir)
  assert result_lines(workdir) == []


def test_unreachable_hub_explains_offline_setup(tmp_path, template_workdir, monkeypatch):
  import urllib.error  # pylint: disable=g-import-not-at-top
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top

  def offline(handle):
    assert handle == evaluation.INCEPTION_TFHUB
    raise urllib.error.URLError("Name or service not known")

  monkeypatch.setattr(hub, "load", offline)
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10,))
  with pytest.raises(evaluation.ClassifierError) as info:
    evaluation.evaluate_and_write(tiny_config(""), workdir)
  msg = str(info.value)
  for needle in ("URLError", "tar.gz", "--classifier_path", "TFHUB_CACHE_DIR",
                 "sagan-train-classifier"):
    assert needle in msg, needle
  assert result_lines(workdir) == []


def test_default_module_from_tfhub_cache_dir(tmp_path, classifier_dir, monkeypatch):
  """The offline route the error message gives: the module unpacked under
  $TFHUB_CACHE_DIR/sha1(handle) is loaded for the default handle without network."""
  import hashlib  # pylint: disable=g-import-not-at-top
  name = hashlib.sha1(evaluation.INCEPTION_TFHUB.encode()).hexdigest()
  shutil.copytree(classifier_dir, tmp_path / "hub" / name)
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
  clf = evaluation.Classifier("")
  assert clf.identity == evaluation.INCEPTION_TFHUB
  assert clf.probe(32) == (3, FEATURE_DIM)


def test_classifier_without_pool3(tmp_path, template_workdir):
  class LogitsOnly(tf.Module):

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
      return {"logits": tf.reduce_mean(images, axis=[1, 2]), "features": images[:, 0, 0, :]}

  path = str(tmp_path / "logits_only")
  tf.saved_model.save(LogitsOnly(), path)
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10,))
  with pytest.raises(evaluation.ClassifierError,
                     match=r"outputs keys \['features', 'logits'\], missing \['pool_3'\]"):
    evaluation.evaluate_and_write(tiny_config(path), workdir)
  assert result_lines(workdir) == []


def test_workdir_without_checkpoints(tmp_path, classifier_dir):
  workdir = str(tmp_path / "empty_run")
  config = tiny_config(classifier_dir)
  with pytest.raises(FileNotFoundError, match="No checkpoint in .*train first"):
    evaluation.evaluate_and_write(config, workdir)
  with pytest.raises(FileNotFoundError, match="ckpt-5: no such checkpoint.*holds none"):
    evaluation.evaluate_and_write(config, workdir, os.path.join(workdir, "checkpoints/ckpt-5"))
  with pytest.raises(FileNotFoundError, match="No checkpoint appeared"):
    evaluation.run_continuous(config, workdir, timeout_secs=0.3, poll_secs=0.1)
  assert result_lines(workdir) == []


def test_checkpoint_not_matching_config(tmp_path, classifier_dir, template_workdir):
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10,))
  with pytest.raises(ValueError, match="does not match the config.*g_ch=16"):
    evaluation.evaluate_and_write(tiny_config(classifier_dir, g_ch=16), workdir)
  assert result_lines(workdir) == []
  assert not glob.glob(os.path.join(results_lib.eval_dir(workdir), "events.*"))
  assert not glob.glob(os.path.join(workdir, "best*"))


def test_too_few_samples(tmp_path, classifier_dir, template_workdir):
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (10,))
  with pytest.raises(ValueError, match="N=1; FID and KID need at least 2"):
    evaluation.evaluate_and_write(tiny_config(classifier_dir, eval_num_samples=1), workdir)
  with pytest.raises(ValueError, match=f"N={FEATURE_DIM} <= {FEATURE_DIM}.*eval_allow_small_n"):
    evaluation.evaluate_and_write(
        tiny_config(classifier_dir, eval_num_samples=FEATURE_DIM), workdir)
  assert result_lines(workdir) == []
  assert not os.path.exists(os.path.join(results_lib.eval_dir(workdir), "real_stats"))


def test_failure_mid_evaluation_writes_nothing(tmp_path, classifier_dir, template,
                                              monkeypatch):
  template_workdir, models = template
  workdir = copy_checkpoints(template_workdir, str(tmp_path / "run"), (20,))
  monkeypatch.setattr(ckpt_lib, "restore_models",  # skip the (slow) rebuild; same weights
                      lambda c, w, pinned: dict(models, path=pinned.source))
  earlier = dict(step=10, checkpoint="x", metrics={"fid": 1.0}, generator="ema")
  results_lib.append_result(workdir, earlier)

  class Flaky(evaluation.Classifier):
    calls = 0

    def __call__(self, images):
      Flaky.calls += 1
      if Flaky.calls > 4:  # probe, 2 real batches, 1 generated batch, then fail
        raise RuntimeError("classifier crashed")
      return super().__call__(images)

  config = tiny_config(classifier_dir)
  ev = evaluation.Evaluator(config, workdir, classifier=Flaky(classifier_dir))
  with pytest.raises(RuntimeError, match="classifier crashed"):
    evaluation.evaluate_and_write(config, workdir, evaluator=ev)
  assert result_lines(workdir) == [earlier]
  assert not glob.glob(os.path.join(results_lib.eval_dir(workdir), "events.*"))
  assert not glob.glob(os.path.join(workdir, "best*"))  # no best/, no pinned copy left


def test_results_file_recovers_from_a_torn_line(tmp_path):
  workdir = str(tmp_path)
  os.makedirs(results_lib.eval_dir(workdir))
  with open(results_lib.results_path(workdir), "w") as f:
    f.write('{"step": 5, "metrics": {"fid": 1.0}}\n{"step": 6, "metr')  # killed mid-write
  results_lib.append_result(workdir, {"step": 7})
  assert [r["step"] for r in results_lib.read_results(workdir)] == [5, 7]
