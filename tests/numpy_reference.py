"""Plain numpy references the layer and model tests compare against (not a test module)."""

import numpy as np


def conv2d_same(x, k):
  """Stride-1 SAME 2D convolution (cross-correlation, as tf.nn.conv2d) in float64.

  x [B, H, W, C], k [kh, kw, C, O] -> [B, H, W, O].
  """
  kh, kw = k.shape[:2]
  ph, pw = (kh - 1) // 2, (kw - 1) // 2
  xp = np.pad(x, [(0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)])
  h, w = x.shape[1:3]
  out = np.zeros(x.shape[:3] + (k.shape[3],))
  for i in range(kh):
    for j in range(kw):
      out += np.einsum("bhwc,co->bhwo", xp[:, i:i + h, j:j + w, :], k[i, j])
  return out


def top_singular_value(m):
  """The largest singular value of m [rows, cols] (float64 SVD)."""
  return np.linalg.svd(np.asarray(m, np.float64), compute_uv=False)[0]
