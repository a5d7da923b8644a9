"""cpu_demo: the built-in mirror-symmetric shapes dataset, small enough for 2 CPU cores.

32x32 images, 10 classes, G and D base width 32 (the CIFAR table of
sagan_tf/architectures.py, every block `ch` channels), attention at 16x16 in G and D,
batch 32, 2500 iterations: about 5.5 minutes alone on 2 CPU cores (about 8 iterations/s at this
width and batch, sample images included; 3.5 minutes with mixed_bfloat16 on an AMX-BF16 CPU).
Tuned so that this short run ends with a generator that draws the classes' shapes.

Departures from the authors' numbers (TTUR 1e-4 / 4e-4, Adam beta1 0, beta2 0.999; they have
no EMA), each measured on seed 0 with class accuracy of a stand-in classifier (real data 0.99)
on samples drawn with standing BN statistics:
- g_lr 4e-4, d_lr 8e-4 (4x and 2x the authors', TTUR ratio 2): at 1000 iterations class accuracy
  0.60 (EMA) against 0.25 with 2e-4 / 4e-4, and the authors' rates reach only 0.69 at 6000. Equal
  rates 4e-4 / 4e-4 were slower (0.37 at 1000).
- beta2 0.9 (the paper's value, not the authors' code's 0.999): Adam's second moment follows the
  fast-changing gradients of a short run; used in every candidate above.
- ema_decay 0.995 from iteration 500 (authors: no EMA; our default 0.9999 from 0): an averaging
  horizon of ~200 iterations fits a 2500-iteration run (0.999 would still be averaging the
  generator of iteration ~1500).
- 2500 iterations: accuracy 0.74 (EMA) at 2000, 0.77 at 2500 (1000 samples), 0.78 at 3000: little
  gain after 2500. Width 16 (1.7x faster per iteration) reached only 0.33 at 8000 iterations.
Batch 32 and the widths are chosen for minutes on 2 cores, not taken from the paper.

  sagan-train --config=experiments/cpu_demo.py --workdir=/tmp/sagan_demo
"""

from sagan_tf.config import base_config


def get_config():
  c = base_config()
  c.dataset = "synthetic"
  c.resolution = 32
  c.num_classes = 10
  c.g_ch = 32
  c.d_ch = 32
  c.g_attention = (16,)
  c.d_attention = (16,)
  c.global_batch_size = 32
  c.num_train_steps = 2500
  c.g_lr = 4e-4
  c.d_lr = 8e-4
  c.beta2 = 0.9
  c.ema_decay = 0.995
  c.ema_start_step = 500
  c.checkpoint_every_steps = 250  # 1250, half the run, is a checkpoint too
  c.log_every_steps = 50
  c.image_every_steps = 250
  c.steps_per_loop = 10
  c.eval_num_samples = 5000  # > 2048, the Inception feature size, so FID is well defined
  return c
