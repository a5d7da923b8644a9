"""tools/score_samples.py: the FID and KID of an .npz of samples equal those sagan-evaluate gives
the same images (a tiny fake network, the same real-data cache); bad input is one line.

The evaluation scores G's float images and the tool their uint8 form, so the fake network here
rounds its input to the 256 grey levels first (both paths then feed it the same values): the
comparison checks the tool's path (networks, real statistics, sample count, batches, metrics),
not the rounding, whose size the tool's docstring states."""

import json
import os
import runpy
import subprocess
import sys

import numpy as np
import tensorflow as tf

import fake_classifiers
from sagan_tf import models as models_lib
from sagan_tf.evaluation import evaluator as evaluator_lib
from sagan_tf.sampling import bn_stats as bn_stats_lib
from sagan_tf.sampling import settings as settings_lib
from sagan_tf.store import checkpoints as ckpt_lib
from sagan_tf.store import images as images_lib
from sagan_tf.store import results as results_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURE_DIM = 8
NUM_SAMPLES = 40
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

CONFIG_TEXT = '''"""Tiny test config: experiments/cpu_demo.py shrunk, on an image folder."""
import runpy


def get_config():
  c = runpy.run_path({demo!r})["get_config"]()
  c.dataset = "folder"
  c.data_dir = {data!r}
  c.num_classes = 2
  c.g_ch = c.d_ch = 8
  c.z_dim = 16
  c.eval_batch_size = 16
  c.standing_stats_batches, c.standing_stats_batch_size = 2, 8
  return c
'''


class _Quantizing(fake_classifiers._Projection):  # pylint: disable=protected-access
  """fake_classifiers' projection of the images rounded to uint8 levels first."""

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                              name="images")])
  def __call__(self, images):
    levels = tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)) / 127.5 - 1.0
    x = tf.reshape(tf.image.resize(levels, [8, 8]), [-1, 8 * 8 * 3])
    return {"pool_3": tf.identity(tf.tanh(x @ self.w), name="pool_3")}


def _setup(tmp_path):
  rng = np.random.default_rng(0)
  data = tmp_path / "data"
  for c, name in enumerate(("cats", "dogs")):
    (data / name).mkdir(parents=True)
    for i in range(12):  # 24 real images > FEATURE_DIM
      image = rng.integers(0, 256, [32, 32, 3], dtype=np.uint8) // (c + 1)
      tf.io.write_file(str(data / name / f"{i}.png"), tf.io.encode_png(image))
  config_path = tmp_path / "tiny_config.py"
  config_path.write_text(CONFIG_TEXT.format(demo=os.path.join(REPO, "experiments", "cpu_demo.py"),
                                            data=str(data)))
  net = _Quantizing(("pool_3",), FEATURE_DIM, 0)
  classifier = str(tmp_path / "net")
  tf.saved_model.save(net, classifier, signatures={"serving_default": net.__call__})
  return str(config_path), classifier


def _score(*flags):
  return subprocess.run([sys.executable, "tools/score_samples.py", *flags], cwd=REPO, env=ENV,
                        capture_output=True, text=True, timeout=600)


