"""imagenet128_no_attention: Table 1's baseline, no self-attention in G or D
(paper: FID 22.96, IS 42.87).

See experiments/_ablation.py for the whole Table 1 set (arXiv 1805.08318) and its numbers.
Everything but the attention placement is experiments/imagenet128.py (the authors' code).
"""

import os
import runpy


def get_config():
  helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ablation.py")
  return runpy.run_path(helper)["ablation_config"](None)
