"""TensorBoard content: sample sheets of fixed latents and attention maps of fixed query
points, and the same sheets as PNG files under WORKDIR/samples/."""

import os

import numpy as np
import tensorflow as tf

from sagan_tf import visualization
from sagan_tf.sampling import bn_stats as bn_stats_lib
from sagan_tf.sampling import noise
from sagan_tf.store import images as images_lib

SAMPLES_SUBDIR = "samples"


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
  """The training job's sample sheets: fixed latents, each generator sampled as the config
  says (config.sample_bn_stats; standing statistics on a sampling copy, so training state is
  never touched), written to TensorBoard and, with a workdir, as PNG files.

  A sheet (sagan_tf.visualization.draw_sheet, the layout of sagan-sample) has one row per class
  of visualization.sheet_classes(num_classes), labelled with the class names given, and
  config.num_image_samples samples per row, upscaled to at least 512 px wide. Sample k of row
  r uses z row r * num_image_samples + k of seeded_noise(config.seed, ...), so
  `sagan-sample --seed=<config.seed> --per_class=<num_image_samples>` draws the same latents.
  One sampling copy is built at the first image step and reused for every generator and step
  (refreshed with that generator's current weights), so its standing-statistics pass is traced
  once.
  """

  def __init__(self, config, workdir=None, class_names=None):
    self.classes = visualization.sheet_classes(config.num_classes)
    self.columns = int(config.num_image_samples)
    n = len(self.classes) * self.columns
    self.z = noise.seeded_noise(config.seed, n, config.z_dim)
    self.labels = (tf.constant(np.repeat(self.classes, self.columns), tf.int32)
                   if config.num_classes else None)
    font = visualization.label_font()
    self.row_labels = [visualization.class_label(c, class_names, font) if config.num_classes
                       else "" for c in self.classes]
    self.stats = bn_stats_lib.BNStats.from_config(config)
    self.points = visualization.default_points(config.resolution, 3)
    self.workdir = workdir
    self.latest_png = None
    self._copy = None

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

  def sheet(self, images):
    """images float [n, R, R, 3] in [-1, 1] (row-major) -> the uint8 sheet [H, W, 3]."""
    cells = images_lib.to_uint8(images).numpy()
    cells = cells.reshape([len(self.classes), self.columns] + list(cells.shape[1:]))
    return visualization.draw_sheet(cells, self.row_labels)[0]

  def write(self, step, generators):
    """Writes summaries samples/<name> and attention/<name>/<layer> (under the default
    summary writer, at `step`) and the PNG grid_png_path(workdir, step, name) for each
    {name: Generator}. Returns the PNG paths written."""
    paths = []
    for name, generator in generators.items():
      sampling = bn_stats_lib.prepare(generator, self.stats, copy=self._copy)
      if sampling.model is not generator:
        self._copy = sampling.model
      images, maps = self._images_and_first_maps(sampling)
      sheet = self.sheet(images)
      tf.summary.image(f"samples/{name}", sheet[None], step=step)
      for layer, amap in maps.items():
        tf.summary.image(f"attention/{name}/{layer}",
                         attention_strip(images[0], amap[0], self.points), step=step)
      if self.workdir:
        paths.append(images_lib.save_png(sheet, grid_png_path(self.workdir, step, name)))
    if paths:
      self.latest_png = paths[0]
    return paths
