"""Tests of sagan-sample, sagan-interpolate, sagan-visualize-attention and the library
they stand on (sagan_tf/visualization.py, sagan_tf/sampling/sampler.py)."""

import os
import sys

import numpy as np
import pytest
from PIL import Image

import tiny_sagan
from tiny_sagan import CLASS_NAMES, NUM_CLASSES, RESOLUTION, Z_DIM

from sagan_tf import visualization as vis
from sagan_tf.sampling import bn_stats
from sagan_tf.sampling import sampler as sampler_lib
from sagan_tf.store import exports
from sagan_tf.store import images as images_lib

SAMPLE_ARGS = ["--classes=0,2,3", "--per_class=5", "--seed=3", "--truncation=1.5"]
STANDING_K = "--config.standing_stats_batches=2"  # an override of the recorded config
POINTS = [(4, 4), (16, 16), (28, 8)]


@pytest.fixture(scope="session")
def keras_sampler(tiny):
  """The in-memory EMA generator and D (what the workdir's checkpoint holds), sampled with its
  stored moving statistics, as the shared export (a library export of that generator) is;
  with the class names the workdir recorded."""
  sampler = sampler_lib.KerasSampler(tiny["ema_generator"], tiny["discriminator"],
                                     bn_stats=bn_stats.BNStats("moving"))
  sampler.class_names = CLASS_NAMES
  return sampler


@pytest.fixture(scope="session")
def export_sampler(exported, tmp_path_factory):
  sampler = sampler_lib.ExportSampler(exported[0], tiny_sagan.shared_loaded(tmp_path_factory))
  assert sampler.path == exported[1]  # BASE resolves to its latest version
  return sampler


@pytest.fixture(scope="session")
def jobs(tiny, exported, tmp_path_factory):
  """Starts every tool run at once (they overlap with the in-process tests)."""
  out = tmp_path_factory.mktemp("tool_outputs")
  workdir = [f"--workdir={tiny['workdir']}"]  # its recorded config: no --config needed
  tool = lambda name, *args: tiny_sagan.python("-m", f"sagan_tf.cli.{name[:-3]}", *args)
  png = lambda name: str(out / f"{name}.png")
  standing_export = str(out / "standing_export")
  # The CLI's default export (standing statistics, K from a --config override), made with a
  # limit of 8 rows per request, sampled by the tools (15 and 10 images: chunked), in one job.
  export_then_sample = tiny_sagan.Job(["bash", "-c", " && ".join([
      f"{sys.executable} -m sagan_tf.cli.export --workdir={tiny['workdir']} "
      f"--export_dir={standing_export} --max_batch=8 {STANDING_K}",
      f"{sys.executable} -m sagan_tf.cli.sample --export_dir={standing_export} "
      f"--classes=0,2,3 --per_class=5 --seed=3 --out={png('sample_standing_export')}",
      f"{sys.executable} -m sagan_tf.cli.interpolate --export_dir={standing_export} "
      f"--classes=0,1 --steps=5 --out={png('interpolate_export')}"])])
  return {
      # --config.KEY=VALUE without --config: on top of the recorded config
      "sample_workdir": (tool("sample.py", *workdir, *SAMPLE_ARGS,
                              "--config.sample_bn_stats=moving",
                              f"--out={png('sample_workdir')}"), png("sample_workdir")),
      # Classes by recorded name or id: disk, ring, 3 are ids 0, 2, 3.
      "sample_standing": (tool("sample.py", *workdir, "--classes=disk,ring,3", "--per_class=5",
                               "--seed=3", STANDING_K, f"--out={png('sample_standing')}"),
                          png("sample_standing")),
      "sample_standing_export": (export_then_sample, png("sample_standing_export")),
      "standing_export": standing_export,
      "too_many": (tool("sample.py", *workdir, "--classes=0,1,2", "--per_class=100",
                        f"--out={png('too_many')}"), png("too_many")),
      "fixed_override": (tool("sample.py", *workdir, "--config.num_classes=10",
                              f"--out={png('fixed_override')}"), png("fixed_override")),
      "missing_checkpoint": (tool("sample.py", *workdir, "--checkpoint=" + os.path.join(
          tiny["workdir"], "checkpoints", "ckpt-99"), f"--out={png('missing_ckpt')}"),
                             png("missing_ckpt")),
      "sample_export": (tool("sample.py", f"--export_dir={exported[0]}", *SAMPLE_ARGS,
                             f"--out={png('sample_export')}"), png("sample_export")),
      "interpolate": (tool("interpolate.py", *workdir, "--mode=class", "--classes=1,3",
                           "--rows=2", "--steps=5", "--scale=2", STANDING_K,
                           f"--out={png('interpolate')}"), png("interpolate")),
      "interpolate_export": png("interpolate_export"),
      "attention": (tool("visualize_attention.py", *workdir, "--label=ring", STANDING_K,
                         "--points=" + ";".join(f"{y},{x}" for y, x in POINTS), "--scale=2",
                         f"--out={png('attention')}"), png("attention")),
      "help": {name: tool(name, "--help") for name in
               ("sample.py", "interpolate.py", "visualize_attention.py")},
  }


