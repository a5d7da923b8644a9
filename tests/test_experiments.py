"""Tests of experiments/*.py: each config and each of its variants (`FILE.py:VARIANT`) loads the
way the binaries load it, validates, states the numbers its docstring cites, builds, and
(shrunk) trains one iteration; every command and path the files print is checked.

The real datasets cannot be read here and full-width ImageNet models are too slow to train on
CPU, so training runs a tiny version of each experiment: synthetic data, base width 8, batch 2,
but the experiment's resolution, attention placement, class count, loss and D steps. Tracing a
training step dominates the cost (tens of seconds each), so experiments whose tiny versions
differ at most in where attention sits (or whether it is there at all) and in their (nonzero)
class count share one training run, of a tiny model with all their attention placements at once
and the largest class count; every experiment is still validated, and every distinct tiny
structure is built and run forward with its attention maps checked.
"""

import glob
import json
import os
import re
import runpy
import shlex
import warnings

from absl import flags
from ml_collections import config_flags
import numpy as np
import pytest
import tensorflow as tf

import binaries
from sagan_tf import config as config_lib
from sagan_tf import architectures
from sagan_tf.training.gan_step import GANTrainer
from sagan_tf.training.loop import _distributed_iterator
from sagan_tf import models as models_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(REPO, "experiments", "*.py")))


def _specs():
  """'name' and 'name:variant' for every experiment file and every variant it declares."""
  specs = []
  for path in FILES:
    name = os.path.basename(path)[:-3]
    specs += [name] + [f"{name}:{v}" for v in runpy.run_path(path).get("VARIANTS", ())]
  return specs


NAMES = _specs()

# What each experiment's docstring cites (the rest equals base_config, checked below).
IMAGENET = dict(dataset="tfds", tfds_name="imagenet2012", resolution=128, num_classes=1000,
                g_ch=64, d_ch=64, z_dim=128, loss="hinge", global_batch_size=256,
                num_train_steps=1_000_000, d_steps=1, g_lr=1e-4, d_lr=4e-4, beta1=0.0,
                beta2=0.999, adam_epsilon=1e-8, g_attention=(32,), d_attention=(32,))
EXPECTED = {
    "cpu_demo": dict(dataset="synthetic", resolution=32, num_classes=10, g_ch=32, d_ch=32,
                     g_attention=(16,), d_attention=(16,)),
    "imagenet128": IMAGENET,
    "imagenet128:paper": dict(IMAGENET, beta2=0.9),
    "imagenet128:no_attention": dict(IMAGENET, g_attention=(), d_attention=()),
    **{f"imagenet128:feat{k}": dict(IMAGENET, g_attention=(k,), d_attention=(k,))
       for k in (8, 16, 32, 64)},
    "cifar10": dict(dataset="tfds", tfds_name="cifar10", resolution=32, num_classes=10,
                    g_ch=256, d_ch=128, g_attention=(16,), d_attention=(16,),
                    global_batch_size=64, d_steps=1, g_lr=1e-4, d_lr=4e-4, beta1=0.0,
                    beta2=0.999, loss="hinge", num_train_steps=500_000),
    "emoji32": dict(dataset="folder", resolution=32, num_classes=9, g_ch=32, d_ch=32,
                    g_attention=(16,), d_attention=(16,), global_batch_size=32, g_lr=4e-4,
                    d_lr=8e-4, beta1=0.0, beta2=0.9, ema_decay=0.995, ema_start_step=500,
                    num_train_steps=2500, loss="hinge", d_steps=1, diffaugment="",
                    eval_num_samples=10_000),
    "celeba64": dict(dataset="tfds", tfds_name="celeb_a", resolution=64, num_classes=0,
                     g_ch=64, d_ch=64, g_attention=(32,), d_attention=(32,),
                     global_batch_size=64, loss="hinge", num_train_steps=200_000),
}

# Keys that change what the training step computes (shapes, layers, code paths); experiments
# whose tiny versions agree on all of them share a training run.
STRUCTURE_KEYS = ("resolution", "g_ch", "d_ch", "z_dim", "num_classes", "g_attention",
                  "d_attention", "sn_power_iterations", "sn_stop_gradient", "cross_replica_bn",
                  "loss", "d_steps", "global_batch_size", "mixed_precision", "jit_compile",
                  "diffaugment")


