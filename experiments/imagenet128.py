"""imagenet128: SAGAN on ImageNet 128x128, class-conditional, as the authors' code trains it.

Every number below is the authors' TensorFlow code (github.com/brain-research/self-attention-gan,
HEAD ad9612e) unless marked otherwise. They equal
sagan_tf.config.base_config()'s defaults and are restated here so the experiment reads on its own:

  data       TFDS 'imagenet2012' train split, largest central square resized to 128, [-1, 1],
             no flips (the authors' input pipeline). 1000 classes.
  model      gf_dim = df_dim = 64 (g_ch, d_ch), z_dim 128, self-attention on the 32x32 feature
             maps of G (after the 256-channel block) and of D (after the 128-channel block).
             G has about 42.08 M and D about 39.46 M trainable parameters.
  training   hinge loss; Adam beta1 0, beta2 0.999 (TF's default, which the code leaves alone;
             the paper says 0.9: experiments/imagenet128_paper.py), epsilon 1e-8 (TF 1's default);
             TTUR learning rates G 1e-4, D 4e-4 (paper Section 5 and the code); one D step per
             G step; global batch 256 (64 per GPU x 4 GPUs); about 1M iterations (paper Table 1:
             "trained for one million iterations").

Headline result (paper, arXiv 1805.08318, Section 5 / Table 2): IS 52.52, FID 18.65. Note that
these equal Table 1's feat64 column, while this (the code's) placement is Table 1's feat32
column (IS 51.43, FID 18.28): see experiments/imagenet128_attn_feat*.py.

The ImageNet data must be prepared first (this project never downloads):
  tfds build imagenet2012 --data_dir=DIR   (after putting the tar files in DIR/downloads/manual)
  python -m sagan_tf.train --config=experiments/imagenet128.py --config.data_dir=DIR \
      --workdir=/tmp/sagan_imagenet128
"""

from sagan_tf.config import base_config


def get_config():
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
  return c
