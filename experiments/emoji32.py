"""emoji32: class-conditional SAGAN on the emoji dataset at 32x32, sized for 2 CPU cores.

  data       dataset 'folder' at --config.data_dir=DIR, the --output of sagan-prepare-emoji
             (docs/training.md): 3,812 images, Google's (Noto, Apache 2.0) and Twitter's
             (Twemoji, CC BY 4.0) 64 px emoji composited onto white, skin-tone variations left
             out (sagan_tf/data/emoji.py); num_classes 9, the emoji.json categories but
             "Component", in sorted folder order. Resized to 32 px by the folder pipeline.
  model      the 32x32 table of sagan_tf/architectures.py (three G up-blocks 8 -> 16 -> 32,
             four D blocks), base width 32 for G and D as experiments/cpu_demo.py, which runs
             on 2 cores in minutes. Self-attention on the 16x16 maps of G and D: the larger
             maps, as the paper's Table 1 favours (arXiv 1805.08318: at 128 px, attention on
             the 32x32 and 64x64 maps gives better FID than on 8x8 or 16x16); 16x16 is the
             largest map of this D and the middle one of this G (as experiments/cifar10.py).
  training   experiments/cpu_demo.py's config (read from that file), its tuned numbers as the
             starting point (tuned on the built-in shapes, not on emoji; its docstring has the
             measurements): TTUR g_lr
             4e-4 / d_lr 8e-4, Adam beta1 0, beta2 0.9 (the paper's), EMA 0.995 from iteration
             500, batch 32, 2500 iterations, hinge loss, 1 D step.
  augment    off (diffaugment '', the authors have none); DiffAugment for this small dataset
             (Zhao et al. 2020): --config.diffaugment=color,translation,cutout.
  evaluation eval_num_samples 10,000 generated images against the whole real set (3,812).

  sagan-train --config=experiments/emoji32.py --config.data_dir=/tmp/emoji \
      --workdir=/tmp/sagan_emoji
"""

import os
import runpy


def get_config():
  demo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpu_demo.py")
  c = runpy.run_path(demo)["get_config"]()  # size, optimizer, EMA, schedule, attention at 16
  c.dataset = "folder"
  c.data_dir = ""  # set --config.data_dir to the --output of sagan-prepare-emoji
  c.num_classes = 9
  c.eval_num_samples = 10_000
  return c
