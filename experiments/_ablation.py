"""Shared helper of the Table 1 ablation experiments (not an experiment: it has no get_config).

Table 1 of the paper (arXiv 1805.08318) compares, on ImageNet 128x128 after 1M iterations,
no attention with self-attention on the KxK feature maps ("featK") of both G and D, for
K = 8, 16, 32, 64:

  experiment                    G attention after       D attention after        FID    IS
  imagenet128_no_attention      -                       -                        22.96  42.87
  imagenet128_attn_feat8        8x8x1024 block          8x8x512 block            22.98  43.15
  imagenet128_attn_feat16       16x16x512 block         16x16x256 block          22.14  45.94
  imagenet128_attn_feat32       32x32x256 block         32x32x128 block          18.28  51.43
  imagenet128_attn_feat64       64x64x128 block         64x64x64 (first) block   18.65  52.52

(channels at ch = 64; see sagan_tf/models/architectures.py). feat32 is the authors' code's
placement, i.e. experiments/imagenet128.py. Everything else is imagenet128's: the authors' code
settings, Adam beta2 = 0.999 (add --config.beta2=0.9 for the paper's value).

Table 1's other half, a residual block in place of the attention block ("residual featK"), is
not reproducible here: the models have no such control block, so there are no residual configs.
"""

import os
import runpy

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURE_MAP_SIZES = (8, 16, 32, 64)


def ablation_config(feat):
  """imagenet128's config with attention on the feat x feat maps of G and D (None: none)."""
  c = runpy.run_path(os.path.join(HERE, "imagenet128.py"))["get_config"]()
  if feat is None:
    c.g_attention = ()
    c.d_attention = ()
  else:
    if feat not in FEATURE_MAP_SIZES:
      raise ValueError(f"feat={feat}; Table 1 uses {FEATURE_MAP_SIZES}.")
    c.g_attention = (feat,)
    c.d_attention = (feat,)
  return c
