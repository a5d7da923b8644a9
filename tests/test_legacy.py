"""A workdir and an export written before the layout change (tests/fixtures/legacy_0_1, made
by its make.py at commit 9103ae7) still load and give the images they gave then."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import sampling
from sagan_tf import visualization
from sagan_tf.store import checkpoints
from sagan_tf.store import exports
from sagan_tf.store import record

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "legacy_0_1")
# The reference images were computed on another CPU: oneDNN picks its float32 kernels by
# instruction set (AVX2, AVX-512, AMX), which sum in other orders. 1e-5 in images in [-1, 1]
# (seen: 1.4e-6 on AMD EPYC with AVX-512); a changed weight or op moves them by 1e-2 or more.
ATOL = 1e-5


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
  root = tmp_path_factory.mktemp("legacy")
  shutil.copytree(FIXTURE, root, dirs_exist_ok=True)  # tests never write into the fixture
  reference = np.load(os.path.join(root, "reference.npz"))
  return dict(workdir=str(root / "workdir"), export=str(root / "export"),
              reference={k: reference[k] for k in reference.files})


def test_old_checkpoint_restores_and_samples_the_same_images(legacy):
  config = record.workdir_config(legacy["workdir"])
  restored = checkpoints.restore_models(config, legacy["workdir"])
  assert restored["step"] == 3
  ref = legacy["reference"]
  images = restored["ema_generator"](tf.constant(ref["z"]), tf.constant(ref["labels"]),
                                     training=False, update_u=False)
  np.testing.assert_allclose(images.numpy(), ref["ema_moving_images"], atol=ATOL)


def test_old_export_loads_and_serves_the_same_images(legacy):
  path = exports.resolve_version_dir(legacy["export"])
  assert exports.read_metadata(path)["max_batch"] == 16
  sampler = sampling.load_sampler(export_dir=legacy["export"])
  ref = legacy["reference"]
  np.testing.assert_allclose(sampler.noise(5, 4), ref["z"], atol=0)
  np.testing.assert_allclose(sampler.generate(ref["z"], ref["labels"]), ref["export_images"],
                             atol=ATOL)


def test_old_workdir_sampled_as_its_export_was_made_gives_the_export_images(legacy):
  """Standing statistics re-estimated by today's code equal those the old export baked."""
  config = record.workdir_config(legacy["workdir"])
  stats = sampling.BNStats(mode="standing", batches=2, batch_size=8)
  sampler = sampling.load_sampler(config=config, workdir=legacy["workdir"], bn_stats=stats)
  ref = legacy["reference"]
  np.testing.assert_allclose(sampler.generate(ref["z"], ref["labels"]), ref["export_images"],
                             atol=ATOL)


def test_old_runs_without_class_names_label_rows_by_index(legacy):
  config = record.workdir_config(legacy["workdir"])
  stats = sampling.BNStats(mode="moving")
  for sampler in (sampling.load_sampler(config=config, workdir=legacy["workdir"], bn_stats=stats),
                  sampling.load_sampler(export_dir=legacy["export"])):
    assert sampler.class_names is None
    assert list(sampler.class_ids(["1", 0])) == [1, 0]  # ids still work
    with pytest.raises(ValueError, match="Unknown class 'disk'.*recorded no class names"):
      sampler.class_ids(["disk"])
    sheet = visualization.sample_grid(sampler, [0, 1], 2, scale=1)
    layout = visualization.SheetLayout(2, 2, sampler.resolution, ["0", "1"], scale=1)
    assert sheet.shape == (layout.height, layout.width, 3)  # labelled "0" and "1"