def load(name):
  """The experiment's config, loaded as the binaries do: --config=experiments/<file>.py[:VARIANT]
  for name <file>[:VARIANT]."""
  values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", None, "", flag_values=values, lock_config=True)
  cwd = os.getcwd()
  os.chdir(REPO)  # the documented usage: a path relative to the repository
  try:
    with warnings.catch_warnings():  # ml_collections uses the deprecated load_module()
      warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
      file, _, variant = name.partition(":")
      values(["prog", f"--config=experiments/{file}.py" + (f":{variant}" if variant else "")])
  finally:
    os.chdir(cwd)
  return values.config


def tiny(config):
  """The experiment shrunk for CPU: synthetic data, width 8, batch 2, same structure."""
  c = config.copy_and_resolve_references()
  c.unlock()
  c.update(dict(dataset="synthetic", g_ch=8, d_ch=8, global_batch_size=2, steps_per_loop=1,
                num_train_steps=1, checkpoint_every_steps=1))
  return config_lib.validate(c)


def structure(config, attention=True):
  """The tiny config's STRUCTURE_KEYS as a string; attention=False: without where attention
  sits (a step without attention is the same code minus its layers) and with only whether it
  is class-conditional (the class count only sizes the embeddings)."""
  keys = {k: config[k] for k in STRUCTURE_KEYS}
  if not attention:
    keys.update(g_attention=None, d_attention=None, num_classes=bool(config.num_classes))
  return json.dumps(keys, sort_keys=True, default=list)


def _run_groups():
  """[[names]] sharing one training run: same tiny structure up to where attention sits."""
  groups = {}
  for name in NAMES:
    groups.setdefault(structure(tiny(load(name)), attention=False), []).append(name)
  return list(groups.values())


RUN_GROUPS = _run_groups()


def test_every_experiment_has_expectations():
  assert sorted(EXPECTED) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_experiment_validates_and_states_its_numbers(name):
  config = load(name)
  config_lib.validate(config)
  for key, value in EXPECTED[name].items():
    got = tuple(config[key]) if isinstance(value, tuple) else config[key]
    assert got == value, (name, key, got, value)


def test_paper_variant_differs_from_imagenet128_only_in_beta2():
  a, b = load("imagenet128").to_dict(), load("imagenet128:paper").to_dict()
  assert {k for k in a if a[k] != b[k]} == {"beta2"}
  assert b["beta2"] == 0.9


def test_ablation_differs_from_imagenet128_only_in_attention():
  base = load("imagenet128").to_dict()
  assert load("imagenet128:feat32").to_dict() == base
  for name in NAMES:
    if name.startswith("imagenet128:feat") or name == "imagenet128:no_attention":
      c = load(name).to_dict()
      assert {k for k in base if base[k] != c[k]} <= {"g_attention", "d_attention"}, name


def _trainable(model):
  return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def test_imagenet128_parameter_counts_match_the_authors():
  # The authors' network: about 42.08 M (G) and 39.46 M (D) trainable parameters.
  g, d = models_lib.build_models(load("imagenet128"))
  assert _trainable(g) == pytest.approx(42.08e6, rel=5e-3)
  assert _trainable(d) == pytest.approx(39.46e6, rel=5e-3)


# Table 1 (experiments/imagenet128.py's variants): channels of the block each attention layer follows, ch = 64.
ABLATION_CHANNELS = {8: (1024, 512), 16: (512, 256), 32: (256, 128), 64: (128, 64)}


@pytest.mark.parametrize("feat", sorted(ABLATION_CHANNELS))
def test_ablation_attention_follows_the_documented_blocks(feat):
  config = load(f"imagenet128:feat{feat}")
  _, g_blocks = architectures.generator_blocks(128, config.g_ch, config.g_attention)
  d_blocks = architectures.discriminator_blocks(128, config.d_ch, config.d_attention)
  g_attn = [(b.resolution, b.out_channels) for b in g_blocks if b.attention]
  d_attn = [(b.resolution, b.out_channels) for b in d_blocks if b.attention]
  assert g_attn == [(feat, ABLATION_CHANNELS[feat][0])]
  assert d_attn == [(feat, ABLATION_CHANNELS[feat][1])]


def _attention_sizes(maps):
  """Feature-map side of each attention map [B, N, N/4]: sqrt(N), sorted."""
  return sorted(int(round(m.shape[1] ** 0.5)) for m in maps.values())


