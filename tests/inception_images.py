"""The deterministic inputs of the Inception reference fixture (numpy only: the PyTorch script
tests/fixtures/inception/make_reference.py and tests/test_inception_import.py both import it,
so the images are defined here and never stored).

  images(kind)               float32 [N, R, R, 3] in [-1, 1]: 'at299' (fed to the network as
                             they are), 'at32' (resized to 299 first), 'fid_a', 'fid_b' (two
                             32 px sets of different statistics, for FID)
  resize_tf1_bilinear(x, s)  TF1's bilinear resize (align_corners=False,
                             half_pixel_centers=False) in float64 numpy
  frechet_distance(a, b)     FID of two feature sets, scipy.linalg.sqrtm, N - 1 covariances
"""

import numpy as np
import scipy.linalg

KINDS = {  # kind -> (count, resolution, seed, frequency scale, colour shift)
    "at299": (24, 299, 1, 1.0, 0.0),
    "at32": (24, 32, 2, 1.0, 0.0),
    "fid_a": (64, 32, 3, 1.0, 0.0),
    "fid_b": (64, 32, 4, 2.0, 0.3),
}


def images(kind):
  """Smooth colour patterns (sums of random plane waves and a blob) plus PCG64 noise."""
  count, res, seed, freq, shift = KINDS[kind]
  rng = np.random.Generator(np.random.PCG64(seed))
  yy, xx = np.meshgrid(np.linspace(-1, 1, res), np.linspace(-1, 1, res), indexing="ij")
  out = np.empty([count, res, res, 3], np.float64)
  for i in range(count):
    for c in range(3):
      f = rng.uniform(0.5, 4.0, size=[3, 2]) * freq
      phase = rng.uniform(0, 2 * np.pi, size=3)
      waves = np.sin(np.pi * (f[:, 0, None, None] * xx + f[:, 1, None, None] * yy)
                     + phase[:, None, None]).sum(0) / 3
      cy, cx, r = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), rng.uniform(0.2, 0.6)
      blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
      out[i, :, :, c] = 0.6 * waves + 0.5 * blob - 0.25 + shift * (c - 1)
    out[i] += rng.normal(0, 0.08, size=[res, res, 3])
  return np.clip(out, -1, 1).astype(np.float32)


def resize_tf1_bilinear(x, size):
  """[N, H, W, C] -> [N, size, size, C]: source coordinate out * (in / size) (no half-pixel
  centres, corners not aligned), the two neighbours floor and min(floor + 1, in - 1)."""
  x = np.asarray(x, np.float64)

  def axis(n_in):
    src = np.arange(size) * (n_in / size)
    lo = np.floor(src).astype(int)
    return lo, np.minimum(lo + 1, n_in - 1), src - lo

  y0, y1, dy = axis(x.shape[1])
  x0, x1, dx = axis(x.shape[2])
  dx, dy = dx[None, None, :, None], dy[None, :, None, None]
  top = x[:, y0][:, :, x0] * (1 - dx) + x[:, y0][:, :, x1] * dx
  bottom = x[:, y1][:, :, x0] * (1 - dx) + x[:, y1][:, :, x1] * dx
  return top * (1 - dy) + bottom * dy


def frechet_distance(a, b):
  """|m_a - m_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)), unbiased covariances, float64."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  root = scipy.linalg.sqrtm(ca @ cb)
  return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * np.real(root)))
