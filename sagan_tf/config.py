"""The configuration schema: every key with its default (the authors' ImageNet-128 settings),
its validation, and the models a config builds.

Experiments (experiments/*.py) start from `base_config()` and override what they change, citing
their source. All keys live here once; flags never duplicate them.
Sources: the authors' code (github.com/brain-research/self-attention-gan) and the paper
(arXiv 1805.08318); see ../shared/reference/sagan.md.
"""

import ml_collections

from sagan_tf.models import Discriminator, Generator, SUPPORTED_RESOLUTIONS

DATASETS = ("synthetic", "tfds", "folder", "tfrecord")
MIXED_PRECISION = ("", "mixed_bfloat16", "mixed_float16")
SUBSTEP_ORDERS = ("g_then_d", "d_then_g")
SAMPLE_BN_STATS = ("standing", "moving", "batch")
ATTENTION_IMPLS = ("auto", "naive", "blocked")


def base_config():
  """Returns the default config: the authors' ImageNet 128x128 run."""
  c = ml_collections.ConfigDict()
  # Model (authors' code: gf_dim = df_dim = 64, z_dim = 128, attention at 32x32 in G and D).
  c.resolution = 128
  c.g_ch = 64
  c.d_ch = 64
  c.z_dim = 128
  c.num_classes = 1000
  c.g_attention = (32,)
  c.d_attention = (32,)
  c.sn_power_iterations = 1
  c.sn_stop_gradient = False      # authors: gradients flow through u and v; TF-GAN: stopped
  c.bn_momentum = 0.999
  c.head_bn_momentum = 0.9999
  c.cross_replica_bn = False      # authors: per-replica moments; TF-GAN TPU: cross-replica
  c.attention_impl = "auto"       # one of ATTENTION_IMPLS: how SelfAttention computes (same math)
  c.attention_query_block = 1024  # "blocked": queries per block (map memory block x N/4 per image)
  # Data.
  c.dataset = "synthetic"         # one of DATASETS
  c.tfds_name = "imagenet2012"
  c.split = "train"
  c.data_dir = ""                 # TFDS data_dir, image folder, or TFRecord file pattern
  c.shuffle_buffer = 10_000
  c.data_seed = 0
  # Optimization (authors' code: TTUR 1e-4 / 4e-4, Adam beta1 0, TF default beta2 0.999).
  c.loss = "hinge"
  c.global_batch_size = 256
  c.num_train_steps = 1_000_000
  c.d_steps = 1
  c.substep_order = "g_then_d"    # authors: tfgan.gan_train with sequential hooks runs the G
                                  # sub-step, then the D sub-step(s); "d_then_g" also offered
  c.d_fused_pass = True           # one D forward on [real; fake] per D sub-step (faster; the
                                  # authors' graph allows it: see training/gan_step.py)
  c.g_lr = 1e-4
  c.d_lr = 4e-4
  c.beta1 = 0.0
  c.beta2 = 0.999                 # paper: 0.9 (experiments/imagenet128_paper.py)
  c.adam_epsilon = 1e-8
  c.ema_decay = 0.9999
  c.ema_start_step = 0
  c.seed = 0
  # Execution.
  c.steps_per_loop = 1
  c.jit_compile = False
  c.mixed_precision = ""          # one of MIXED_PRECISION
  # Checkpoints and logging.
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 5
  c.log_every_steps = 100
  c.image_every_steps = 1000
  c.num_image_samples = 16
  # Evaluation (authors' protocol: 50k samples, EMA or raw G by flag).
  c.eval_num_samples = 50_000
  c.eval_batch_size = 100
  c.eval_use_ema = True
  c.eval_truncation = 0.0         # 0: plain N(0, I); > 0: truncated normal at this bound
  # Sampling (evaluation, export, tools, training image summaries): which BN statistics.
  c.sample_bn_stats = "standing"  # authors' evaluation: "moving"; see SAMPLE_BN_STATS
  c.standing_stats_batches = 20   # K train-mode passes averaged for "standing"
  c.standing_stats_batch_size = 64  # B images per pass for "standing"
  c.eval_split = "train"
  c.classifier_path = ""          # '' -> TF-GAN's TF-Hub Inception module
  c.eval_stats_dir = ""           # real-data statistics cache; '' -> WORKDIR/eval/real_stats
  c.eval_allow_small_n = False    # allow eval_num_samples <= classifier feature dim (singular
                                  # covariance, biased FID); default: a clear error
  return c


