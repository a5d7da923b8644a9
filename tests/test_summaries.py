"""Training images: the sample sheets (standing statistics on a sampling copy, one row per
class) in TensorBoard and as PNGs under WORKDIR/samples/, the attention strip, and the speed the
loop logs."""

import logging
import os
import re
import runpy
import time

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import data as data_lib
from sagan_tf import visualization as vis
from sagan_tf.store import images as images_lib
from sagan_tf.training import summaries
from sagan_tf import models as models_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sheet_places_cells_and_labels_rows():
  cells = np.stack([np.stack([np.full([2, 3, 3], 10 * r + k, np.uint8) for k in range(3)])
                    for r in range(2)])  # [2 rows, 3 cols, 2, 3, 3], cell (r, k) = 10 r + k
  cells = np.repeat(cells, 2, axis=3)[:, :, :, :2]  # 2 x 2 px
  sheet, layout = vis.draw_sheet(cells, ["0 a", "1 bb"], scale=3, pad=1)
  assert sheet.shape == (layout.height, layout.width, 3) == (
      2 * 6 + 3, layout.label_width + 3 * 6 + 4, 3)
  for r in range(2):
    for k in range(3):
      y, x = layout.cell(r, k)
      assert (sheet[y:y + 6, x:x + 6] == 10 * r + k).all(), (r, k)
      assert (sheet[y - 1, x:x + 6] == 255).all()  # white padding above each cell
    assert (sheet[y:y + 6, :layout.label_width] < 128).any()  # the label is drawn


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


def test_demo_sheet_has_a_labelled_row_per_class_and_standing_statistics_on_a_copy(tmp_path):
  # experiments/cpu_demo.py (10 classes, 32 px, 8 samples a row) with a tiny width.
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from sagan_tf.sampling import bn_stats, noise  # pylint: disable=import-outside-toplevel
  config = runpy.run_path(os.path.join(REPO, "experiments", "cpu_demo.py"))["get_config"]()
  config.g_ch, config.d_ch, config.standing_stats_batches = 8, 8, 2
  config.standing_stats_batch_size = 4
  rows, cols, r = 10, 8, 32
  assert (config.num_classes, config.num_image_samples, config.resolution) == (rows, cols, r)
  g = models_lib.build_generator(config)
  rng = np.random.default_rng(0)
  for w in g.weights:
    if w.path.endswith("moving_mean"):  # stored statistics far from the standing ones
      w.assign(tf.fill(w.shape, 0.7))
    elif len(w.shape) == 2 and w.shape[0] == rows:  # per-class CBN tables: classes differ
      w.assign(w.numpy() + rng.normal(0, 0.5, w.shape).astype(np.float32))
  before = [w.numpy().copy() for w in g.weights]
  names = data_lib.class_names(config)
  samples = summaries.SampleImages(config, str(tmp_path), class_names=names)
  writer = tf.summary.create_file_writer(str(tmp_path / "tb"))
  with writer.as_default():
    paths = samples.write(200, {"ema": g})
  writer.close()
  assert paths == [str(tmp_path / "samples" / "step_000200_ema.png")] == [samples.latest_png]
  for w, value in zip(g.weights, before):  # the training state is untouched, bitwise
    np.testing.assert_array_equal(w.numpy(), value)
  with Image.open(paths[0]) as im:
    png = np.asarray(im).astype(int)
  labels = [f"{k} {names[k]}" for k in range(rows)]
  assert labels[8] == "8 hollow_square"
  layout = vis.SheetLayout(rows, cols, r, labels)
  assert png.shape == (layout.height, layout.width, 3) and layout.width >= 512
  s = layout.scale
  standing = bn_stats.prepare(g, bn_stats.BNStats("standing", batches=2, batch_size=4))
  z = noise.seeded_noise(config.seed, rows * cols, config.z_dim)
  own = np.repeat(np.arange(rows), cols)  # sample k of row c: class c, z row c * cols + k
  want = {}
  for name, labels_used in (("own", own), ("next", (own + 1) % rows)):
    want[name] = images_lib.upscale(images_lib.to_uint8(
        standing(z, tf.constant(labels_used, tf.int32))).numpy(), s).astype(int)
  stored = images_lib.upscale(images_lib.to_uint8(
      g(z, tf.constant(own, tf.int32), training=False)).numpy(), s).astype(int)
  for row in range(rows):
    y, _ = layout.cell(row, 0)
    assert (png[y:y + r * s, :layout.label_width] < 128).any(), row  # its label is drawn
    for k in range(cols):
      y, x = layout.cell(row, k)
      cell = png[y:y + r * s, x:x + r * s]
      i = row * cols + k
      assert np.abs(cell - want["own"][i]).max() <= 1, (row, k)
      assert np.abs(cell - want["next"][i]).max() > 20, (row, k)  # the row's own class
      assert np.abs(cell - stored[i]).max() > 20  # not the stored moving statistics
  # A second image step reuses the sampling copy for every generator (refreshed with each
  # one's current weights): a generator with other weights, then g again, gives g's sheet.
  copy = samples._copy  # pylint: disable=protected-access
  other = models_lib.clone(g)
  paths = samples.write(400, {"other": other, "ema": g})
  assert samples._copy is copy  # pylint: disable=protected-access
  assert paths[1].endswith("step_000400_ema.png")
  again = np.asarray(Image.open(paths[1]).convert("RGB")).astype(int)
  assert np.abs(again - png).max() <= 1
  assert np.abs(np.asarray(Image.open(paths[0]).convert("RGB")).astype(int) - png).max() > 20


