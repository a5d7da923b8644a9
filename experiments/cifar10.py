"""cifar10: class-conditional SAGAN on CIFAR-10 (32x32), SNGAN's CIFAR ResNet with attention.

The paper (arXiv 1805.08318) reports ImageNet only; CIFAR-10 settings follow SNGAN
(Miyato et al. 2018, "Spectral Normalization for GANs", and its projection-discriminator
CIFAR ResNet) and PyTorch-StudioGAN's SAGAN CIFAR-10 config
(github.com/POSTECH-CVLab/PyTorch-StudioGAN, src/configs/CIFAR10/SAGAN.yaml with the defaults of
src/config.py and the 32x32 tables of src/models/resnet.py):

  data       TFDS 'cifar10' train split (50,000 images), 10 classes, [-1, 1]. No random flips
             (StudioGAN flips; this pipeline follows the authors' ImageNet pipeline, no flips).
  model      sagan_tf/architectures.py's 32x32 table (three G up-blocks 8 -> 16 -> 32,
             four D blocks, every block `ch` channels) with G ch 256 and D ch 128: SNGAN's CIFAR
             ResNet widths, also StudioGAN's (g_conv_dim * 4 = 256, d_conv_dim * 2 = 128).
             Self-attention on the 16x16 maps of G (after its 2nd block) and D (after its 1st
             block): StudioGAN's attn_g_loc = [2], attn_d_loc = [1]. z_dim 128.
  training   hinge loss (StudioGAN's SAGAN), batch 64 (SNGAN and StudioGAN's CIFAR batch).
             Optimizer: the authors' TTUR, G lr 1e-4, D lr 4e-4, Adam beta1 0, beta2 0.999,
             one D step per G step: the paper's point is that TTUR replaces SNGAN's 5 D steps
             per G step (Section 4). StudioGAN's current defaults differ (lr 2e-4 both, beta1
             0.5, 5 D steps, 100k iterations); its earlier SAGAN.json used TTUR 1e-4 / 4e-4 with
             1 D step. This project's choice: the authors' optimizer.
  steps      500k iterations: this project's choice, the same number of D updates and real
             batches as StudioGAN's 100k iterations x 5 D steps.

Reference numbers: StudioGAN reports SAGAN CIFAR-10 FID 10.35 / IS 8.64 (its own settings).

  tfds build cifar10 --data_dir=DIR  # needs the TFDS download hosts
  sagan-train --config=experiments/cifar10.py --config.data_dir=DIR \
      --workdir=/tmp/sagan_cifar10  # needs CIFAR-10 in DIR
"""

from sagan_tf.config import base_config


def get_config():
  c = base_config()
  c.dataset = "tfds"
  c.tfds_name = "cifar10"
  c.resolution = 32
  c.num_classes = 10
  c.g_ch = 256
  c.d_ch = 128
  c.g_attention = (16,)
  c.d_attention = (16,)
  c.global_batch_size = 64
  c.num_train_steps = 500_000
  return c
