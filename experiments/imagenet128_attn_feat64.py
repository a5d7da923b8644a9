"""imagenet128_attn_feat64: Table 1's SAGAN feat64, self-attention on the 64x64 feature maps
of G and D (paper: FID 18.65, IS 52.52, the numbers the paper reports as its headline result).
The attention map at 64x64 is [4096, 1024] per image: the costliest placement.

See experiments/_ablation.py for the whole Table 1 set (arXiv 1805.08318) and its numbers.
Everything but the attention placement is experiments/imagenet128.py (the authors' code).
"""

import os
import runpy


def get_config():
  helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ablation.py")
  return runpy.run_path(helper)["ablation_config"](64)
