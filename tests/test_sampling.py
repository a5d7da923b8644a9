"""Tests of sagan_tf/sampling: the seeded latents, the BN-statistics modes (standing against an
independent numpy computation of each BN's averaged batch moments, moving = inference mode,
batch = a train-mode pass), that nothing sampled from is ever modified, replicas, and the
workdir's recorded config."""

import copy
import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import tiny_sagan

from sagan_tf import config as config_lib
from sagan_tf.layers import ConditionalBatchNorm
from sagan_tf.sampling import bn_stats, noise
from sagan_tf.sampling import sampler as sampler_lib
from sagan_tf import models as models_lib
from sagan_tf.store import record as run_record

K, B = 3, 6


def _small_config():
  c = config_lib.base_config()
  c.resolution, c.g_ch, c.d_ch, c.z_dim, c.num_classes = 32, 8, 8, 16, 3
  c.g_attention = c.d_attention = (16,)
  return c


def _perturbed_generator(config=None, seed=0):
  """A small G whose weights are not the initial ones (BN tables, attention gamma, stored
  moving statistics far from the standing ones)."""
  g = models_lib.build_generator(config or _small_config())
  rng = np.random.default_rng(seed)
  for w in g.weights:
    value = w.numpy()
    if w.path.endswith("moving_mean"):
      value = rng.normal(0, 0.5, value.shape)
    elif w.path.endswith("moving_variance"):
      value = rng.uniform(0.2, 3.0, value.shape)
    elif "sn_u" not in w.path:
      value = value + rng.normal(0, 0.1, value.shape)
    w.assign(value.astype(np.float32))
  return g


def _weights(model):
  return [w.numpy().copy() for w in model.weights]


def _assert_same_weights(model, values):
  for w, v in zip(model.weights, values, strict=True):
    np.testing.assert_array_equal(w.numpy(), v, err_msg=w.path)


@pytest.fixture(scope="module")
def generator():
  return _perturbed_generator()


def _recorded_bn_inputs(g, batches, batch_size, truncation):
  """Runs `batches` train-mode passes of a fresh copy of g on the documented standing latents,
  recording every BN's input. Returns {layer index: [input float64 [B, ..., C] per pass]}."""
  probe = type(g)(**g.get_config()).build_weights()
  for src, dst in zip(g.weights, probe.weights):
    dst.assign(src.numpy())
  layers = [l for l in probe._flatten_layers() if isinstance(l, ConditionalBatchNorm)]
  inputs = {i: [] for i in range(len(layers))}
  for i, layer in enumerate(layers):
    original = layer.call

    def recording(x, labels=None, training=False, i=i, original=original):
      inputs[i].append(np.asarray(x, np.float64))
      return original(x, labels, training=training)

    layer.call = recording
  for k in range(batches):
    z = noise.seeded_noise(bn_stats.STANDING_SEED, batch_size, g.z_dim, truncation,
                           start=k * batch_size)
    labels = noise.seeded_labels(bn_stats.STANDING_SEED, batch_size, g.num_classes,
                                 start=k * batch_size)
    probe(z, labels, training=True, update_u=False)
  return inputs


@pytest.mark.parametrize("g_spectral_norm", [True, False])
def test_standing_statistics_are_averaged_batch_moments_per_layer(generator, g_spectral_norm):
  if not g_spectral_norm:  # G without spectral norm (the paper's Figure 3 baseline)
    config = _small_config()
    config.g_spectral_norm = False
    generator = _perturbed_generator(config)
  before = _weights(generator)
  stats = bn_stats.BNStats("standing", batches=K, batch_size=B, truncation=0.8)
  sampling = bn_stats.prepare(generator, stats)
  assert sampling.model.spectral_norm is g_spectral_norm  # the sampling copy is the same model
  assert any(w.path.endswith("/sn_u") for w in sampling.model.weights) is g_spectral_norm
  copy_layers = bn_stats.bn_layers(sampling.model)
  assert len(copy_layers) == 2 * len(generator.blocks) + 1  # two CBNs per block, head BN
  inputs = _recorded_bn_inputs(generator, K, B, 0.8)
  for i, layer in enumerate(copy_layers):
    assert len(inputs[i]) == K
    axes = tuple(range(inputs[i][0].ndim - 1))
    mean = np.mean([x.mean(axes) for x in inputs[i]], axis=0)
    var = np.mean([x.var(axes) for x in inputs[i]], axis=0)  # biased, as BN's batch moments
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5,
                               err_msg=layer.name)
    np.testing.assert_allclose(layer.moving_variance.numpy(), var, rtol=1e-4, atol=1e-5,
                               err_msg=layer.name)
  # The sampled generator is untouched, bitwise (weights, u, moving statistics, momentum).
  _assert_same_weights(generator, before)
  assert [l.momentum for l in bn_stats.bn_layers(sampling.model)] == [
      l.momentum for l in bn_stats.bn_layers(generator)]
  # The copy differs from G only in the BN statistics (u included: the same sampled weights).
  for w, c in zip(generator.weights, sampling.model.weights):
    if not w.path.endswith(("moving_mean", "moving_variance")):
      np.testing.assert_array_equal(c.numpy(), w.numpy(), err_msg=w.path)
  # Sampling uses inference mode on the copy: images = copy(z, training=False).
  z = noise.seeded_noise(4, 5, generator.z_dim)
  labels = tf.constant([0, 1, 2, 0, 1])
  want = sampling.model(z, labels, training=False, update_u=False).numpy()
  np.testing.assert_array_equal(sampling(z, labels).numpy(), want)
  assert np.abs(want - generator(z, labels, training=False).numpy()).max() > 1e-2