def _png(path):
  with Image.open(path) as im:
    assert im.format == "PNG" and im.mode == "RGB"
    return np.asarray(im)


def test_help_lists_the_flags(jobs):
  expected = {"sample.py": ["--classes", "--per_class", "--truncation", "--seed", "--out"],
              "interpolate.py": ["--mode", "--classes", "--steps", "--method", "--out"],
              "visualize_attention.py": ["--points", "--label", "--d_image", "--out"]}
  for name, job in jobs["help"].items():
    _, out, err = job.result()
    for flag in expected[name] + ["--config", "--workdir", "--export_dir", "use_ema",
                                  "--bn_stats", "--bn_stats_batches", "--max_batch"]:
      assert flag in out + err, (name, flag)


def test_sampler_backends_agree(keras_sampler, export_sampler):
  assert (export_sampler.z_dim, export_sampler.num_classes, export_sampler.resolution) == (
      Z_DIM, NUM_CLASSES, RESOLUTION)
  assert export_sampler.attention_layers == keras_sampler.attention_layers == ("attention16",)
  z = keras_sampler.noise(5, 3, 0.0)
  np.testing.assert_array_equal(z, export_sampler.noise(5, 3, 0.0))
  images, maps = keras_sampler.generate_with_attention(z, [0, 1, 3])
  e_images, e_maps = export_sampler.generate_with_attention(z, [0, 1, 3])
  np.testing.assert_allclose(e_images, images, atol=1e-5)
  np.testing.assert_allclose(e_maps["attention16"], maps["attention16"], atol=1e-5)
  np.testing.assert_allclose(export_sampler.generate(z, [0, 1, 3]), images, atol=1e-5)
  for sampler in (keras_sampler, export_sampler):
    with pytest.raises(ValueError, match=rf"classes must be in \[0, {NUM_CLASSES}\)"):
      sampler.generate(z, [0, 1, NUM_CLASSES])
    with pytest.raises(ValueError, match=rf"z must have shape \[batch, {Z_DIM}\]"):
      sampler.generate(z[:, :-1], [0, 1, 2])


