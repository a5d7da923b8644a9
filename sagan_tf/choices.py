"""The named choices of sagan_tf, each defined once; plain Python (no TensorFlow), so the
binaries can offer and check them before TensorFlow loads.

The modules that implement a choice import its names from here (layers.attention, losses,
data.pipeline, training.strategy, training.schedule, sampling.bn_stats, augment) and
config.validate checks a config against them.
"""

ATTENTION_IMPLS = ("auto", "naive", "blocked")  # SelfAttention(impl=): same math, memory differs
BN_STATS_MODES = ("standing", "moving", "batch")  # the BN statistics a generator samples with
DIFFAUGMENT_OPS = ("color", "translation", "cutout")  # config.diffaugment: DiffAugment's ops
DATASETS = ("synthetic", "tfds", "folder", "tfrecord")  # config.dataset
LOSSES = ("hinge", "non_saturating", "wasserstein")  # config.loss
LR_SCHEDULES = ("constant", "linear_decay")  # config.lr_schedule (authors: constant)
MIXED_PRECISION = ("", "mixed_bfloat16", "mixed_float16")  # config.mixed_precision ('' = fp32)
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")  # tf.distribute strategies
SUBSTEP_ORDERS = ("g_then_d", "d_then_g")  # config.substep_order (authors: G step first)
TFRECORD_IMAGE_FORMATS = ("png", "jpeg")  # pre-resized shards: lossless, or JPEG quality 95


def diffaugment_ops(policy):
  """A DiffAugment policy -> its ops in order: 'color,cutout' -> ('color', 'cutout'); '' -> ().
  Raises ValueError on an unknown or repeated op."""
  names = tuple(p.strip() for p in policy.split(",")) if policy.strip() else ()
  if not set(names) <= set(DIFFAUGMENT_OPS) or len(set(names)) != len(names):
    raise ValueError(f"diffaugment={policy!r}: choose a comma-separated list of distinct "
                     f"ops of {DIFFAUGMENT_OPS} (the paper's: 'color,translation,cutout'), or "
                     "'' (off).")
  return names


DEFAULT_MAX_BATCH = 256  # images per request (export signatures, sampling tools)
CHECKPOINT_BEST = "best"  # --checkpoint=best: WORKDIR/best/, the checkpoint evaluation kept
