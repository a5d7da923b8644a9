"""Image encoding: generated images in [-1, 1] as uint8, grids of them, PNG files.

  to_uint8(images)  float [..., 3] in [-1, 1] -> uint8 round((x + 1) * 127.5), clipped to
                    [0, 255] (ties to even); a tf.Tensor, in graphs (export signatures,
                    tf.data) and eagerly (`.numpy()` for arrays).
  make_grid: rows x cols cells of h x w, `pad` pixels between cells and around the border:
    height = rows * h + (rows + 1) * pad, width = cols * w + (cols + 1) * pad.
"""

import os

import numpy as np
from PIL import Image
import tensorflow as tf


def to_uint8(images):
  """float images [..., 3] in [-1, 1] -> uint8 tf.Tensor in [0, 255] (module docstring)."""
  x = tf.convert_to_tensor(images, tf.float32)
  return tf.cast(tf.round(tf.clip_by_value((x + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def upscale(images, scale):
  """Nearest-neighbour upscaling of [..., H, W, C] by an integer factor."""
  if scale == 1:
    return images
  return np.repeat(np.repeat(images, scale, axis=-3), scale, axis=-2)


def grid_size(rows, cols, h, w, pad=2):
  """(height, width) of make_grid's output."""
  return rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad


def make_grid(cells, pad=2, pad_value=255):
  """cells uint8 [rows, cols, h, w, 3] -> one uint8 image (see the module docstring)."""
  cells = np.asarray(cells)
  rows, cols, h, w, c = cells.shape
  height, width = grid_size(rows, cols, h, w, pad)
  out = np.full([height, width, c], pad_value, np.uint8)
  for r in range(rows):
    for k in range(cols):
      y, x = pad + r * (h + pad), pad + k * (w + pad)
      out[y:y + h, x:x + w] = cells[r, k]
  return out


def save_png(image, path):
  """Writes a uint8 [H, W, 3] array as PNG (creating the directory), atomically: a temporary
  file renamed over `path`, removed if writing fails (OSError naming path). Returns path."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  tmp = f"{path}.tmp"
  try:
    Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format="PNG")
    os.replace(tmp, path)
  except OSError as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise OSError(e.errno, f"{e.strerror or e} while writing {path}") from e
  return path
