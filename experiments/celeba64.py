"""celeba64: unconditional SAGAN on CelebA faces at 64x64.

The paper (arXiv 1805.08318) reports ImageNet only. CelebA at 64x64 is the setting of the most
used SAGAN port (github.com/heykeetae/Self-Attention-GAN: `--dataset celeb --imsize 64
--adv_loss hinge`, batch 64); the network here is the authors' ResNet, not that port's DCGAN-like
one.

  data       TFDS 'celeb_a' train split (162,770 images of 178 wide x 218 high). The pipeline
             takes the largest central square (178 x 178) and resizes it to 64 (as the authors
             do for ImageNet); heykeetae's port crops the central 160 x 160 instead, a tighter
             face crop. Unconditional: num_classes = 0 (CelebA has attributes, no class label).
  model      sagan_tf/architectures.py's 64x64 table (BigGAN's / the authors' ImageNet
             ResNet with one block fewer) at ch = 64 for G and D, as the authors' ImageNet
             width; self-attention on the 32x32 maps of G (after its 256-channel block) and D
             (after its first, 64-channel block), the authors' feat32 placement.
  training   the authors' optimizer (hinge, TTUR 1e-4 / 4e-4, Adam beta1 0, beta2 0.999, one D
             step per G step; base_config's defaults); batch 64 (heykeetae's default);
             200k iterations (about 79 epochs): this project's choice (heykeetae's default
             total_step is 1M).

  tfds build celeb_a --data_dir=DIR  # needs CelebA's files (may need a manual download)
  sagan-train --config=experiments/celeba64.py --config.data_dir=DIR \
      --workdir=/tmp/sagan_celeba64  # needs CelebA in DIR
"""

from sagan_tf.config import base_config


def get_config():
  c = base_config()
  c.dataset = "tfds"
  c.tfds_name = "celeb_a"
  c.resolution = 64
  c.num_classes = 0
  c.g_attention = (32,)
  c.d_attention = (32,)
  c.global_batch_size = 64
  c.num_train_steps = 200_000
  return c
