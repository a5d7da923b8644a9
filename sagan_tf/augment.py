"""DiffAugment: differentiable random transforms of image batches, as Zhao, Liu, Lin, Zhu and
Han, "Differentiable Augmentation for Data-Efficient GAN Training" (NeurIPS 2020, arXiv
2006.10738) and their DiffAugment_tf.py define them. Knows nothing of GANs: the training step
applies it to real and fake images alike before D, in the D and the G sub-steps.

A policy is a comma-separated list of ops (choices.DIFFAUGMENT_OPS), applied in its order; the
paper's is 'color,translation,cutout'. Each example gets its own random parameters:
- color: brightness x + b, b ~ U[-0.5, 0.5); then saturation (x - m) * s + m, m the mean over
  the channels of each pixel, s ~ U[0, 2); then contrast (x - m) * c + m, m the mean over the
  whole image, c ~ U[0.5, 1.5).
- translation: out[i, j] = x[i + dy, j + dx], 0 where that lies outside the image (zero
  padding); dy, dx integers ~ U{-r, ..., r}, r = round(size / 8) (4 at 32 px).
- cutout: a square of side k = round(size / 2) (16 at 32 px) set to 0, rows [cy - k // 2,
  cy - k // 2 + k) (clipped to the image; columns alike), cy, cx ~ U{0, ..., size - k % 2}.
Every op is linear in x for fixed parameters, so gradients flow to the images.

Randomness is stateless: `draw(seed, num, height, width)` gives the parameters of `num` examples
from an int64 [2] seed, and `augment(images, policy, seed, num, start)` applies rows [start,
start + B) of that draw to a batch of B images; so slices of one global draw give each replica
its own examples' parameters, and the same seed gives the same images. Static shapes and no
Python-side randomness: works under tf.function and XLA (jit_compile).
"""

import tensorflow as tf

from sagan_tf import choices

TRANSLATION_RATIO = 1 / 8  # the authors' rand_translation(ratio=0.125)
CUTOUT_RATIO = 1 / 2       # the authors' rand_cutout(ratio=0.5)


def _round(size, ratio):
  return int(size * ratio + 0.5)  # the authors' tf.cast(size * ratio + 0.5, tf.int32)


def draw(seed, num, height, width):
  """The random parameters of `num` examples from an int64 [2] seed (each op its own stream).

  Returns {"brightness", "saturation", "contrast": float32 [num]; "translation": int32
  [num, 2] (dy, dx); "cutout": int32 [num, 2] (cy, cx)}, whatever the policy.
  """
  streams = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=5)
  u = tf.random.stateless_uniform([num, 3], streams[0])
  r_h, r_w = _round(height, TRANSLATION_RATIO), _round(width, TRANSLATION_RATIO)
  k_h, k_w = _round(height, CUTOUT_RATIO), _round(width, CUTOUT_RATIO)

  def ints(stream, low, high):  # U{low, ..., high}
    return tf.random.stateless_uniform([num], stream, low, high + 1, dtype=tf.int32)

  return {
      "brightness": u[:, 0] - 0.5, "saturation": u[:, 1] * 2.0, "contrast": u[:, 2] + 0.5,
      "translation": tf.stack([ints(streams[1], -r_h, r_h), ints(streams[2], -r_w, r_w)], 1),
      "cutout": tf.stack([ints(streams[3], 0, height - k_h % 2),
                          ints(streams[4], 0, width - k_w % 2)], 1),
  }


def _per_example(values, x):
  return tf.cast(tf.reshape(values, [-1, 1, 1, 1]), x.dtype)


def color(x, brightness, saturation, contrast):
  """x [B, H, W, C]; the three factors [B]: brightness, then saturation, then contrast."""
  x = x + _per_example(brightness, x)
  mean = tf.reduce_mean(x, axis=3, keepdims=True)
  x = (x - mean) * _per_example(saturation, x) + mean
  mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
  return (x - mean) * _per_example(contrast, x) + mean


def translation(x, shift):
  """x [B, H, W, C] shifted by int32 shift [B, 2] = (dy, dx): out[i, j] = x[i + dy, j + dx],
  0 outside."""
  _, h, w, _ = x.shape
  rows = tf.range(h)[None, :] + shift[:, :1]  # [B, H]: the source row of each output row
  cols = tf.range(w)[None, :] + shift[:, 1:]
  x = tf.gather(x, tf.clip_by_value(rows, 0, h - 1), axis=1, batch_dims=1)
  x = tf.gather(x, tf.clip_by_value(cols, 0, w - 1), axis=2, batch_dims=1)
  inside = (((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :])
  return x * tf.cast(inside, x.dtype)[..., None]


def cutout(x, center):
  """x [B, H, W, C] with a square of side round(H / 2) x round(W / 2) centred at int32 center
  [B, 2] = (cy, cx) (rows cy - k // 2 ... cy - k // 2 + k - 1, clipped) set to 0."""
  _, h, w, _ = x.shape
  k_h, k_w = _round(h, CUTOUT_RATIO), _round(w, CUTOUT_RATIO)
  top, left = center[:, :1] - k_h // 2, center[:, 1:] - k_w // 2
  i, j = tf.range(h)[None, :], tf.range(w)[None, :]
  in_rows, in_cols = (i >= top) & (i < top + k_h), (j >= left) & (j < left + k_w)
  cut = in_rows[:, :, None] & in_cols[:, None, :]
  return x * tf.cast(~cut, x.dtype)[..., None]


def apply(x, policy, params):
  """The policy's ops on x [B, H, W, C] with the parameters `params` ([B] rows, as draw's)."""
  for op in choices.diffaugment_ops(policy):
    if op == "color":
      x = color(x, params["brightness"], params["saturation"], params["contrast"])
    elif op == "translation":
      x = translation(x, params["translation"])
    else:
      x = cutout(x, params["cutout"])
  return x


def augment(images, policy, seed, num=None, start=0):
  """DiffAugment of images [B, H, W, C] (static shape): rows [start, start + B) of the
  parameters `draw(seed, num, H, W)` (num defaults to B). policy '' returns images as they are.
  """
  if not choices.diffaugment_ops(policy):
    return images
  b, h, w, _ = images.shape
  params = draw(seed, num or b, h, w)
  params = {k: tf.slice(v, [start] + [0] * (v.shape.rank - 1), [b] + v.shape[1:].as_list())
            for k, v in params.items()}
  return apply(images, policy, params)
