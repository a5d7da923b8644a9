"""Trains a small CNN classifier on a project dataset and exports it with the Inception
module's interface, for FID / KID / IS / class accuracy where Inception weights are unavailable.

  sagan-train-classifier --config=experiments/cpu_demo.py --output_dir=DIR \
      [--num_steps=1000] [--batch_size=64] [--feature_dim=128] [--config.KEY=VALUE ...]

Reads the data exactly as training does (sagan_tf.data.build_dataset with the config), trains
for --num_steps batches, reports accuracy on --eval_examples evaluation examples
(sagan_tf.data.build_eval_dataset: held out for the synthetic dataset, a seed stream training
never sees, and for a TFDS split other than the training one; folders and TFRecords have no
splits, so there it is the accuracy on training images, printed as training_accuracy) and
writes a SavedModel to --output_dir: model(images float32 [B, H, W, 3] in [-1, 1]) ->
{'logits': [B, num_classes], 'pool_3': [B, feature_dim]}. Use it with
sagan-evaluate --classifier_path=DIR.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging

from sagan_tf import config as config_lib
from sagan_tf.cli import flags as cli_flags
from sagan_tf.cli import quiet

cli_flags.define_config(required=True)  # its dataset, resolution and num_classes are used
_OUTPUT = flags.DEFINE_string("output_dir", None, "Where to write the SavedModel.")
_STEPS = flags.DEFINE_integer("num_steps", 1000, "Training batches (cpu_demo: 500 give about "
                             "99% held-out accuracy in about a minute on 2 cores).")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size.")
_LR = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
_WIDTH = flags.DEFINE_integer("width", 32, "Channels of the first conv stage.")
_FEATURES = flags.DEFINE_integer("feature_dim", 128, "Size of the 'pool_3' features.")
_EVAL_EXAMPLES = flags.DEFINE_integer("eval_examples", 1000, "Held-out examples for accuracy.")
_EVAL_SPLIT = flags.DEFINE_string("eval_split", None, "Held-out split (default "
                                  "config.eval_split).")
flags.mark_flag_as_required("output_dir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_lib.validate(flags.FLAGS.config)
  with quiet.startup():  # TensorFlow's start-up noise silenced
    # deferred: TensorFlow loads here, after the flags are parsed (--help stays fast).
    import keras  # deferred: keeps --help free of TensorFlow
    from sagan_tf import data  # deferred: keeps --help free of TensorFlow
    from sagan_tf.evaluation import standin  # deferred: keeps --help free of TensorFlow
  data.check_config(config)
  split = _EVAL_SPLIT.value or config.eval_split
  held_out = data.eval_data_is_held_out(config, split)
  if config.dataset == "tfds" and not held_out:
    logging.warning("Held-out split %r is the training split: the accuracy is not held-out. "
                    "Pass --eval_split=test (or another split).", split)
  elif not held_out:
    logging.warning("A %s dataset has no held-out split: the accuracy is measured on training "
                    "images (how well the classifier fits them, not how it generalizes).",
                    config.dataset)
  keras.utils.set_random_seed(config.seed)
  model = standin.build_classifier_model(config.resolution, config.num_classes,
                                         width=_WIDTH.value, feature_dim=_FEATURES.value,
                                         seed=config.seed)
  loss = standin.train_classifier(model, data.build_dataset(config, _BATCH.value),
                                  _STEPS.value, learning_rate=_LR.value)
  eval_data = data.build_eval_dataset(config, _BATCH.value, _EVAL_EXAMPLES.value, split=split)
  acc = standin.accuracy(model, eval_data)
  standin.export_classifier(model, config.resolution, _OUTPUT.value)
  name = "held_out_accuracy" if held_out else "training_accuracy"
  summary = dict(final_loss=loss, num_steps=_STEPS.value, **{name: acc},
                 dataset=config.dataset, resolution=config.resolution,
                 num_classes=config.num_classes, feature_dim=_FEATURES.value,
                 eval_split=split, eval_examples=_EVAL_EXAMPLES.value)
  with open(os.path.join(_OUTPUT.value, "classifier_info.json"), "w") as f:
    json.dump(summary, f, indent=2, sort_keys=True)
  source = {"synthetic": "the evaluation seed stream", "tfds": f"split {split!r}"}.get(
      config.dataset, "the training files")
  logging.info("%s %.4f (%d examples of %s); SavedModel written to %s",
               "Held-out accuracy" if held_out else "Accuracy on training images", acc,
               _EVAL_EXAMPLES.value, source, _OUTPUT.value)
  print(f"{name}={acc:.4f} saved_model={_OUTPUT.value}")


def run(argv=None):
  cli_flags.run(main, argv)


if __name__ == "__main__":
  run()
