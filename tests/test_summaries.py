"""TensorBoard images: the grid layout and the attention strip."""

import numpy as np
import tensorflow as tf

from sagan_tf.training import summaries


def test_image_grid_places_images_row_major():
  images = np.stack([np.full([2, 3, 3], v, np.float32) for v in (-1.0, 0.0, 1.0)])
  grid = summaries.image_grid(tf.constant(images), columns=2).numpy()
  assert grid.shape == (1, 4, 6, 3) and grid.dtype == np.uint8
  assert (grid[0, :2, :3] == 0).all() and (grid[0, :2, 3:] == 128).all()
  assert (grid[0, 2:, :3] == 255).all() and (grid[0, 2:, 3:] == 0).all()  # padding is black


def test_attention_strip_shows_each_points_map():
  r, s = 16, 8  # image 16x16, attention layer 8x8: 64 queries, 16 pooled keys (4x4)
  image = np.zeros([r, r, 3], np.float32)
  attention = np.full([s * s, 16], 1e-3, np.float32)
  attention[(12 // 2) * s + (4 // 2), 3] = 1.0  # query at pixel (12, 4) looks at key (0, 3)
  strip = summaries.attention_strip(image, attention, [(12, 4)])
  assert strip.shape == (1, r, 2 * r, 3)
  panel = strip[0, :, r:].astype(float).sum(-1)
  y, x = np.unravel_index(np.argmax(panel), panel.shape)
  assert y < 4 and x >= 12  # the top-right pooled cell (0, 3) covers pixels [0, 4) x [12, 16)
