"""The input pipeline timed alone, on generated photo-like JPEGs stored once per source.

Sources: folder (a folder of JPEG files), tfrecord (the same JPEG bytes in 4 TFRecords), tfds
(a locally built TFDS dataset, JPEG bytes as imagenet2012's), resized_png / resized_jpeg
(TFRecords pre-resized by sagan_tf.data.prepare, as sagan-prepare-tfrecords writes them).
Each is read by sagan_tf.data.build_dataset at the config's resolution and the batch, next to
the images/s the training step consumes.
"""

import os
import tempfile
import time

import numpy as np
from PIL import Image
import tensorflow as tf
import tensorflow_datasets as tfds

from sagan_tf import config as config_lib
from sagan_tf import data
from sagan_tf.benchmark import memory as memory_lib
from sagan_tf.benchmark import report as report_lib
from sagan_tf.data import prepare
from sagan_tf.data import tfrecord

PIPELINE_SOURCES = ("folder", "tfrecord", "tfds", "resized_png", "resized_jpeg")
PIPELINE_CLASSES = 10  # class subfolders of the generated data (labels do not change speed)
PIPELINE_TFDS_NAME = "sagan_benchmark_photos"  # SaganBenchmarkPhotos' registered name
_number = report_lib.number
COLUMNS = (
    report_lib.Column("source", "source"),
    report_lib.Column("stored_as", "stored as"),
    report_lib.Column("mib_on_disk", "MiB on disk", _number(1)),
    report_lib.Column("images_per_s", "images/s", _number(1)),
    report_lib.Column("x_step_consumption", "x step consumption", _number(2)),
    report_lib.Column("at_least_2x", ">= 2x", report_lib.yes_no))


def photo(rng, height, width):
  """A photo-like uint8 [height, width, 3]: a bicubic upsampling of a random coarse colour
  grid (one cell per ~32 px) plus pixel noise (sigma 6 levels), so JPEG sizes are realistic."""
  coarse = rng.integers(0, 256, [height // 32 + 2, width // 32 + 2, 3], dtype=np.uint8)
  image = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), np.float32)
  return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


class SaganBenchmarkPhotos(tfds.core.GeneratorBasedBuilder):
  """The benchmark's generated photos as a TFDS dataset (one 'train' split), read from the
  folder make_pipeline_data writes (class<label>/<index>.jpg), given as the manual dir."""
  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = "The folder of JPEGs sagan_tf.benchmark.pipeline writes."
  # Where the class is defined. TFDS 4.9.10 otherwise finds it through importlib_resources,
  # which it does not install on Python >= 3.9 (github.com/tensorflow/datasets/issues/11212).
  code_path = tfds.core.Path(__file__)

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
        "label": tfds.features.ClassLabel(num_classes=PIPELINE_CLASSES)}))

  def _split_generators(self, dl_manager):
    return {"train": self._generate_examples(dl_manager.manual_dir)}

  def _generate_examples(self, folder):
    for path in sorted(folder.glob("class*/*.jpg")):  # key: the image's index
      yield int(path.stem), {"image": os.fspath(path),
                             "label": int(path.parent.name[len("class"):])}


def build_local_tfds(data_dir, folder_dir):
  """Prepares PIPELINE_TFDS_NAME in data_dir (4 shards) from the JPEG folder folder_dir."""
  tfds.disable_progress_bar()
  builder = SaganBenchmarkPhotos(data_dir=data_dir)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      num_shards=4, manual_dir=folder_dir))
  return builder


def _source_config(resolution, **values):
  """The base config reading a generated source at `resolution` (values: dataset, ...)."""
  config = config_lib.base_config()
  config.update(resolution=resolution, num_classes=PIPELINE_CLASSES, **values)
  return config


def _size_mib(files):
  return sum(os.path.getsize(f) for f in files) / memory_lib.MiB


def _write_folder(folder_dir, num_images, height, width, seed):
  """Writes num_images JPEGs (quality 90) as folder_dir/class<label>/<index>.jpg, labels in
  turn. Returns (paths, labels)."""
  rng = np.random.default_rng(seed)
  paths, labels = [], []
  for i in range(num_images):
    label = i % PIPELINE_CLASSES
    path = os.path.join(folder_dir, f"class{label}", f"{i:05d}.jpg")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(photo(rng, height, width)).save(path, quality=90)
    paths.append(path)
    labels.append(label)
  return paths, labels


def _write_tfrecords(files, paths, labels):
  """Writes each JPEG's bytes and label to files in turn."""
  os.makedirs(os.path.dirname(files[0]), exist_ok=True)
  writers = [tf.io.TFRecordWriter(f) for f in files]
  for i, (path, label) in enumerate(zip(paths, labels)):
    with open(path, "rb") as f:
      writers[i % len(files)].write(tfrecord.serialize_example(f.read(), label))
  for w in writers:
    w.close()


