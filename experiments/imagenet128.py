"""imagenet128: SAGAN on ImageNet 128x128, class-conditional, as the authors' code trains it.

Every number below is the authors' TensorFlow code (github.com/brain-research/self-attention-gan,
HEAD ad9612e) unless marked otherwise. They equal sagan_tf.config.base_config()'s defaults and
are restated here so the experiment reads on its own:

  data       TFDS 'imagenet2012' train split, largest central square resized to 128, [-1, 1],
             no flips (the authors' input pipeline). 1000 classes.
  model      gf_dim = df_dim = 64 (g_ch, d_ch), z_dim 128, self-attention on the 32x32 feature
             maps of G (after the 256-channel block) and of D (after the 128-channel block).
             G has about 42.08 M and D about 39.46 M trainable parameters.
  training   hinge loss; Adam beta1 0, beta2 0.999 (TF's default, which the code leaves alone;
             the paper says 0.9: the `paper` variant), epsilon 1e-8 (TF 1's default); TTUR
             learning rates G 1e-4, D 4e-4 (paper Section 5 and the code); one D step per G
             step; global batch 256 (64 per GPU x 4 GPUs); about 1M iterations (paper Table 1:
             "trained for one million iterations").

Variants (`--config=experiments/imagenet128.py:VARIANT`; everything not named is the above):
  paper          Adam beta2 = 0.9: the paper (Section 5, "Implementation details": "beta1 = 0
                 and beta2 = 0.9") where the code leaves TF's default 0.999.
  no_attention, feat8, feat16, feat32, feat64
                 the paper's Table 1 (1M iterations): no attention, or self-attention on the
                 KxK feature maps ("featK") of both G and D:

  variant        G attention after     D attention after        FID    IS
  no_attention   -                     -                        22.96  42.87
  feat8          8x8x1024 block        8x8x512 block            22.98  43.15
  feat16         16x16x512 block       16x16x256 block          22.14  45.94
  feat32         32x32x256 block       32x32x128 block          18.28  51.43
  feat64         64x64x128 block       64x64x64 (first) block   18.65  52.52

(channels at ch = 64, sagan_tf/architectures.py). feat32 is the code's placement, the default.
The paper's headline (Section 5 / Table 2: IS 52.52, FID 18.65) equals Table 1's feat64 column.
Table 1's other half, a residual block in place of the attention block ("residual featK"), has no
variant: the models have no such control block.

The ImageNet data must be prepared first (this project never downloads):
  tfds build imagenet2012 --data_dir=DIR  # needs ImageNet's tar files in DIR/downloads/manual
  sagan-train --config=experiments/imagenet128.py --config.data_dir=DIR \
      --workdir=/tmp/sagan_imagenet128  # needs ImageNet and accelerators
  sagan-train --config=experiments/imagenet128.py:feat16 --config.data_dir=DIR \
      --workdir=/tmp/sagan_imagenet128_feat16  # needs ImageNet and accelerators
"""

from sagan_tf.config import base_config

# Table 1's attention placements: variant -> the feature-map side K of G's and D's attention.
ATTENTION_VARIANTS = {"no_attention": None, "feat8": 8, "feat16": 16, "feat32": 32, "feat64": 64}
VARIANTS = ("paper",) + tuple(ATTENTION_VARIANTS)


def get_config(variant=""):
  """The authors' config, or one of VARIANTS (module docstring)."""
  if variant and variant not in VARIANTS:
    raise ValueError(f"experiments/imagenet128.py:{variant}: no such variant; choose one of "
                     f"{', '.join(VARIANTS)} (or none, the authors' code).")
  c = base_config()
  # Data.
  c.dataset = "tfds"
  c.tfds_name = "imagenet2012"
  c.split = "train"
  c.resolution = 128
  c.num_classes = 1000
  # Model.
  c.g_ch = 64
  c.d_ch = 64
  c.z_dim = 128
  c.g_attention = (32,)
  c.d_attention = (32,)
  # Optimization.
  c.loss = "hinge"
  c.global_batch_size = 256
  c.num_train_steps = 1_000_000
  c.d_steps = 1
  c.g_lr = 1e-4
  c.d_lr = 4e-4
  c.beta1 = 0.0
  c.beta2 = 0.999
  c.adam_epsilon = 1e-8
  if variant == "paper":
    c.beta2 = 0.9
  elif variant:
    feat = ATTENTION_VARIANTS[variant]
    c.g_attention = c.d_attention = () if feat is None else (feat,)
  return c