def _check_attention_placement(name, config, g, d):
  """G and D run and attend on exactly the feature maps the config names."""
  labels = tf.zeros([2], tf.int32) if config.num_classes else None
  images, g_maps = g(tf.zeros([2, config.z_dim]), labels, return_attention=True)
  assert images.shape == (2, config.resolution, config.resolution, 3), name
  _, d_maps = d(images, labels, return_attention=True)
  assert _attention_sizes(g_maps) == sorted(config.g_attention), name
  assert _attention_sizes(d_maps) == sorted(config.d_attention), name


@pytest.mark.parametrize("group", RUN_GROUPS, ids=["+".join(g) for g in RUN_GROUPS])
def test_tiny_version_builds_and_trains_one_iteration(group):
  # One training run per group, of the tiny model with the union of the group's attention
  # placements (the ablation's feat8/16/32/64 layers all at once: each sits after the same
  # block as in its own config) and the largest class count. Each distinct member structure
  # is also built and run forward.
  configs = {name: tiny(load(name)) for name in group}
  run = next(iter(configs.values())).copy_and_resolve_references()
  run.g_attention = tuple(sorted({r for c in configs.values() for r in c.g_attention}))
  run.d_attention = tuple(sorted({r for c in configs.values() for r in c.d_attention}))
  run.num_classes = max(c.num_classes for c in configs.values())
  config_lib.validate(run)
  checked = {structure(run)}
  for name, config in configs.items():
    assert structure(config, attention=False) == structure(run, attention=False), name
    if structure(config) not in checked:
      checked.add(structure(config))
      _check_attention_placement(name, config, *models_lib.build_models(config))
  strategy = tf.distribute.get_strategy()
  trainer = GANTrainer(run, strategy)
  _check_attention_placement("+".join(group), run, trainer.generator, trainer.discriminator)
  metrics, finite = trainer.train(_distributed_iterator(run, strategy, 0), 1)
  assert finite, metrics
  assert int(trainer.step.numpy()) == 1
  assert sorted(metrics) == ["d_fake", "d_loss", "d_real", "g_loss"]


def test_an_unknown_variant_is_one_line_naming_the_variants():
  with pytest.raises(SystemExit, match=r"no such variant; choose one of paper, no_attention"):
    binaries.parse("train", "--config=experiments/imagenet128.py:feat12", "--workdir=/tmp/x")


def _printed_commands(path):
  """The shell commands of a file's docstring: lines starting with a command word, joined
  across trailing backslashes, with their `# needs ...` comments dropped."""
  lines, found = runpy.run_path(path)["__doc__"].splitlines(), []
  i = 0
  while i < len(lines):
    line = lines[i].strip()
    if re.match(r"(\.venv/bin/)?sagan-[a-z-]+ |tfds |python ", line):
      while line.endswith("\\") and i + 1 < len(lines):
        i += 1
        line = line[:-1] + " " + lines[i].strip()
      found.append(shlex.split(line, comments=True))
    i += 1
  return found


PRINTED = [(os.path.basename(p), cmd) for p in FILES for cmd in _printed_commands(p)]
CONSOLE_SCRIPTS = re.findall(r'"(sagan-[a-z-]+)=sagan_tf\.cli\.([a-z_]+):run"',
                             open(os.path.join(REPO, "setup.py")).read())


def test_every_experiment_prints_a_training_command():
  files = {f for f, cmd in PRINTED if cmd[0] == "sagan-train"}
  assert files == {os.path.basename(p) for p in FILES}


@pytest.mark.parametrize("file,command", PRINTED, ids=[" ".join(c)[:60] for _, c in PRINTED])
def test_printed_command_parses_and_its_config_validates(file, command):
  assert command[0] in dict(CONSOLE_SCRIPTS) or command[0] == "tfds", (file, command)
  if command[0] == "tfds":
    return  # TFDS's own command line
  cwd = os.getcwd()
  os.chdir(REPO)  # the paths are relative to the repository, as printed
  try:
    got = binaries.parse(dict(CONSOLE_SCRIPTS)[command[0]], *command[1:])
  finally:
    os.chdir(cwd)
  config_lib.validate(got["config"])


def test_every_path_the_experiments_print_exists():
  for path in FILES:
    text = open(path).read()
    for ref in re.findall(r"\b((?:experiments|sagan_tf|docs|tools|tests)/[\w/.]+\.(?:py|md|sh))",
                          text):
      assert os.path.exists(os.path.join(REPO, ref)), (os.path.basename(path), ref)
