"""The built-in dataset: mirror-symmetric class-conditional shapes, made on the fly.

Example i (an int64 index) is a deterministic function of (seed, i): a class k, a background
(vertical gradient between two dark colours) and one shape of class k's kind in one bright
colour, drawn on the left half and again mirrored onto the right half. Every image equals its
horizontal flip, so agreeing left and right halves is a long-range dependency, which is what
self-attention is for. `symmetry_error` measures exactly that on generated images.

Class k draws shape kind k % 10 (disk, square, ring, diamond, cross, triangle, horizontal bar,
vertical bar, hollow square, X) at size band (k // 10) % 3 (medium, small, large); its name
(`class_names`) says both: 'disk', ..., 'x', then 'small_disk', ..., then 'large_disk', ...;
from class 30 on the names repeat with a suffix '_<k // 30>' so that every name is unique.
"""

import tensorflow as tf

NUM_SHAPES = 10
SHAPE_NAMES = ("disk", "square", "ring", "diamond", "cross", "triangle", "hbar", "vbar",
               "hollow_square", "x")
SIZE_PREFIXES = ("", "small_", "large_")  # size bands 0, 1, 2 (make_example's size_base)


def class_names(num_classes):
  """Class id -> name (module docstring) for the first num_classes classes."""
  return [f"{SIZE_PREFIXES[(k // NUM_SHAPES) % 3]}{SHAPE_NAMES[k % NUM_SHAPES]}"
          + (f"_{k // (3 * NUM_SHAPES)}" if k >= 3 * NUM_SHAPES else "")
          for k in range(num_classes)]


def _shape_mask(kind, dx, dy, r):
  """Boolean [R, R] mask of shape `kind` (int32 scalar) with offsets dx, dy and radius r."""
  adx, ady = tf.abs(dx), tf.abs(dy)
  dist = tf.sqrt(dx * dx + dy * dy)
  cheb = tf.maximum(adx, ady)
  masks = [
      dist < r,
      cheb < r,
      (dist < r) & (dist > 0.55 * r),
      adx + ady < r,
      ((adx < r / 3) & (ady < r)) | ((ady < r / 3) & (adx < r)),
      (dy > -r) & (dy < r) & (adx < (dy + r) / 2),
      (adx < r) & (ady < r / 3),
      (ady < r) & (adx < r / 3),
      (cheb < r) & (cheb > 0.6 * r),
      (tf.abs(adx - ady) < r / 4) & (cheb < r),
  ]
  return tf.gather(tf.stack(masks), kind)


def make_example(index, seed, resolution, num_classes):
  """Returns (image float32 [R, R, 3] in [-1, 1], label int32 scalar) for an int64 index.

  num_classes = 0 gives unconditional data: shapes of every kind, label 0.
  """
  key = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
  seeds = tf.random.experimental.stateless_split(key, num=4)
  n = max(num_classes, 1)
  label = tf.random.stateless_uniform([], seeds[0], 0, n, dtype=tf.int32)
  cls = label if num_classes else tf.random.stateless_uniform(
      [], seeds[3], 0, NUM_SHAPES * 3, dtype=tf.int32)
  kind = cls % NUM_SHAPES
  band = tf.cast((cls // NUM_SHAPES) % 3, tf.float32)
  p = tf.random.stateless_uniform([4], seeds[1])  # cx, cy, size jitter, colour choice
  size_base = tf.gather(tf.constant([0.14, 0.09, 0.19]), tf.cast(band, tf.int32))
  r = size_base * (0.85 + 0.3 * p[2])
  cx = 0.12 + p[0] * (0.38 - 0.12 - r * 0.5)  # left half, may touch the centre
  cy = r + p[1] * (1.0 - 2.0 * r)
  coords = (tf.cast(tf.range(resolution), tf.float32) + 0.5) / resolution
  yy, xx = tf.meshgrid(coords, coords, indexing="ij")
  mask = _shape_mask(kind, xx - cx, yy - cy, r)
  mask = mask | tf.reverse(mask, axis=[1])  # the mirrored copy on the right half
  colours = tf.random.stateless_uniform([3, 3], seeds[2])
  fg = 0.55 + 0.45 * colours[0]
  bg_top, bg_bottom = 0.35 * colours[1], 0.35 * colours[2]
  t = tf.reshape(coords, [resolution, 1, 1])
  background = bg_top * (1.0 - t) + bg_bottom * t  # [R, 1, 3], constant along rows
  image = tf.where(mask[..., None], fg, background)
  image = tf.broadcast_to(image, [resolution, resolution, 3]) * 2.0 - 1.0
  return image, label


def dataset(resolution, num_classes, seed=0, start_index=0, num_shards=1, shard_index=0):
  """Infinite unbatched tf.data.Dataset of (image [R, R, 3], label) pairs.

  Shard s of n yields examples start_index * n + s, (start_index + 1) * n + s, ...; together
  the shards cover every index once. Resuming at start_index = examples already consumed by a
  shard continues exactly where it stopped.
  """
  indices = tf.data.Dataset.range(start_index, 2**62).map(
      lambda i: i * num_shards + shard_index)
  return indices.map(lambda i: make_example(i, seed, resolution, num_classes),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def symmetry_error(images):
  """Mean absolute difference between images and their horizontal flips.

  images: float [B, H, W, 3] in [-1, 1]. Returns float32 [B], in the images' units (0 for a
  perfectly mirror-symmetric image; about 0.5 or more for unstructured noise).
  """
  images = tf.cast(images, tf.float32)
  return tf.reduce_mean(tf.abs(images - tf.reverse(images, axis=[2])), axis=[1, 2, 3])
