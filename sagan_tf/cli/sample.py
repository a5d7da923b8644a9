r"""Writes a grid of generated samples by class: rows = classes, columns = samples.

  sagan-sample --workdir=/tmp/sagan --classes=0,1,2 --per_class=8 --truncation=0 \
      --seed=0 --out=/tmp/samples.png [--bn_stats=standing|moving|batch] [--use_ema=false]
  sagan-sample --export_dir=/tmp/sagan_export --per_class=8 --out=/tmp/samples.png

Noise is sagan_tf.sampling.noise.seeded_noise(seed, ...), the one the exported
generate_from_seed signature uses; a workdir is sampled with standing BN statistics by default,
as its export bakes them, so a workdir and its export give the same grid.
The PNG is a sample sheet (sagan_tf/visualization.py, the layout of the training image steps):
one row per class, its id and recorded name at the row's start, upscaled without smoothing,
by default (--scale=0) to at least 512 px wide. With P = R * scale: rows * P + (rows + 1) * pad
high, label column + per_class * P + (per_class + 1) * pad wide. --classes takes class ids or
the names the run recorded (e.g. --classes=disk,ring; id:N and name:X say which, docs/tools.md).
"""

import sys

from absl import app
from absl import flags

from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

cli_flags.define_source_flags()
cli_flags.define_classes("one row each (default: 0..min(16, classes)-1; an unconditional "
                         "model draws one row).")
flags.DEFINE_integer("per_class", 8, "Samples per class (columns).")
flags.DEFINE_bool("shared_z", False, "Use the same z in every row (compare classes).")
cli_flags.define_png_flags("samples.png", default_scale=0)
FLAGS = flags.FLAGS


def main(argv, overrides):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  with quiet.startup():  # TensorFlow's start-up noise silenced
    # deferred: TensorFlow loads here, after the flags are parsed (--help stays fast).
    from sagan_tf import visualization  # deferred: keeps --help free of TensorFlow
    from sagan_tf.cli import sources  # deferred: keeps --help free of TensorFlow
    from sagan_tf.store import images  # deferred: keeps --help free of TensorFlow
  try:
    sampler = sources.sampler_from_flags(overrides)
    classes = [int(c) for c in (sampler.class_ids(FLAGS.classes) if FLAGS.classes
                                else visualization.sheet_classes(sampler.num_classes))]
    sampler.check_labels(classes)
    if FLAGS.per_class < 1:
      raise ValueError("--per_class must be >= 1.")
    grid = visualization.sample_grid(sampler, classes, FLAGS.per_class, seed=FLAGS.seed,
                                     truncation=sources.sample_truncation(sampler),
                                     shared_z=FLAGS.shared_z, scale=FLAGS.scale or None,
                                     pad=FLAGS.pad)
  except (ValueError, FileNotFoundError, NotImplementedError) as e:
    sys.exit(f"Error: {e}")
  images.save_png(grid, FLAGS.out)
  shown = [visualization.class_label(c, sampler.class_names) for c in classes]
  print(f"Wrote {FLAGS.out} ({grid.shape[1]}x{grid.shape[0]}): classes {shown}, "
        f"{FLAGS.per_class} per class, from {sampler.source}")


def run(argv=None):
  cli_flags.run(main, argv, reads_workdir=True)


if __name__ == "__main__":
  run()
