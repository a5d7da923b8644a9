"""The configuration schema: every key with its default (the authors' ImageNet-128 settings)
and its validation. Plain Python (no TensorFlow): binaries check configs before it loads.

Experiments (experiments/*.py) start from `base_config()` and override what they change, citing
their source. All keys live here once; flags never duplicate them. The models a config
describes are built by sagan_tf.models.build_models(config).
Sources: the authors' code (github.com/brain-research/self-attention-gan, HEAD ad9612e) and
the paper (Zhang et al., arXiv 1805.08318).
"""

import ml_collections

from sagan_tf import architectures
from sagan_tf import choices

# The keys that define the networks' variables and outputs: two configs that differ on one of
# them describe different models (a checkpoint of one does not restore into the other).
MODEL_KEYS = ("resolution", "g_ch", "d_ch", "z_dim", "num_classes", "g_attention",
              "d_attention", "sn_power_iterations", "g_spectral_norm")
INT64_MAX = 2**63 - 1  # every integer key: the step counter and seeds are int64 tensors
SEED_MAX = 2**32 - 1  # config.seed also seeds numpy (keras.utils.set_random_seed)


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
  c.g_spectral_norm = True        # authors' code and paper: SN in G too; False: plain layers in
                                  # G (paper Figure 3's baseline "SN on D only", SNGAN-projection)
  c.bn_momentum = 0.999
  c.head_bn_momentum = 0.9999
  c.cross_replica_bn = False      # authors: per-replica moments; TF-GAN TPU: cross-replica
  c.attention_impl = "auto"       # choices.ATTENTION_IMPLS: how SelfAttention computes (same math)
  c.attention_query_block = 1024  # "blocked": queries per block (map memory block x N/4 per image)
  # Data.
  c.dataset = "synthetic"         # one of choices.DATASETS
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
  c.lr_schedule = "constant"      # choices.LR_SCHEDULES; authors: constant. "linear_decay": to 0
                                  # at num_train_steps (SNGAN, pfnet-research/sngan_projection)
  c.lr_decay_start_step = 0       # linear_decay: the iteration it starts from (SNGAN: 400k/450k)
  c.beta1 = 0.0
  c.beta2 = 0.999                 # paper: 0.9 (experiments/imagenet128.py:paper)
  c.adam_epsilon = 1e-8
  c.diffaugment = ""              # DiffAugment policy (sagan_tf/augment.py), e.g.
                                  # "color,translation,cutout"; "" = off (authors: none)
  c.ema_decay = 0.9999
  c.ema_start_step = 0
  c.seed = 0
  # Execution.
  c.steps_per_loop = 1
  c.jit_compile = False
  c.mixed_precision = ""          # one of choices.MIXED_PRECISION
  # Checkpoints and logging.
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 5
  c.log_every_steps = 100
  c.image_every_steps = 1000
  c.num_image_samples = 8         # samples per class row of the image steps' sample sheets
  # Evaluation (authors' protocol: 50k samples, EMA or raw G by flag).
  c.eval_num_samples = 50_000
  c.eval_batch_size = 100
  c.eval_use_ema = True
  c.eval_truncation = 0.0         # 0: plain N(0, I); > 0: truncated normal at this bound
  # Sampling (evaluation, export, tools, training image summaries): which BN statistics.
  c.sample_bn_stats = "standing"  # authors' evaluation: "moving"; see choices.BN_STATS_MODES
  c.standing_stats_batches = 20   # K train-mode passes averaged for "standing"
  c.standing_stats_batch_size = 64  # B images per pass for "standing"
  c.eval_split = "train"
  c.classifier_path = ""          # '' -> TF-GAN's TF-Hub Inception module
  c.eval_class_classifier_path = ""  # '' -> none; a stand-in with the dataset's classes:
                                  # class accuracy (and its IS) beside classifier_path's FID
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
  for key, allowed in (("dataset", choices.DATASETS), ("loss", choices.LOSSES),
                       ("mixed_precision", choices.MIXED_PRECISION),
                       ("substep_order", choices.SUBSTEP_ORDERS),
                       ("sample_bn_stats", choices.BN_STATS_MODES),
                       ("attention_impl", choices.ATTENTION_IMPLS),
                       ("lr_schedule", choices.LR_SCHEDULES)):
    need(config[key] in allowed, f"{key}={config[key]!r}; choose one of {allowed}.")
  try:
    choices.diffaugment_ops(config.diffaugment)
  except ValueError as e:
    raise ValueError(f"Invalid config: {e}") from None
  for key in ("g_ch", "d_ch", "z_dim", "global_batch_size", "num_train_steps", "d_steps",
              "steps_per_loop", "checkpoint_every_steps", "keep_checkpoints",
              "log_every_steps", "num_image_samples", "eval_batch_size", "eval_num_samples",
              "standing_stats_batches", "standing_stats_batch_size", "attention_query_block",
              "sn_power_iterations"):
    need(int(config[key]) >= 1, f"{key}={config[key]} must be >= 1.")
  for key, value in config.items():  # steps, seeds, sizes: int64 tensors and step counters
    if isinstance(value, int) and not isinstance(value, bool):
      need(abs(value) <= INT64_MAX, f"{key}={value} is out of range: at most {INT64_MAX} "
           f"(2**63 - 1, TensorFlow's int64).")
  need(0 <= config.seed <= SEED_MAX, f"seed={config.seed} must be in [0, {SEED_MAX}] "
       f"(2**32 - 1: keras.utils.set_random_seed seeds numpy with it).")
  need(config.data_seed >= 0, f"data_seed={config.data_seed} must be >= 0 (negative seeds are "
       f"the synthetic data's held-out evaluation stream).")
  need(config.num_classes >= 0, f"num_classes={config.num_classes} must be >= 0.")
  need(isinstance(config.g_spectral_norm, bool),
       f"g_spectral_norm={config.g_spectral_norm!r} must be true or false.")
  need(config.lr_decay_start_step >= 0,
       f"lr_decay_start_step={config.lr_decay_start_step} must be >= 0.")
  need(config.lr_schedule != "linear_decay"
       or config.lr_decay_start_step < config.num_train_steps,
       f"lr_decay_start_step={config.lr_decay_start_step} must be < num_train_steps="
       f"{config.num_train_steps} with lr_schedule='linear_decay' (the decay would never start).")
  need(0.0 <= config.ema_decay < 1.0, f"ema_decay={config.ema_decay} must be in [0, 1).")
  need(config.checkpoint_every_steps % config.steps_per_loop == 0,
       f"checkpoint_every_steps={config.checkpoint_every_steps} must be a multiple of "
       f"steps_per_loop={config.steps_per_loop}.")
  supported = list(architectures.SUPPORTED_RESOLUTIONS)
  need(config.resolution in supported, f"resolution={config.resolution}; supported: {supported}.")
  try:  # attention placement and widths
    architectures.generator_blocks(config.resolution, config.g_ch, config.g_attention)
    architectures.discriminator_blocks(config.resolution, config.d_ch, config.d_attention)
  except ValueError as e:
    raise ValueError(f"Invalid config: {e}") from None
  return config


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
