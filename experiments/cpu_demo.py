"""cpu_demo: the built-in mirror-symmetric shapes dataset, small enough for 2 CPU cores.

32x32 images, 10 classes, G and D base width 32 (the CIFAR table of
sagan_tf/models/architectures.py, every block `ch` channels), attention at 16x16 in G and D.
Optimizer settings are the authors' (TTUR 1e-4 / 4e-4, Adam beta1 0, beta2 0.999); batch 32 and
the step count are chosen for minutes on 2 cores, not taken from the paper.
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
  c.num_train_steps = 2000
  c.ema_decay = 0.999
  c.ema_start_step = 200
  c.checkpoint_every_steps = 200
  c.log_every_steps = 50
  c.image_every_steps = 200
  c.steps_per_loop = 10
  c.eval_num_samples = 5000  # > 2048, the Inception feature size, so FID is well defined
  return c