def test_sample_grid_layout(keras_sampler):
  classes, per_class = [0, 2, 3], 4
  labels = ["0 disk", "2 ring", "3 diamond"]
  grid = vis.sample_grid(keras_sampler, classes, per_class, seed=3, truncation=1.5, scale=1,
                         pad=2)
  layout = vis.SheetLayout(3, 4, RESOLUTION, labels, scale=1, pad=2)
  assert layout.label_width > 20
  assert grid.shape == (104, layout.label_width + 138, 3)  # make_grid's 104 x 138, labelled
  z = keras_sampler.noise(3, len(classes) * per_class, 1.5)
  want = images_lib.to_uint8(keras_sampler.generate(z, np.repeat(classes, per_class))).numpy()
  for r in range(len(classes)):
    for k in range(per_class):
      y, x = layout.cell(r, k)
      assert (y, x) == (2 + r * (RESOLUTION + 2), layout.label_width + 2 + k * (RESOLUTION + 2))
      cell = grid[y:y + RESOLUTION, x:x + RESOLUTION].astype(int)
      assert np.abs(cell - want[r * per_class + k]).max() <= 1, (r, k)
    label = grid[y:y + RESOLUTION, :layout.label_width]
    assert (label < 128).any(), r  # the row's label is drawn (dark text on white)
  assert (grid[:2] == 255).all() and (grid[:, :2] == 255).all()  # padding
  # By default the sheet is upscaled (nearest neighbour) to at least 512 px wide.
  big = vis.sample_grid(keras_sampler, classes, per_class, seed=3, truncation=1.5)
  big_layout = vis.SheetLayout(3, 4, RESOLUTION, labels)
  s = big_layout.scale
  assert s > 1 and big.shape == (big_layout.height, big_layout.width, 3)
  assert big.shape[1] >= vis.SHEET_MIN_WIDTH  # and the smallest scale that gives it:
  assert vis.SheetLayout(3, 4, RESOLUTION, labels, scale=s - 1).width < vis.SHEET_MIN_WIDTH
  y, x = big_layout.cell(2, 1)
  cell = big[y:y + s * RESOLUTION, x:x + s * RESOLUTION].astype(int)
  assert np.abs(cell - images_lib.upscale(want[2 * per_class + 1], s)).max() <= 1
  # With shared_z, the rows differ only by class; the label matters.
  shared = vis.sample_grid(keras_sampler, [0, 1], 2, seed=3, shared_z=True, scale=1, pad=0)
  side = slice(-2 * RESOLUTION, None)
  assert np.abs(shared[:RESOLUTION, side].astype(int) - shared[RESOLUTION:, side]).max() > 10


def test_classes_by_recorded_name_or_id(keras_sampler, export_sampler):
  for sampler in (keras_sampler, export_sampler):  # the workdir's names; the export's
    assert sampler.class_names == CLASS_NAMES
    assert list(sampler.class_ids(["ring", "3", 1, " disk"])) == [2, 3, 1, 0]
    with pytest.raises(ValueError, match=r"Unknown class 'cat': give a class name \(disk, "
                       r"square, ring, diamond\) or an id in \[0, 4\)"):
      sampler.class_ids(["cat"])
    with pytest.raises(ValueError, match=r"classes must be in \[0, 4\)"):
      sampler.class_ids(["7"])
  assert vis.class_label(2, CLASS_NAMES) == "2 ring" and vis.class_label(2, None) == "2"
  assert vis.class_label(1, ["0", "1"]) == "1"  # a name that is its id is not repeated


def test_latent_interpolation_endpoints(keras_sampler, export_sampler):
  steps, grids = 4, {}
  for sampler, method in ((keras_sampler, "slerp"), (keras_sampler, "linear"),
                          (export_sampler, "slerp")):
    grid = vis.latent_interpolation(sampler, [1, 2], steps, seed=9, method=method, pad=0)
    assert grid.shape == (2 * RESOLUTION, steps * RESOLUTION, 3)
    ends = sampler.noise(9, 4, 0.0)
    for row, label in enumerate([1, 2]):
      want = images_lib.to_uint8(
          sampler.generate(ends[2 * row:2 * row + 2], [label, label])).numpy()
      cells = grid[row * RESOLUTION:(row + 1) * RESOLUTION].astype(int)
      assert np.abs(cells[:, :RESOLUTION] - want[0]).max() <= 1
      assert np.abs(cells[:, -RESOLUTION:] - want[1]).max() <= 1
    grids[sampler, method] = grid.astype(int)
  assert np.abs(grids[keras_sampler, "slerp"] - grids[export_sampler, "slerp"]).max() <= 1
  # slerp and linear share the endpoints but not the path.
  middle = slice(RESOLUTION, 3 * RESOLUTION)
  assert np.abs(grids[keras_sampler, "slerp"][:, middle] -
                grids[keras_sampler, "linear"][:, middle]).max() > 5
  with pytest.raises(ValueError, match="slerp"):
    vis.latent_interpolation(keras_sampler, [0], steps, method="cubic")


