"""imagenet128_attn_feat32: Table 1's SAGAN feat32, self-attention on the 32x32 feature maps
of G and D (paper: FID 18.28, IS 51.43). The same config as experiments/imagenet128.py (the
authors' code's placement); kept so the ablation set is complete.

See experiments/_ablation.py for the whole Table 1 set (arXiv 1805.08318) and its numbers.
Everything but the attention placement is experiments/imagenet128.py (the authors' code).
"""

import os
import runpy


def get_config():
  helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ablation.py")
  return runpy.run_path(helper)["ablation_config"](32)
