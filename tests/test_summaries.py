"""Training images: the grid layout, the attention strip, the sample grids (standing statistics
on a sampling copy) in TensorBoard and as PNGs under WORKDIR/samples/."""

import os

import numpy as np
import tensorflow as tf

from sagan_tf.training import summaries
from sagan_tf import models as models_lib


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


def _tiny_config():
  from sagan_tf import config as config_lib  # pylint: disable=import-outside-toplevel
  c = config_lib.base_config()
  c.resolution, c.g_ch, c.d_ch, c.z_dim, c.num_classes = 32, 8, 8, 16, 3
  c.g_attention = c.d_attention = (16,)
  c.num_image_samples, c.standing_stats_batches, c.standing_stats_batch_size = 4, 2, 4
  c.global_batch_size, c.num_train_steps, c.steps_per_loop = 4, 2, 1
  c.checkpoint_every_steps = c.image_every_steps = c.log_every_steps = 2
  return c


def test_sample_images_use_standing_statistics_on_a_copy_and_write_pngs(tmp_path):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from sagan_tf.sampling import bn_stats, noise  # pylint: disable=import-outside-toplevel
  config = _tiny_config()
  g = models_lib.build_generator(config)
  for w in g.weights:  # stored statistics far from the standing ones
    if w.path.endswith("moving_mean"):
      w.assign(tf.fill(w.shape, 0.7))
  before = [w.numpy().copy() for w in g.weights]
  samples = summaries.SampleImages(config, str(tmp_path))
  writer = tf.summary.create_file_writer(str(tmp_path / "tb"))
  with writer.as_default():
    paths = samples.write(200, {"ema": g})
  writer.close()
  assert paths == [str(tmp_path / "samples" / "step_000200_ema.png")] == [samples.latest_png]
  for w, value in zip(g.weights, before):  # the training state is untouched, bitwise
    np.testing.assert_array_equal(w.numpy(), value)
  standing = bn_stats.prepare(g, bn_stats.BNStats("standing", batches=2, batch_size=4))
  z = noise.seeded_noise(config.seed, 4, config.z_dim)
  want = summaries.image_grid(standing(z, tf.constant([0, 1, 2, 0])), 2).numpy()[0]
  with Image.open(paths[0]) as im:
    png = np.asarray(im)
  assert np.abs(png.astype(int) - want).max() <= 1
  stored = summaries.image_grid(g(z, tf.constant([0, 1, 2, 0]), training=False), 2).numpy()[0]
  assert np.abs(png.astype(int) - stored).max() > 20  # not the stored moving statistics
  # A second image step reuses the sampling copy (refreshed with the current weights).
  copy = samples._copies["ema"]  # pylint: disable=protected-access
  samples.write(400, {"ema": g})
  assert samples._copies["ema"] is copy  # pylint: disable=protected-access
  assert samples.latest_png.endswith("step_000400_ema.png")


def test_training_writes_sample_pngs_and_prints_the_latest(tmp_path, capsys):
  from sagan_tf.training import loop  # pylint: disable=import-outside-toplevel
  workdir = str(tmp_path / "run")
  loop.train(_tiny_config(), workdir)
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == [
      "step_000002_ema.png", "step_000002_raw.png"]
  latest = os.path.join(workdir, "samples", "step_000002_ema.png")
  assert f"Latest sample grid (EMA generator): {latest}" in capsys.readouterr().out


def test_attention_maps_of_sample_zero_only():
  # With per-sample statistics the maps come from a pass on sample 0 alone: the same maps as a
  # full pass's sample 0, and no other call asks for maps (at 128x128 each map is 256 MiB).
  # With batch statistics one full pass returns both.
  from sagan_tf.sampling import bn_stats  # pylint: disable=import-outside-toplevel
  config = _tiny_config()
  g = models_lib.build_generator(config)
  for mode in ("standing", "moving", "batch"):
    config.sample_bn_stats = mode
    samples = summaries.SampleImages(config)
    sampling = bn_stats.prepare(g, samples.stats)
    calls = []

    def spy(z, labels=None, return_attention=False, sampling=sampling):
      calls.append((int(z.shape[0]), return_attention))
      return sampling(z, labels, return_attention=return_attention)
    images, maps = samples._images_and_first_maps(spy)  # pylint: disable=protected-access
    full_images, full_maps = sampling(samples.z, samples.labels, return_attention=True)
    np.testing.assert_allclose(images.numpy(), full_images.numpy(), atol=1e-5)
    assert set(maps) == set(full_maps)
    for layer, amap in maps.items():
      assert amap.shape[0] == (4 if mode == "batch" else 1)
      np.testing.assert_allclose(amap[0].numpy(), full_maps[layer][0].numpy(), atol=1e-5)
    want = [(4, True)] if mode == "batch" else [(1, True), (4, False)]
    assert calls == want, (mode, calls)
