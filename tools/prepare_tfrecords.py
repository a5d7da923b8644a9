"""Writes a dataset once as TFRecord shards pre-resized to the config's resolution (the authors'
approach: ImageNet pre-resized to 128 px), so training decodes small images instead of decoding
and resizing full-size ones every step.

  python tools/prepare_tfrecords.py --config=experiments/imagenet128.py \
      --config.dataset=folder --config.data_dir=/data/imagenet/train \
      --output=/data/imagenet128/train [--num_shards=64] [--format=png] [--max_examples=0]

Reads the source exactly as training preprocesses it (config.dataset folder | tfds | tfrecord,
with data_dir, split, tfds_name, num_classes, resolution), stores each image as uint8 PNG
(default, lossless: within half a level of the on-the-fly value) or JPEG, and writes
'<output>-00000-of-000NN.tfrecord', ... (sagan_tf/data/prepare.py). Train on them with
--config.dataset=tfrecord --config.data_dir='<output>-*.tfrecord' (same resolution).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from sagan_tf import config as config_lib  # noqa: E402
from sagan_tf.data import prepare  # noqa: E402
from sagan_tf.data import tfrecord  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config (dataset, data_dir, "
                                          "split, resolution, num_classes are used).",
                                          lock_config=True)
_OUTPUT = flags.DEFINE_string("output", None, "Output path prefix of the shards.")
_SHARDS = flags.DEFINE_integer("num_shards", 16, "Number of TFRecord files.", lower_bound=1)
_FORMAT = flags.DEFINE_enum("format", "png", list(tfrecord.IMAGE_FORMATS),
                            "png: lossless; jpeg: smaller files, lossy (quality "
                            f"{tfrecord.JPEG_QUALITY}).")
_SPLIT = flags.DEFINE_string("split", None, "TFDS split (default config.split).")
_MAX = flags.DEFINE_integer("max_examples", 0, "Write at most this many records (0: all).",
                            lower_bound=0)
flags.mark_flags_as_required(["config", "output"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  start = time.perf_counter()
  try:
    config = config_lib.validate(_CONFIG.value)
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


if __name__ == "__main__":
  config_lib.check_overrides(sys.argv)
  app.run(main)