def test_scores_equal_the_evaluation_of_the_same_images(tmp_path):
  config_path, classifier = _setup(tmp_path)
  stats = str(tmp_path / "real_stats")
  config = runpy.run_path(config_path)["get_config"]()
  config.classifier_path, config.eval_stats_dir = classifier, stats
  config.eval_num_samples = NUM_SAMPLES
  workdir = str(tmp_path / "workdir")  # a checkpoint as the training loop saves it
  g, d = models_lib.build_models(config)
  ema, _ = models_lib.build_models(config)
  for w in ema.trainable_weights:  # an EMA generator that is not G
    w.assign_add(tf.random.stateless_normal(w.shape, [1, 2], stddev=0.01))
  ckpt = ckpt_lib.make_checkpoint(g, ema, d, step=tf.Variable(5, dtype=tf.int64))
  tf.train.CheckpointManager(ckpt, ckpt_lib.checkpoint_dir(workdir), 2).save(checkpoint_number=5)
  evaluation = evaluator_lib.evaluate_and_write(config, workdir)  # sagan-evaluate --once
  (cache,) = os.listdir(stats)
  cache_mtime = os.stat(os.path.join(stats, cache)).st_mtime_ns

  # The same images: the evaluation's latents, generator and BN statistics, as uint8.
  restored = ckpt_lib.restore_models(config, workdir)
  sampling = bn_stats_lib.prepare(restored["ema_generator"], settings_lib.bn_stats(config))
  z, labels = evaluator_lib.latents(config, 0, NUM_SAMPLES)
  samples = str(tmp_path / "samples.npz")
  np.savez(samples, images=images_lib.to_uint8(sampling(z, labels)).numpy(),
           labels=labels.numpy().astype(np.int64), iterations_per_sec=np.float64(3.25))

  results = str(tmp_path / "out" / "peer.jsonl")
  result = _score(f"--samples={samples}", f"--config={config_path}",
                  f"--classifier_path={classifier}", f"--config.eval_stats_dir={stats}",
                  f"--results={results}", "--name=tiny")
  assert result.returncode == 0, result.stderr[-3000:]
  (line,) = [json.loads(x) for x in open(results)]
  expected = evaluation["metrics"]
  assert set(line["metrics"]) == set(expected) == {"inception/fid", "inception/kid",
                                                   "inception/kid_std"}
  np.testing.assert_allclose(line["fid"], expected["inception/fid"], rtol=1e-6)
  np.testing.assert_allclose(line["kid"], expected["inception/kid"], rtol=1e-6, atol=1e-9)
  assert line["fid"] > 0
  assert (line["name"], line["num_samples"], line["num_real"]) == ("tiny", NUM_SAMPLES, 24)
  assert line["num_real"] == evaluation["num_real"]
  assert line["iterations_per_sec"] == 3.25  # from the npz
  assert line["source"] == samples and len(line["source_sha1"]) == 40
  assert line["networks"] == evaluation["networks"]
  assert line["classifier"] == evaluation["classifier"]
  # the evaluation's real-data cache is the one read, not recomputed
  assert line["real_stats"] == {"inception": os.path.join(stats, cache)}
  assert os.listdir(stats) == [cache]
  assert os.stat(os.path.join(stats, cache)).st_mtime_ns == cache_mtime
  assert f"tiny: FID {line['fid']:.6g}, KID" in result.stdout, result.stdout
  assert results_lib.read_results(workdir)[0]["metrics"] == expected

  # The first N of the file, a given speed; appended as a second line.
  result = _score(f"--samples={samples}", f"--config={config_path}", "--num_samples=30",
                  f"--classifier_path={classifier}", f"--config.eval_stats_dir={stats}",
                  f"--results={results}", "--iterations_per_sec=7")
  assert result.returncode == 0, result.stderr[-3000:]
  second = [json.loads(x) for x in open(results)][1]
  assert (second["num_samples"], second["iterations_per_sec"], second["name"]) == (30, 7.0, "")
  assert second["fid"] != line["fid"]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
  config_path, classifier = _setup(tmp_path)
  small = str(tmp_path / "small.npz")
  np.savez(small, images=np.zeros([20, 16, 16, 3], np.uint8), labels=np.zeros([20], np.int64))
  few = str(tmp_path / "few.npz")  # 5 samples <= the network's 8 features
  np.savez(few, images=np.zeros([5, 32, 32, 3], np.uint8), labels=np.zeros([5], np.int64))
  results = str(tmp_path / "r.jsonl")
  for samples, message in ((small, "images are 16x16, the config's real data 32x32"),
                           (few, "N=5 <= 8")):
    result = _score(f"--samples={samples}", f"--config={config_path}",
                    f"--classifier_path={classifier}", f"--results={results}")
    assert result.returncode == 1, result.stderr[-2000:]
    lines = [x for x in result.stderr.strip().splitlines() if x.startswith("Error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
  assert not os.path.exists(results)
