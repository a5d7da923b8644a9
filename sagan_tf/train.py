"""The training binary.

  python -m sagan_tf.train --config=experiments/cpu_demo.py --workdir=/tmp/sagan_demo \
      [--config.num_train_steps=400] [--strategy=mirrored --num_cpu_devices=2] [--tpu=NAME]
"""

import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from sagan_tf import config as config_lib
from sagan_tf.training import strategy as strategy_lib

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Experiment config file (experiments/*.py).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, TensorBoard events, config.")
flags.DEFINE_enum("strategy", "default", strategy_lib.STRATEGIES, "tf.distribute strategy.")
flags.DEFINE_integer("num_cpu_devices", 0,
                     "With --strategy=mirrored and no GPU: logical CPU devices (testing).")
flags.DEFINE_string("tpu", None, "TPU name or address; implies --strategy=tpu.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from sagan_tf.training.loop import train_and_evaluate  # after flags: device setup first
  name = "tpu" if FLAGS.tpu is not None else FLAGS.strategy
  strategy = strategy_lib.get_strategy(name, FLAGS.num_cpu_devices, FLAGS.tpu or "")
  train_and_evaluate(FLAGS.config, FLAGS.workdir, strategy)


def run():
  config_lib.check_overrides(sys.argv)
  app.run(main)


if __name__ == "__main__":
  run()
