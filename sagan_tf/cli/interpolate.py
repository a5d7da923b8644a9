r"""Latent and class interpolations as a PNG grid (rows = interpolations, columns = steps).

  # latent: fixed class, z moving between two seeded z's (slerp by default), one row per class
  sagan-interpolate --workdir=/tmp/sagan --mode=latent --classes=0,3,5 --steps=8 \
      --out=/tmp/latent.png
  # class: fixed z (one row per --rows), G's conditional-BN gamma/beta blended from class A to B
  sagan-interpolate --workdir=/tmp/sagan --mode=class --classes=0,3 --rows=4 --steps=8 \
      --out=/tmp/class.png

Labels enter G only through per-class gamma/beta tables of the conditional batch norms (there
is no class embedding to interpolate), so class interpolation blends those tables:
(1 - a) * table[A] + a * table[B]; the first column is exactly class A, the last exactly B.
That needs the Keras model (--workdir); on an export (--export_dir), only --mode=latent works.
"""

import sys

from absl import app
from absl import flags

from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

cli_flags.define_source_flags()
flags.DEFINE_enum("mode", "latent", ["latent", "class"], "What to interpolate.")
cli_flags.define_classes("latent mode: the class of each row (default 0); class mode: "
                         "the two classes A,B (default 0,1).")
flags.DEFINE_integer("rows", 4, "class mode: number of z's (rows).")
flags.DEFINE_integer("steps", 8, "Interpolation steps (columns), >= 2, endpoints included.")
flags.DEFINE_enum("method", "slerp", ["slerp", "linear"], "latent mode: z interpolation.")
cli_flags.define_png_flags("interpolation.png")
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
    classes = [int(c) for c in sampler.class_ids(FLAGS.classes)] if FLAGS.classes else None
    if FLAGS.mode == "latent":
      labels = classes or [0]
      sampler.check_labels(labels)
      grid = visualization.latent_interpolation(
          sampler, labels, FLAGS.steps, seed=FLAGS.seed,
          truncation=sources.sample_truncation(sampler), method=FLAGS.method,
          scale=cli_flags.png_scale(sampler.resolution),
          pad=FLAGS.pad)
      what = f"latent ({FLAGS.method}) at classes {labels}"
    else:
      classes = classes or [0, 1]
      if len(classes) != 2:
        raise ValueError(f"--mode=class needs --classes=A,B (two classes), got {classes}.")
      grid = visualization.class_interpolation(
          sampler, classes[0], classes[1], FLAGS.rows, FLAGS.steps, seed=FLAGS.seed,
          truncation=sources.sample_truncation(sampler),
          scale=cli_flags.png_scale(sampler.resolution), pad=FLAGS.pad)
      what = f"class {classes[0]} -> {classes[1]} (CBN blend), {FLAGS.rows} z's"
  except (ValueError, FileNotFoundError, NotImplementedError) as e:
    sys.exit(f"Error: {e}")
  images.save_png(grid, FLAGS.out)
  print(f"Wrote {FLAGS.out} ({grid.shape[1]}x{grid.shape[0]}): {what}, {FLAGS.steps} steps, "
        f"from {sampler.source}")


def run(argv=None):
  cli_flags.run(main, argv, reads_workdir=True)


if __name__ == "__main__":
  run()