def test_class_interpolation_blends_cbn_tables(keras_sampler, export_sampler):
  g = keras_sampler.generator
  before = [w.numpy().copy() for w in g.weights]
  z = keras_sampler.noise(4, 2, 0.0)
  alphas = [0.0, 0.5, 1.0]
  blend = keras_sampler.class_blend(z, 1, 3, alphas)
  assert blend.shape == (2, 3, RESOLUTION, RESOLUTION, 3)
  np.testing.assert_allclose(blend[:, 0], keras_sampler.generate(z, [1, 1]), atol=1e-5)
  np.testing.assert_allclose(blend[:, 2], keras_sampler.generate(z, [3, 3]), atol=1e-5)
  assert np.abs(blend[:, 1] - blend[:, 0]).max() > 1e-2
  assert np.abs(blend[:, 1] - blend[:, 2]).max() > 1e-2
  for w, value in zip(g.weights, before):  # the generator itself is untouched
    np.testing.assert_array_equal(w.numpy(), value)
  with pytest.raises(NotImplementedError, match="--workdir"):
    export_sampler.class_blend(z, 1, 3, alphas)


def test_query_index_and_overlay_follow_the_attended_keys():
  # A query at image pixel (y, x) of a 32x32 image is row (y*16//32)*16 + x*16//32 at 16x16.
  assert vis.query_index(0, 0, 32, 16, 16) == 0
  assert vis.query_index(5, 9, 32, 16, 16) == 2 * 16 + 4
  assert vis.query_index(31, 31, 32, 16, 16) == 255
  assert vis.query_index(31, 31, 32, 8, 8) == 63
  # One-hot attention on pooled key (ky, kx) of an 8x8 key grid: the heat sits over that key's
  # 4x4-pixel block of the 32x32 image.
  ky, kx = 2, 6
  row = np.zeros(64, np.float32)
  row[ky * 8 + kx] = 1.0
  image = np.full([32, 32, 3], 128, np.uint8)
  overlay = vis.attention_overlay(image, row, 32).astype(int)
  redness = overlay[..., 0] - overlay[..., 2]
  y, x = np.unravel_index(np.argmax(redness), redness.shape)
  assert ky * 4 <= y < ky * 4 + 4 and kx * 4 <= x < kx * 4 + 4
  assert redness[28, 4] < 0  # far away: cold (blue)


def test_attention_rows_and_figure(tiny, keras_sampler, export_sampler):
  rows = vis.attention_rows(keras_sampler, label=2, seed=0, d_image="real", config=tiny["config"])
  titles = [title for title, _, _ in rows]
  assert titles[0] == "Generator attention16 (generated image, class 2)"
  assert titles[1].startswith("Discriminator attention16 (real image, class ")  # the data's
  assert all(image.shape == (RESOLUTION, RESOLUTION, 3) and maps.shape == (256, 64)
             for _, image, maps in rows)
  np.testing.assert_allclose(rows[0][2].sum(-1), 1.0, atol=1e-4)  # softmax rows
  # The export gives G's row (no D), with the same maps.
  e_rows = vis.attention_rows(export_sampler, label=2, seed=0, d_image="real")
  assert [t for t, _, _ in e_rows] == titles[:1]
  np.testing.assert_allclose(e_rows[0][2], rows[0][2], atol=1e-5)
  figure = vis.attention_figure(rows, POINTS, scale=2, pad=4)
  assert figure.shape == vis.attention_figure_size(2, 3, RESOLUTION, 2, 4) + (3,)
  p = 2 * RESOLUTION
  top = 4 + vis.TITLE_HEIGHT
  panels = [figure[top:top + p, 4 + k * (p + 4):4 + k * (p + 4) + p].astype(int)
            for k in range(1 + len(POINTS))]
  # Panel 0 is the image (marked); panel k the overlay of query point k: they differ, and
  # away from the markers each overlay is attention_overlay of that query's row.
  big = images_lib.upscale(rows[0][1], 2)
  for k, (y, x) in enumerate(POINTS):
    want = vis.attention_overlay(big, rows[0][2][vis.query_index(y, x, 32, 16, 16)], p)
    same = np.all(panels[k + 1] == want, axis=-1)
    assert same.mean() > 0.9, k
  assert np.abs(panels[1] - panels[2]).max() > 20