def make_pipeline_data(config, root, sources, num_images, height, width, seed=0):
  """Writes num_images photo-like JPEGs (quality 90, height x width) once per requested source
  under root. Returns {source: (config for it, what is stored, MiB on disk)}."""
  folder_dir = os.path.join(root, "folder")
  paths, labels = _write_folder(folder_dir, num_images, height, width, seed)
  full, res = f"{width}x{height} JPEG q90", config.resolution
  made = {}
  folder_cfg = _source_config(res, dataset="folder", data_dir=folder_dir)
  if "folder" in sources:
    made["folder"] = (folder_cfg, f"{full} files", _size_mib(paths))
  if "tfrecord" in sources:
    files = [os.path.join(root, "tfrecord", f"full-{s}.tfrecord") for s in range(4)]
    _write_tfrecords(files, paths, labels)
    made["tfrecord"] = (_source_config(res, dataset="tfrecord",
                                       data_dir=os.path.join(root, "tfrecord", "*")),
                        f"{full} in 4 TFRecords", _size_mib(files))
  if "tfds" in sources:
    tfds_dir = os.path.join(root, "tfds")
    build_local_tfds(tfds_dir, folder_dir)
    files = [os.path.join(d, f) for d, _, fs in os.walk(tfds_dir) for f in fs]
    made["tfds"] = (_source_config(res, dataset="tfds", tfds_name=PIPELINE_TFDS_NAME,
                                   data_dir=tfds_dir),
                    f"{full}, TFDS (4 shards)", _size_mib(files))
  for fmt in ("png", "jpeg"):
    if f"resized_{fmt}" in sources:
      prefix = os.path.join(root, f"resized_{fmt}", "train")
      _, files = prepare.write_resized_shards(folder_cfg, prefix, 4, fmt)
      made[f"resized_{fmt}"] = (
          _source_config(res, dataset="tfrecord", data_dir=f"{prefix}-*.tfrecord"),
          f"{res} px {fmt.upper()} in 4 TFRecords (sagan-prepare-tfrecords)",
          _size_mib(files))
  return made


def time_pipeline(config, batch, seconds, warmup_batches=5):
  """Images/s of sagan_tf.data.build_dataset(config, batch) alone: batches drawn as fast as
  it gives them for `seconds` after warmup_batches (the training input, prefetch included)."""
  iterator = iter(data.build_dataset(config, batch))
  for _ in range(warmup_batches):
    next(iterator)
  count, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    next(iterator)
    count += 1
  return count * batch / (time.perf_counter() - start)


def pipeline_table(report, config, batch, sources, num_images, size, seconds, root, step_rows):
  """Times each source's pipeline on generated images of size (width, height) stored under
  root; prints a table next to the step's images/s (the first 'function' row of step_rows, an
  iteration rows dict). Returns {source: images/s}."""
  step_label = next((label for label in step_rows if label.startswith("function")),
                    next(iter(step_rows)))
  consumed = step_rows[step_label]["images_per_s"]
  made = make_pipeline_data(config, root, sources, num_images, height=size[1], width=size[0])
  report.line("")
  report.line(f"Input pipeline alone (sagan_tf.data.build_dataset at {config.resolution} px, "
              f"batch {batch}, {num_images} generated photo-like images, {seconds:g} s per "
              f"source after 5 batches; {os.cpu_count()} logical cores) vs the training step's "
              f"consumption ({step_label}: {consumed:,.1f} images/s)")
  report.line("")
  table = report.table("pipeline", COLUMNS)
  results = {}
  for source in sources:
    source_cfg, stored, mib = made[source]
    rate = time_pipeline(source_cfg, batch, seconds)
    results[source] = rate
    table.add(dict(source=source, stored_as=stored, mib_on_disk=mib, images_per_s=rate,
                   x_step_consumption=rate / consumed, at_least_2x=rate >= 2 * consumed))
  report.line("")
  report.line("images/s = images per second the pipeline delivers with nothing else running in "
              "the process (decode, central square, antialiased resize, [-1, 1], shuffle, batch, "
              "prefetch; tf.data AUTOTUNE parallelism over all cores). In training it shares the "
              "cores with the step. x step consumption = images/s / the step's images/s above.")
  return results


def run_pipeline(report, config, batch, sources, num_images, size, seconds, step_rows):
  """pipeline_table with the generated data in a temporary directory, deleted after."""
  with tempfile.TemporaryDirectory(prefix="sagan_pipeline_") as root:
    return pipeline_table(report, config, batch, sources, num_images, size, seconds, root,
                          step_rows)
