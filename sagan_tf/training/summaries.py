"""TensorBoard content: image grids of fixed samples and attention maps of fixed query points."""

import numpy as np
import tensorflow as tf

from sagan_tf import visualization


def image_grid(images, columns):
  """images float [N, H, W, 3] in [-1, 1] -> uint8 [1, rows*H, columns*W, 3] (N padded)."""
  n, h, w, _ = images.shape
  rows = -(-n // columns)
  pad = rows * columns - n
  x = tf.concat([images, tf.zeros([pad, h, w, 3], images.dtype) - 1.0], 0) if pad else images
  x = tf.reshape(x, [rows, columns, h, w, 3])
  x = tf.reshape(tf.transpose(x, [0, 2, 1, 3, 4]), [1, rows * h, columns * w, 3])
  return tf.cast(tf.round(tf.clip_by_value((x + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def attention_strip(image, attention, points):
  """One image and its attention maps at query points, side by side, for TensorBoard.

  image: float [R, R, 3] in [-1, 1]; attention: [N, N/4] of one sample, N = S*S;
  points: [(y, x)] image pixels. Returns uint8 [1, R, R * (1 + len(points)), 3]: the image,
  then per point the map over the pooled keys upsampled and overlaid (sagan_tf.visualization).
  """
  image = visualization.to_uint8(np.asarray(image))
  attention = np.asarray(attention)
  r, s = image.shape[0], int(round(np.sqrt(attention.shape[0])))
  panels = [visualization.attention_overlay(
      image, attention[visualization.query_index(y, x, r, s, s)], r) for y, x in points]
  return np.concatenate([image] + panels, axis=1)[None]


def attention_gammas(model):
  """{'<model>/<layer>/gamma': float} for every SelfAttention layer of a G or D."""
  return {f"{model.name}/{layer.name}/gamma": float(layer.gamma.numpy())
          for layer in model.attention.values()}
