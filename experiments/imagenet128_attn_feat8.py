"""imagenet128_attn_feat8: Table 1's SAGAN feat8, self-attention on the 8x8 feature maps of
G and D (paper: FID 22.98, IS 43.15).

See experiments/_ablation.py for the whole Table 1 set (arXiv 1805.08318) and its numbers.
Everything but the attention placement is experiments/imagenet128.py (the authors' code).
"""

import os
import runpy


def get_config():
  helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ablation.py")
  return runpy.run_path(helper)["ablation_config"](8)
