"""TensorBoard content: image grids of fixed samples and attention maps of fixed query points."""

import tensorflow as tf


def image_grid(images, columns):
  """images float [N, H, W, 3] in [-1, 1] -> uint8 [1, rows*H, columns*W, 3] (N padded)."""
  n, h, w, _ = images.shape
  rows = -(-n // columns)
  pad = rows * columns - n
  x = tf.concat([images, tf.zeros([pad, h, w, 3], images.dtype) - 1.0], 0) if pad else images
  x = tf.reshape(x, [rows, columns, h, w, 3])
  x = tf.reshape(tf.transpose(x, [0, 2, 1, 3, 4]), [1, rows * h, columns * w, 3])
  return tf.cast(tf.clip_by_value((x + 1.0) * 127.5, 0.0, 255.0), tf.uint8)


def query_rows(resolution, layer_size, points):
  """Indices of the attention-map rows (queries) of a layer of layer_size x layer_size for
  image pixel points [(y, x)] of an image resolution x resolution."""
  return [(y * layer_size // resolution) * layer_size + x * layer_size // resolution
          for y, x in points]


def attention_strip(image, attention, points):
  """One image and its attention maps at query points, side by side.

  image: float [R, R, 3] in [-1, 1]; attention: float [N, N/4] of one sample, N = S*S;
  points: [(y, x)] pixel positions. Returns uint8 [1, R, R * (1 + len(points)), 3]: the image
  with the points marked in red, then per point the map over the pooled keys (S/2 x S/2),
  upsampled to R x R (nearest), normalized to its maximum and shown as a heat map over the
  dimmed image.
  """
  r = image.shape[0]
  s = int(round(attention.shape[0] ** 0.5))
  base = (tf.cast(image, tf.float32) + 1.0) / 2.0
  marked = base
  panels = []
  for row, (y, x) in zip(query_rows(r, s, points), points):
    marked = tf.tensor_scatter_nd_update(marked, [[y, x]], [[1.0, 0.0, 0.0]])
    amap = tf.reshape(tf.cast(attention[row], tf.float32), [s // 2, s // 2, 1])
    amap = tf.image.resize(amap[None], [r, r], method="nearest")[0]
    amap = amap / (tf.reduce_max(amap) + 1e-12)
    heat = tf.concat([amap, 0.3 * amap, 1.0 - amap], axis=-1)
    panels.append(0.35 * base + 0.65 * heat)
  strip = tf.concat([marked] + panels, axis=1)[None]
  return tf.cast(tf.clip_by_value(strip * 255.0, 0.0, 255.0), tf.uint8)


def attention_gammas(model):
  """{'<model>/<layer>/gamma': float} for every SelfAttention layer of a G or D."""
  return {f"{model.name}/{layer.name}/gamma": float(layer.gamma.numpy())
          for layer in model.attention.values()}
