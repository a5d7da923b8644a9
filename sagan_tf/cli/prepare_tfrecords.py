"""Writes a dataset once as TFRecord shards pre-resized to the config's resolution (the authors'
approach: ImageNet pre-resized to 128 px), so training decodes small images instead of decoding
and resizing full-size ones every step.

  sagan-prepare-tfrecords --config=experiments/imagenet128.py \
      --config.dataset=folder --config.data_dir=/data/imagenet/train \
      --output=/data/imagenet128/train [--num_shards=64] [--format=png] [--max_examples=0]

Reads the source exactly as training preprocesses it (config.dataset folder | tfds | tfrecord,
with data_dir, split, tfds_name, num_classes, resolution), stores each image as uint8 PNG
(default, lossless: within half a level of the on-the-fly value) or JPEG, and writes
'<output>-00000-of-000NN.tfrecord', ... (sagan_tf/data/prepare.py). Train on them with
--config.dataset=tfrecord --config.data_dir='<output>-*.tfrecord' (same resolution).
"""

import os
import time

from absl import app
from absl import flags
from absl import logging

from sagan_tf import choices
from sagan_tf import config as config_lib
from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

# Its dataset, data_dir, split, resolution and num_classes are used.
cli_flags.define_config(required=True)
_OUTPUT = flags.DEFINE_string("output", None, "Output path prefix of the shards.")
_SHARDS = flags.DEFINE_integer("num_shards", 16, "Number of TFRecord files.", lower_bound=1)
_FORMAT = flags.DEFINE_enum("format", "png", list(choices.TFRECORD_IMAGE_FORMATS),
                            "png: lossless; jpeg: smaller files, lossy (quality 95).")
_SPLIT = flags.DEFINE_string("split", None, "TFDS split (default config.split).")
_MAX = flags.DEFINE_integer("max_examples", 0, "Write at most this many records (0: all).",
                            lower_bound=0)
flags.mark_flag_as_required("output")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  start = time.perf_counter()
  try:
    config = config_lib.validate(flags.FLAGS.config)
    with quiet.startup():  # TensorFlow's start-up noise silenced
      # deferred: TensorFlow loads here, after the flags are parsed (--help stays fast).
      from sagan_tf.data import prepare  # deferred: keeps --help free of TensorFlow
    count, paths = prepare.write_resized_shards(
        config, _OUTPUT.value, _SHARDS.value, _FORMAT.value, split=_SPLIT.value,
        max_examples=_MAX.value, log=logging.info)
  except (ValueError, FileNotFoundError) as e:  # bad config / data / output: one line
    raise SystemExit(f"prepare_tfrecords: {e}") from None
  seconds = time.perf_counter() - start
  size = sum(os.path.getsize(p) for p in paths if os.path.exists(p))
  print(f"Wrote {count:,} records ({config.resolution}x{config.resolution} {_FORMAT.value}, "
        f"{size / 2**20:,.1f} MiB) in {len(paths)} shard(s) {paths[0]} ... in {seconds:.1f} s.")
  print(f"Train with: --config.dataset=tfrecord --config.data_dir='{_OUTPUT.value}-*.tfrecord' "
        f"--config.resolution={config.resolution} --config.num_classes={config.num_classes}")


def run(argv=None):
  cli_flags.run(main, argv)


if __name__ == "__main__":
  run()