def test_training_writes_sheets_and_times_the_speed_without_the_first_call(tmp_path, capsys,
                                                                           caplog, monkeypatch):
  # The first loop call traces (here made 4 s slower still): the rate of the step-2 line
  # covers the second call (1 step) only. Counting the first would give 2 steps over more
  # than both calls' time: the rate must be at least twice that, and at most 1 step over the
  # second call's time.
  from sagan_tf.training import loop  # pylint: disable=import-outside-toplevel
  seconds = []
  original = loop.GANTrainer.train

  def slow_first_call(self, iterator, steps):
    start = time.monotonic()
    out = original(self, iterator, steps)
    seconds.append(time.monotonic() - start)
    if len(seconds) == 1:
      time.sleep(4.0)
      seconds[0] += 4.0
    return out
  monkeypatch.setattr(loop.GANTrainer, "train", slow_first_call)
  caplog.set_level(logging.INFO, logger="absl")  # the loop logs through absl
  workdir = str(tmp_path / "run")
  loop.train(_tiny_config(), workdir)
  assert len(seconds) == 2
  rate = float(re.search(r"step 2/2 \|.*\| ([0-9.]+) steps/s", caplog.text).group(1))
  assert 4 / sum(seconds) < rate <= 1 / seconds[1] + 0.01, (seconds, caplog.text[-2000:])
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
    n = 3 * 4  # a row of num_image_samples for each of the 3 classes
    assert samples.z.shape[0] == n
    for layer, amap in maps.items():
      assert amap.shape[0] == (n if mode == "batch" else 1)
      np.testing.assert_allclose(amap[0].numpy(), full_maps[layer][0].numpy(), atol=1e-5)
    want = [(n, True)] if mode == "batch" else [(1, True), (n, False)]
    assert calls == want, (mode, calls)


def test_a_failed_png_write_leaves_no_file_and_names_it(tmp_path, monkeypatch):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  path = str(tmp_path / "samples" / "step_000004_ema.png")

  def full_disk(self, fp, *args, **kwargs):
    with open(fp, "wb") as f:
      f.write(b"\x89PNG partial")
    raise OSError(28, "No space left on device")
  monkeypatch.setattr(Image.Image, "save", full_disk)
  with pytest.raises(OSError, match=f"No space left on device while writing {re.escape(path)}"):
    images_lib.save_png(np.zeros([2, 2, 3], np.uint8), path)
  assert os.listdir(tmp_path / "samples") == []