def validate(config):
  """Raises ValueError naming the bad key and what is allowed. Returns config."""
  def need(cond, msg):
    if not cond:
      raise ValueError(f"Invalid config: {msg}")
  unknown = sorted(set(config.keys()) - set(base_config().keys()))
  need(not unknown, f"unknown key(s) {unknown}; the keys are those of "
       f"sagan_tf.config.base_config().")
  need(config.resolution in SUPPORTED_RESOLUTIONS,
       f"resolution={config.resolution}; supported: {list(SUPPORTED_RESOLUTIONS)}.")
  need(config.dataset in DATASETS, f"dataset={config.dataset!r}; choose one of {DATASETS}.")
  need(config.mixed_precision in MIXED_PRECISION,
       f"mixed_precision={config.mixed_precision!r}; choose one of {MIXED_PRECISION}.")
  need(config.substep_order in SUBSTEP_ORDERS,
       f"substep_order={config.substep_order!r}; choose one of {SUBSTEP_ORDERS}.")
  need(config.sample_bn_stats in SAMPLE_BN_STATS,
       f"sample_bn_stats={config.sample_bn_stats!r}; choose one of {SAMPLE_BN_STATS}.")
  need(config.attention_impl in ATTENTION_IMPLS,
       f"attention_impl={config.attention_impl!r}; choose one of {ATTENTION_IMPLS}.")
  need(config.loss in ("hinge", "non_saturating", "wasserstein"),
       f"loss={config.loss!r}; choose hinge, non_saturating or wasserstein.")
  for key in ("g_ch", "d_ch", "z_dim", "global_batch_size", "num_train_steps", "d_steps",
              "steps_per_loop", "checkpoint_every_steps", "keep_checkpoints",
              "log_every_steps", "eval_batch_size", "eval_num_samples",
              "standing_stats_batches", "standing_stats_batch_size", "attention_query_block"):
    need(int(config[key]) >= 1, f"{key}={config[key]} must be >= 1.")
  need(config.num_classes >= 0, f"num_classes={config.num_classes} must be >= 0.")
  need(0.0 <= config.ema_decay < 1.0, f"ema_decay={config.ema_decay} must be in [0, 1).")
  need(config.checkpoint_every_steps % config.steps_per_loop == 0,
       f"checkpoint_every_steps={config.checkpoint_every_steps} must be a multiple of "
       f"steps_per_loop={config.steps_per_loop}.")
  build_models(config, build=False)  # architecture errors (e.g. attention placement)
  return config


def build_generator(config, build=True):
  """Returns the Generator a config describes; with build=True all its weights exist."""
  g = Generator(config.resolution, ch=config.g_ch, z_dim=config.z_dim,
                num_classes=config.num_classes, attention_resolutions=config.g_attention,
                sn_power_iterations=config.sn_power_iterations,
                sn_stop_gradient=config.sn_stop_gradient, bn_momentum=config.bn_momentum,
                head_bn_momentum=config.head_bn_momentum,
                cross_replica_bn=config.cross_replica_bn, attention_impl=config.attention_impl,
                attention_query_block=config.attention_query_block)
  return g.build_weights() if build else g


def build_discriminator(config, build=True):
  """Returns the Discriminator a config describes; with build=True all its weights exist."""
  d = Discriminator(config.resolution, ch=config.d_ch, num_classes=config.num_classes,
                    attention_resolutions=config.d_attention,
                    sn_power_iterations=config.sn_power_iterations,
                    sn_stop_gradient=config.sn_stop_gradient,
                    attention_impl=config.attention_impl,
                    attention_query_block=config.attention_query_block)
  return d.build_weights() if build else d


def build_models(config, build=True):
  """Returns (generator, discriminator) for a config; with build=True all weights exist."""
  return build_generator(config, build), build_discriminator(config, build)


def check_overrides(argv, flag="config"):
  """Raises SystemExit with one clear line if argv's --config names no file or overrides a key
  the schema lacks.

  Binaries call it before absl parses flags: ml_collections would otherwise fail deep in flag
  parsing with a bare KeyError for `--config.no_such_key=1`, and defer a missing file to its
  first use as two chained tracebacks.
  """
  import os  # pylint: disable=import-outside-toplevel
  for i, arg in enumerate(argv[1:], 1):
    name, eq, value = arg.lstrip("-").partition("=")
    if arg.startswith("-") and name == flag:
      path = (value if eq else (argv[i + 1] if i + 1 < len(argv) else "")).split(":", 1)[0]
      if not os.path.isfile(path):
        raise SystemExit(f"Error: --{flag}={path}: no such file; pass an experiment file such "
                         f"as experiments/cpu_demo.py.")
  keys = set(base_config().keys())
  for arg in argv[1:]:
    if arg.startswith(f"--{flag}."):
      key = arg[len(flag) + 3:].split("=", 1)[0].split(".", 1)[0]
      if key not in keys:
        raise SystemExit(f"Unknown config key {key!r} in {arg!r}. Known keys: "
                         f"{', '.join(sorted(keys))}.")


RECORD_FILE = "config.json"


def config_from_dict(values):
  """Returns base_config() updated with a plain dict (as JSON stores it; lists become tuples
  where the schema has tuples). Raises ValueError naming unknown keys."""
  c = base_config()
  unknown = sorted(set(values) - set(c.keys()))
  if unknown:
    raise ValueError(f"Unknown config key(s) {unknown}: not in sagan_tf.config.base_config().")
  for key, value in values.items():
    c[key] = tuple(value) if isinstance(c[key], tuple) else value
  return c


def recorded_config(workdir):
  """The config in effect for the latest training of workdir, from workdir/config.json.

  config.json (written by training) is {"config": {key: value} in effect now, "history":
  [{"from_step": 0, "config": {...}}, {"from_step": S, "changes": {key: [old, new]}}, ...]};
  an older flat {key: value} file is read as that config. Raises FileNotFoundError when the
  workdir has no config.json.
  """
  import json  # pylint: disable=import-outside-toplevel
  import os  # pylint: disable=import-outside-toplevel
  path = os.path.join(workdir, RECORD_FILE)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"{path} not found: {workdir!r} is not a training workdir, or it was never trained. "
        f"Pass --config=experiments/<name>.py, or train first.")
  with open(path) as f:
    record = json.load(f)
  return config_from_dict(record["config"] if "config" in record else record)
