"""Config validation and model building."""

import numpy as np
import pytest

from sagan_tf import config as config_lib
from sagan_tf.layers import SNConv2D, SNDense
from sagan_tf.models import Discriminator, Generator
from sagan_tf import models as models_lib


def small_config(**overrides):
  c = config_lib.base_config()
  c.resolution, c.g_ch, c.d_ch, c.z_dim, c.num_classes = 32, 8, 8, 16, 3
  c.g_attention, c.d_attention = (16,), (16,)
  for k, v in overrides.items():
    c[k] = v
  return c


def test_base_config_is_the_authors_128_setup_and_valid():
  c = config_lib.base_config()
  assert config_lib.validate(c) is c
  assert (c.resolution, c.g_ch, c.d_ch, c.z_dim, c.num_classes) == (128, 64, 64, 128, 1000)
  assert tuple(c.g_attention) == (32,) and tuple(c.d_attention) == (32,)
  assert (c.g_lr, c.d_lr, c.beta1, c.loss) == (1e-4, 4e-4, 0.0, "hinge")
  assert config_lib.validate(small_config()) is not None


@pytest.mark.parametrize("key,value,match", [
    ("resolution", 48, r"resolution=48.*\[32, 64, 128, 256\]"),
    ("dataset", "imagenet", r"dataset='imagenet'.*synthetic"),
    ("g_attention", (64,), r"attention.*\[8, 16, 32\]"),
    ("d_attention", (32,), r"attention.*\[8, 16\]"),
    ("loss", "l2", "loss='l2'"),
    ("g_ch", 0, "g_ch=0"),
    ("g_spectral_norm", None, "g_spectral_norm=None must be true or false"),
    ("lr_schedule", "cosine", r"lr_schedule='cosine'.*\('constant', 'linear_decay'\)"),
    ("lr_decay_start_step", -1, "lr_decay_start_step=-1 must be >= 0"),
])
def test_validate_rejects(key, value, match):
  with pytest.raises(ValueError, match=match):
    config_lib.validate(small_config(**{key: value}))


def test_linear_decay_must_start_before_the_end():
  c = small_config(lr_schedule="linear_decay", num_train_steps=100, lr_decay_start_step=99)
  assert config_lib.validate(c) is c
  c.lr_decay_start_step = 100
  with pytest.raises(ValueError, match="lr_decay_start_step=100 must be < num_train_steps=100"):
    config_lib.validate(c)
  c.lr_schedule = "constant"  # unused then: no constraint
  assert config_lib.validate(c) is c


def test_defaults_are_the_authors_sn_in_g_and_constant_rates():
  c = config_lib.base_config()
  assert c.g_spectral_norm is True and "g_spectral_norm" in config_lib.MODEL_KEYS
  assert (c.lr_schedule, c.lr_decay_start_step) == ("constant", 0)


def test_validate_rejects_bad_resolution_of_base_config():
  c = config_lib.base_config()
  c.resolution = 100
  with pytest.raises(ValueError, match="resolution"):
    config_lib.validate(c)


def test_build_models_returns_built_models():
  c = small_config()
  g, d = models_lib.build_models(c)
  assert isinstance(g, Generator) and isinstance(d, Discriminator)
  assert g.built and d.built and g.trainable_weights and d.trainable_weights
  assert (g.resolution, g.z_dim, g.num_classes, g.attention_resolutions) == (32, 16, 3, (16,))
  assert (d.resolution, d.num_classes, d.attention_resolutions) == (32, 3, (16,))
  # Every variable exists already: a call creates none.
  n_g, n_d = len(g.weights), len(d.weights)
  images = g(np.zeros((2, 16), np.float32), np.array([0, 2]))
  d(images, np.array([0, 2]))
  assert (len(g.weights), len(d.weights)) == (n_g, n_d)
  # Unbuilt on request.
  g2, _ = models_lib.build_models(c, build=False)
  assert not g2.weights


def test_build_models_passes_sn_and_bn_settings_to_every_layer():
  from sagan_tf.layers import ConditionalBatchNorm, SNConv2D, SNDense, SNEmbedding
  c = small_config(sn_power_iterations=2, sn_stop_gradient=True, bn_momentum=0.9,
                   head_bn_momentum=0.99, cross_replica_bn=True)
  g, d = models_lib.build_models(c)
  sn_layers, bn_layers = [], []
  for model in (g, d):
    for layer in model._flatten_layers(include_self=False, recursive=True):
      if isinstance(layer, (SNConv2D, SNDense, SNEmbedding)):
        sn_layers.append(layer)
      elif isinstance(layer, ConditionalBatchNorm):
        bn_layers.append(layer)
  n_u = sum(w.path.endswith("/sn_u") for w in g.weights + d.weights)
  assert len(sn_layers) == n_u > 0
  assert all(l.power_iterations == 2 and l.stop_gradient for l in sn_layers)
  assert bn_layers and all(l.cross_replica for l in bn_layers)
  assert sorted(l.momentum for l in bn_layers) == [0.9] * (len(bn_layers) - 1) + [0.99]


def test_build_generator_passes_g_spectral_norm():
  for g_sn in (True, False):
    g, d = models_lib.build_models(small_config(g_spectral_norm=g_sn))
    g_u = [w for w in g.weights if w.path.endswith("/sn_u")]
    g_sn_layers = [l for l in g._flatten_layers() if isinstance(l, (SNConv2D, SNDense))]
    assert g.spectral_norm is g_sn and bool(g_u) is g_sn and bool(g_sn_layers) is g_sn
    assert any(w.path.endswith("/sn_u") for w in d.weights)  # D keeps spectral norm


def test_attention_on_too_narrow_maps_is_a_config_error():
  c = config_lib.base_config()
  c.resolution, c.g_ch, c.d_ch, c.g_attention, c.d_attention = 32, 4, 8, (16,), (16,)
  with pytest.raises(ValueError, match="divisible by 8"):
    config_lib.validate(c)
