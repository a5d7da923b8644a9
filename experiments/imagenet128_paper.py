"""imagenet128_paper: experiments/imagenet128.py with the paper's Adam beta2 = 0.9.

The paper (arXiv 1805.08318, Section 5, "Implementation details": "We use Adam optimizer with
beta1 = 0 and beta2 = 0.9") and the authors' code (github.com/brain-research/self-attention-gan,
which leaves TF's default beta2 = 0.999) disagree; experiments/imagenet128.py follows the code,
this experiment follows the paper. Everything else is imagenet128's.
"""

import os
import runpy


def get_config():
  here = os.path.dirname(os.path.abspath(__file__))
  c = runpy.run_path(os.path.join(here, "imagenet128.py"))["get_config"]()
  c.beta2 = 0.9
  return c
