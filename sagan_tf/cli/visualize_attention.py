r"""Attention maps in the style of the SAGAN paper's figures, as a PNG.

  sagan-visualize-attention --workdir=/tmp/sagan --label=3 --points="8,8;16,24" \
      --out=/tmp/attention.png
  sagan-visualize-attention --export_dir=/tmp/sagan_export --out=/tmp/attention.png

One row per attention layer: G's layers on a generated image (class --label, a recorded class
name or an id; seeded noise), then (with --workdir) D's layers on a real image from the config's
dataset (sagan_tf.data.build_dataset; --d_image=generated or none to change). Each row shows
the image with the query points marked, then for each point the attention map of that query
(over the 2x2-pooled keys) upsampled to the image size and overlaid, marked with the same
colour.
A point at image pixel (y, x) is the layer's query row (y * H // R) * W + (x * W // R).
"""

import sys

from absl import app
from absl import flags

from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

cli_flags.define_source_flags()
flags.DEFINE_string("label", "0", "Class of the generated image: a class name the run "
                    "recorded (e.g. disk) or an id.")
flags.DEFINE_string("points", None, "Query points 'y,x;y,x' in image pixels (default: 4 "
                    "points spread over the image).")
flags.DEFINE_integer("num_points", 4, "Number of default points when --points is not given.")
flags.DEFINE_enum("d_image", "real", ["real", "generated", "none"],
                  "D's input (workdir only): a real image from the dataset (falls back to the "
                  "generated one if the data cannot be loaded), the generated image, or no D.")
cli_flags.define_png_flags("attention.png", default_scale=0)
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
    r = sampler.resolution
    points = (visualization.parse_points(FLAGS.points, r) if FLAGS.points
              else visualization.default_points(r, FLAGS.num_points))
    scale = cli_flags.png_scale(r)
    label = int(sampler.class_ids([FLAGS.label])[0])
    rows = visualization.attention_rows(sampler, label=label, seed=FLAGS.seed,
                                        truncation=sources.sample_truncation(sampler),
                                        d_image=FLAGS.d_image, config=sampler.config)
    if not rows:
      raise ValueError(f"{sampler.source} has no attention layers.")
    figure = visualization.attention_figure(rows, points, scale=scale)
  except (ValueError, FileNotFoundError, NotImplementedError) as e:
    sys.exit(f"Error: {e}")
  images.save_png(figure, FLAGS.out)
  print(f"Wrote {FLAGS.out} ({figure.shape[1]}x{figure.shape[0]}): "
        f"{[title for title, _, _ in rows]}, points {points}, from {sampler.source}")


def run(argv=None):
  cli_flags.run(main, argv, reads_workdir=True)


if __name__ == "__main__":
  run()