def test_standing_statistics_are_seeded_and_depend_on_the_settings(generator):
  stats = bn_stats.BNStats("standing", batches=K, batch_size=B)
  a = bn_stats.prepare(generator, stats).model
  b = bn_stats.prepare(_perturbed_generator(), stats).model  # another object, same weights
  reused = bn_stats.prepare(generator, stats, copy=b).model
  assert reused is b
  other = bn_stats.prepare(generator, bn_stats.BNStats("standing", batches=K + 1,
                                                       batch_size=B)).model
  for la, lb, lo in zip(*(bn_stats.bn_layers(m) for m in (a, b, other))):
    np.testing.assert_array_equal(la.moving_mean.numpy(), lb.moving_mean.numpy())
    np.testing.assert_array_equal(la.moving_variance.numpy(), lb.moving_variance.numpy())
  assert any(np.abs(la.moving_mean.numpy() - lo.moving_mean.numpy()).max() > 1e-4
             for la, lo in zip(bn_stats.bn_layers(a), bn_stats.bn_layers(other)))


def test_moving_reproduces_inference_mode_exactly(generator):
  sampling = bn_stats.prepare(generator, bn_stats.BNStats("moving"))
  assert sampling.model is generator and not sampling.training
  z, labels = noise.seeded_noise(1, 4, generator.z_dim), tf.constant([2, 1, 0, 2])
  images, maps = sampling(z, labels, return_attention=True)
  want, want_maps = generator(z, labels, training=False, update_u=False, return_attention=True)
  np.testing.assert_array_equal(images.numpy(), want.numpy())
  np.testing.assert_array_equal(maps["attention16"].numpy(), want_maps["attention16"].numpy())


def test_batch_is_a_train_mode_pass_without_state_changes(generator):
  before = _weights(generator)
  sampling = bn_stats.prepare(generator, bn_stats.BNStats("batch"))
  z, labels = noise.seeded_noise(2, 6, generator.z_dim), tf.constant([0, 1, 2, 0, 1, 2])
  images = sampling(z, labels).numpy()
  _assert_same_weights(generator, before)
  # Reference: G itself in train mode (u frozen), then its state put back.
  want = generator(z, labels, training=True, update_u=False).numpy()
  for w, value in zip(generator.weights, before):
    w.assign(value)
  np.testing.assert_allclose(images, want, rtol=1e-5, atol=1e-6)
  # Batch statistics: an image depends on the rest of its batch.
  assert np.abs(sampling(z[:3], labels[:3]).numpy() - images[:3]).max() > 1e-4