def test_sample_tool_on_workdir_and_export(tiny, keras_sampler, jobs):
  for key in ("sample_export", "sample_workdir"):
    job, path = jobs[key]
    out = job.check()
    assert "Wrote" in out
  # The export's sheet is the Keras generator's sheet (same seeded noise, classes, labels),
  # at least 512 px wide by default.
  want = vis.sample_grid(keras_sampler, [0, 2, 3], 5, seed=3, truncation=1.5).astype(int)
  assert want.shape[1] >= 512
  for key in ("sample_export", "sample_workdir"):
    assert _png(jobs[key][1]).shape == want.shape
  assert np.abs(_png(jobs["sample_export"][1]) - want).max() <= 1
  tiny_sagan.require_round_trip(tiny)
  assert np.abs(_png(jobs["sample_workdir"][1]) - want).max() <= 1


def test_interpolate_tool(jobs):
  job, path = jobs["interpolate"]
  out = job.check()
  assert "class 1 -> 3" in out and "standing statistics (2 passes of 64" in out
  assert _png(path).shape == images_lib.grid_size(2, 5, 2 * RESOLUTION, 2 * RESOLUTION, 2) + (3,)


def test_visualize_attention_tool(jobs):
  job, path = jobs["attention"]
  out = job.check()
  assert "Generator attention16" in out and "standing statistics (2 passes of 64" in out
  assert "(generated image, class 2)" in out  # --label=ring: the recorded name of class 2
  assert "Discriminator attention16 (real image" in out  # the recorded config's dataset
  assert _png(path).shape == vis.attention_figure_size(2, len(POINTS), RESOLUTION, 2) + (3,)


def test_tools_and_the_export_sample_with_the_same_standing_statistics(tiny, jobs):
  """Defaults on both sides (K overridden alike): the tool re-estimates standing statistics
  from the workdir, the export bakes them; the same seed gives the same grid, also from an
  export that takes at most 8 rows per request (the tools chunk by its limit)."""
  assert "standing statistics (2 passes of 64" in jobs["sample_standing"][0].check()
  standing = _png(jobs["sample_standing"][1]).astype(int)
  out = jobs["sample_standing_export"][0].check()
  assert "standing statistics (2 passes of 64" in out and "at most 8 rows per request" in out
  exported = _png(jobs["sample_standing_export"][1]).astype(int)
  assert np.abs(exported - standing).max() <= 1
  assert _png(jobs["interpolate_export"]).shape == images_lib.grid_size(
      2, 5, RESOLUTION, RESOLUTION, 2) + (3,)
  # ... and not the stored moving statistics' grid.
  moving_sampler = sampler_lib.KerasSampler(tiny["ema_generator"],
                                            bn_stats=bn_stats.BNStats("moving"))
  moving_sampler.class_names = CLASS_NAMES
  moving = vis.sample_grid(moving_sampler, [0, 2, 3], 5, seed=3)
  assert np.abs(moving.astype(int) - standing).max() > 20
  assert "with standing statistics (2 passes of 64" in out  # the export's own report
  meta = exports.read_metadata(os.path.join(jobs["standing_export"], "1"))
  assert meta["bn_stats"] == {"mode": "standing", "batches": 2, "batch_size": 64,
                              "truncation": 0.0, "seed": -1}
  assert meta["max_batch"] == 8 and meta["config"]["g_ch"] == 16
  assert meta["config"]["standing_stats_batches"] == 2
  assert meta["class_names"] == CLASS_NAMES  # recorded with the run, exported with it


def _one_error_line(job):
  """The one 'Error: ...' line of a refused run (exit code 1, no traceback)."""
  rc, _, err = job.result()
  errors = [line for line in err.splitlines() if line.startswith("Error: ")]
  assert rc == 1 and len(errors) == 1 and "Traceback" not in err, err[-3000:]
  return errors[0]


def test_tools_refuse_in_one_line_and_write_nothing(jobs):
  for key, message in (
      ("too_many", "needs 300 images; the limit is --max_batch=256"),
      ("fixed_override", "--config.num_classes=10 (recorded 4): fixed for"),
      ("missing_checkpoint", "ckpt-99: no such checkpoint"),
  ):
    job, path = jobs[key]
    assert message in _one_error_line(job), key
    assert not os.path.exists(path), key
  assert "holds ckpt-7" in _one_error_line(jobs["missing_checkpoint"][0])
