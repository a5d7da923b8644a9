"""TensorBoard content: image grids of fixed samples and attention maps of fixed query points,
and the same grids as PNG files under WORKDIR/samples/."""

import os

import numpy as np
import tensorflow as tf

from sagan_tf import visualization
from sagan_tf.sampling import bn_stats as bn_stats_lib
from sagan_tf.sampling import noise
from sagan_tf.store import images as images_lib

SAMPLES_SUBDIR = "samples"


def image_grid(images, columns):
  """images float [N, H, W, 3] in [-1, 1] -> uint8 [1, rows*H, columns*W, 3] (N padded)."""
  n, h, w, _ = images.shape
  rows = -(-n // columns)
  pad = rows * columns - n
  x = tf.concat([images, tf.zeros([pad, h, w, 3], images.dtype) - 1.0], 0) if pad else images
  x = tf.reshape(x, [rows, columns, h, w, 3])
  x = tf.reshape(tf.transpose(x, [0, 2, 1, 3, 4]), [1, rows * h, columns * w, 3])
  return images_lib.to_uint8(x)


def attention_strip(image, attention, points):
  """One image and its attention maps at query points, side by side, for TensorBoard.

  image: float [R, R, 3] in [-1, 1]; attention: [N, N/4] of one sample, N = S*S;
  points: [(y, x)] image pixels. Returns uint8 [1, R, R * (1 + len(points)), 3]: the image,
  then per point the map over the pooled keys upsampled and overlaid (sagan_tf.visualization).
  """
  image = images_lib.to_uint8(image).numpy()
  attention = np.asarray(attention)
  r, s = image.shape[0], int(round(np.sqrt(attention.shape[0])))
  panels = [visualization.attention_overlay(
      image, attention[visualization.query_index(y, x, r, s, s)], r) for y, x in points]
  return np.concatenate([image] + panels, axis=1)[None]


def attention_gammas(model):
  """{'<model>/<layer>/gamma': float} for every SelfAttention layer of a G or D."""
  return {f"{model.name}/{layer.name}/gamma": float(layer.gamma.numpy())
          for layer in model.attention.values()}


def grid_png_path(workdir, step, name):
  """WORKDIR/samples/step_<step, 6 digits>_<name>.png, e.g. samples/step_000200_ema.png."""
  return os.path.join(workdir, SAMPLES_SUBDIR, f"step_{int(step):06d}_{name}.png")


class SampleImages:
  """The training job's sample images: fixed latents, each generator sampled as the config
  says (config.sample_bn_stats; standing statistics on a sampling copy, so training state is
  never touched), written to TensorBoard and, with a workdir, as PNG grids.

  Latents: z = seeded_noise(config.seed, num_image_samples, z_dim) (tools/sample.py
  --seed=<config.seed> draws the same z), label of sample i = i mod num_classes. The sampling
  copies are built at the first image step and reused (refreshed with the current weights).
  """

  def __init__(self, config, workdir=None):
    n = int(config.num_image_samples)
    self.z = noise.seeded_noise(config.seed, n, config.z_dim)
    self.labels = (tf.constant(np.arange(n) % config.num_classes, tf.int32)
                   if config.num_classes else None)
    self.stats = bn_stats_lib.BNStats.from_config(config)
    self.columns = max(int(np.sqrt(n)), 1)
    self.points = visualization.default_points(config.resolution, 3)
    self.workdir = workdir
    self.latest_png = None
    self._copies = {}

  def _images_and_first_maps(self, sampling):
    """(images [n, R, R, 3], {layer: attention map of sample 0 [1, N, N/4]}). Only sample 0's
    maps are shown, so with per-sample BN statistics (standing, moving) they come from a pass
    on sample 0 alone and the n images from a pass without maps (SelfAttention's blocked path
    at large N: n full maps at 128x128 would be n x 256 MiB). With batch statistics sample 0
    depends on its batch, so one pass returns both."""
    if self.stats.mode == "batch":
      return sampling(self.z, self.labels, return_attention=True)
    first = None if self.labels is None else self.labels[:1]
    _, maps = sampling(self.z[:1], first, return_attention=True)
    return sampling(self.z, self.labels), maps

  def write(self, step, generators):
    """Writes summaries samples/<name> and attention/<name>/<layer> (under the default
    summary writer, at `step`) and the PNG grid_png_path(workdir, step, name) for each
    {name: Generator}. Returns the PNG paths written."""
    paths = []
    for name, generator in generators.items():
      sampling = bn_stats_lib.prepare(generator, self.stats, copy=self._copies.get(name))
      if sampling.model is not generator:
        self._copies[name] = sampling.model
      images, maps = self._images_and_first_maps(sampling)
      grid = image_grid(images, self.columns)
      tf.summary.image(f"samples/{name}", grid, step=step)
      for layer, amap in maps.items():
        tf.summary.image(f"attention/{name}/{layer}",
                         attention_strip(images[0], amap[0], self.points), step=step)
      if self.workdir:
        paths.append(images_lib.save_png(grid[0].numpy(),
                                            grid_png_path(self.workdir, step, name)))
    if paths:
      self.latest_png = paths[0]
    return paths