def test_two_replicas_give_the_one_replica_standing_statistics(generator, two_cpu_strategy):
  with two_cpu_strategy.scope():
    mirrored = type(generator)(**generator.get_config()).build_weights()
  for src, dst in zip(generator.weights, mirrored.weights):
    dst.assign(src.numpy())
  assert isinstance(mirrored.weights[0].value, tf.distribute.DistributedValues)
  stats = bn_stats.BNStats("standing", batches=K, batch_size=B)
  one = bn_stats.prepare(generator, stats).model
  two = bn_stats.prepare(mirrored, stats).model
  for a, b in zip(bn_stats.bn_layers(one), bn_stats.bn_layers(two)):
    np.testing.assert_allclose(b.moving_mean.numpy(), a.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(b.moving_variance.numpy(), a.moving_variance.numpy(), atol=1e-6)


def test_standing_statistics_describe_their_passes():
  assert bn_stats.BNStats("standing", batches=1, batch_size=1).describe() == (
      "standing statistics (1 pass of 1, truncation 0)")
  assert bn_stats.BNStats("standing", batches=20, batch_size=64, truncation=1.5).describe() == (
      "standing statistics (20 passes of 64, truncation 1.5)")
  assert bn_stats.BNStats("moving").describe() == "stored moving statistics"


def test_bad_settings_fail_clearly():
  with pytest.raises(ValueError, match="'average' is not one of"):
    bn_stats.BNStats("average")
  with pytest.raises(ValueError, match="batches >= 1.*--bn_stats_batches"):
    bn_stats.BNStats("standing", batches=0)
  assert bn_stats.BNStats("moving", batches=0).identity() == {
      "mode": "moving", "batches": None, "batch_size": None, "truncation": None, "seed": None}
  assert bn_stats.BNStats().tag() == "standing20x64"


def test_seeded_latents_rows_and_labels():
  z = noise.seeded_noise(7, 10, 5, 0.6).numpy()
  np.testing.assert_array_equal(noise.seeded_noise(7, 4, 5, 0.6, start=6).numpy(), z[6:])
  assert np.abs(z).max() < 0.6
  labels = noise.seeded_labels(7, 3000, 5).numpy()
  assert labels.dtype == np.int32 and set(labels) == set(range(5))
  assert np.abs(np.bincount(labels) / 3000 - 0.2).max() < 0.03  # uniform
  np.testing.assert_array_equal(noise.seeded_labels(7, 5, 5, start=100).numpy(),
                                labels[100:105])
  assert not noise.seeded_labels(7, 4, 0).numpy().any()
  # Labels and z are independent streams: the label is not a function of z's first coordinate.
  first = noise.seeded_noise(7, 3000, 5).numpy()[:, 0]
  assert abs(np.corrcoef(first, labels)[0, 1]) < 0.08


def _tree_digest(path):
  digest = hashlib.sha256()
  for root, _, files in sorted(os.walk(path)):
    for name in sorted(files):
      digest.update(name.encode())
      with open(os.path.join(root, name), "rb") as f:
        digest.update(f.read())
  return digest.hexdigest()


def test_sampling_a_workdir_leaves_its_checkpoint_bitwise_unchanged(tiny):
  before = _tree_digest(tiny["workdir"])
  for mode in ("standing", "batch", "moving"):
    stats = bn_stats.BNStats(mode, batches=2, batch_size=4)
    s = sampler_lib.load_sampler(config=tiny["config"], workdir=tiny["workdir"], bn_stats=stats)
    s.generate(s.noise(0, 3), [0, 1, 2])
  assert _tree_digest(tiny["workdir"]) == before


def test_max_batch_is_checked_before_drawing(tiny):
  s = sampler_lib.KerasSampler(tiny["generator"], bn_stats=bn_stats.BNStats("moving"),
                               max_batch=4)
  with pytest.raises(ValueError, match="needs 5 images; the limit is --max_batch=4"):
    s.noise(0, 5)
  with pytest.raises(ValueError, match="--max_batch=4"):
    s.generate(np.zeros([5, tiny_sagan.Z_DIM], np.float32), [0] * 5)


def test_workdir_config_is_the_recorded_one_with_overrides(tiny, tmp_path):
  recorded = run_record.workdir_config(tiny["workdir"])
  assert recorded.to_dict() == config_lib.config_from_dict(
      json.load(open(os.path.join(tiny["workdir"], "config.json")))["config"]).to_dict()
  assert (recorded.g_ch, recorded.z_dim, tuple(recorded.g_attention)) == (16, 32, (16,))
  # --config.KEY=VALUE on top of the record: changeable keys, and fixed ones left as recorded.
  config = run_record.workdir_config(tiny["workdir"], overrides={
      "eval_num_samples": 123, "eval_allow_small_n": True, "g_ch": 16, "g_attention": (16,)})
  assert (config.eval_num_samples, config.eval_allow_small_n) == (123, True)
  assert config.to_dict() == {**recorded.to_dict(), "eval_num_samples": 123,
                              "eval_allow_small_n": True}
  with pytest.raises(ValueError, match=r"^--config.g_ch=32 \(recorded 16\), "
                     r"--config.num_classes=10 \(recorded 4\): fixed for .*config.json.*"
                     r"may be overridden: .*eval_allow_small_n"):
    run_record.workdir_config(tiny["workdir"], overrides={"g_ch": 32, "num_classes": 10,
                                                          "g_lr": 1.0})
  # A --config file equal to the record is the record (overrides on top); one that differs is
  # refused naming the keys; a file is taken as it is (with overrides) where none is recorded.
  given = copy.deepcopy(recorded)
  given.eval_num_samples = 77  # overridden below: the override counts, not the file
  config = run_record.workdir_config(tiny["workdir"], given, {"eval_num_samples": 123})
  assert config.to_dict() == {**recorded.to_dict(), "eval_num_samples": 123}
  given.g_lr, given.seed = 0.5, 7
  with pytest.raises(ValueError, match=r"--config differs from the config .* in 2 key\(s\): "
                     r"g_lr \(--config 0.5, recorded .*\), seed \(--config 7, recorded 0\)\. "
                     r".*drop --config"):
    run_record.workdir_config(tiny["workdir"], given, {"eval_num_samples": 123})
  given = copy.deepcopy(tiny["config"])
  (tmp_path / "untrained").mkdir()
  with pytest.raises(FileNotFoundError, match="config.json not found.*--config"):
    run_record.workdir_config(str(tmp_path / "untrained"))
  with pytest.raises(FileNotFoundError, match="does not exist"):
    run_record.workdir_config(str(tmp_path / "missing"))
  assert run_record.workdir_config(str(tmp_path / "untrained"), given) is given


def test_sampling_copies_are_freed_with_their_traced_passes(generator):
  """A long evaluation job prepares a copy per checkpoint: none may stay alive."""
  import gc  # pylint: disable=import-outside-toplevel
  import weakref  # pylint: disable=import-outside-toplevel
  model = bn_stats.prepare(generator, bn_stats.BNStats("standing", batches=1, batch_size=2)).model
  ref = weakref.ref(model)
  del model
  gc.collect()
  assert ref() is None
