r"""Which classes a conditional G draws: a stand-in classifier's accuracy per class, per checkpoint.

  python tools/class_accuracy.py WORKDIR CLASSIFIER [--steps=2500,15000] [--per_class=500] \
      [--seed=0]

WORKDIR is a training workdir (its recorded config and checkpoints/), CLASSIFIER a SavedModel
with 'logits' for the dataset's classes (sagan-train-classifier's stand-in). For each checkpoint
(every kept one, oldest first, or --steps) G draws --per_class images of every class, the EMA
generator with the evaluation's BN statistics (the workdir config's eval_use_ema and
sample_bn_stats, as sagan-sample draws), from the same seeded latents for every class and
checkpoint. One markdown row per checkpoint: the step, the mean over classes, then the fraction
of each class's images the classifier assigns to that class. The evaluation job's
standin/class_accuracy is one number over all classes; a class G has lost (or draws as another)
shows here as a column near 0. A classifier can be fooled: a column near 1 says the classifier
takes the images for the class, not that they look like it (look at the sheets too).
"""

import argparse
import os
import sys

import numpy as np

from sagan_tf.cli import quiet

with quiet.startup():  # TensorFlow's start-up noise silenced
  from sagan_tf import config as config_lib
  from sagan_tf import sampling
  from sagan_tf.evaluation import metrics
  from sagan_tf.evaluation.classifier import Classifier, ClassifierError
  from sagan_tf.store import checkpoints as checkpoint_lib
  from sagan_tf.store import record

def checkpoint_paths(workdir, steps):
  """The checkpoints to score: every kept one, oldest first, or those of `steps` (ValueError
  naming a step that is not kept, with the kept ones)."""
  kept = {checkpoint_lib.checkpoint_step(p): p for p in checkpoint_lib.list_checkpoints(workdir)}
  if not kept:
    raise ValueError(f"{workdir} has no checkpoints (WORKDIR/checkpoints/): give a training "
                     "workdir that has saved one.")
  if not steps:
    return [kept[s] for s in sorted(kept)]
  wanted = []
  for step in steps:
    try:
      wanted.append(kept[int(step)])
    except (ValueError, KeyError):
      raise ValueError(f"--steps: {step!r} is not a kept checkpoint of {workdir} (kept: "
                       f"{', '.join(map(str, sorted(kept)))}).") from None
  return wanted


def accuracy_row(sampler, classifier, z):
  """Per-class accuracy [num_classes]: the fraction of G's images of class c (latents z,
  [per_class, z_dim]) the classifier's argmax assigns to c."""
  accuracy = []
  for c in range(sampler.num_classes):
    labels = np.full([len(z)], c)
    logits, _ = classifier(sampler.generate(z, labels))
    accuracy.append(metrics.class_accuracy(np.asarray(logits), labels))
  return np.array(accuracy)


def table(workdir, classifier_path, steps=(), per_class=500, seed=0):
  """The markdown table (header, then a row per checkpoint); ValueError / FileNotFoundError
  naming a bad workdir, classifier, step or size before any image is drawn."""
  if per_class < 1:
    raise ValueError(f"--per_class must be >= 1, got {per_class}.")
  if not os.path.isdir(workdir):
    raise FileNotFoundError(f"WORKDIR {workdir} is not a directory: give a training workdir.")
  config = config_lib.validate(record.workdir_config(workdir))
  if not config.num_classes:
    raise ValueError(f"{workdir} trained an unconditional G (num_classes = 0): there are no "
                     "classes to score.")
  paths = checkpoint_paths(workdir, steps)
  classifier = Classifier(classifier_path)
  num_logits, _ = classifier.probe(config.resolution)
  if num_logits != config.num_classes:
    raise ValueError(f"{classifier_path} has {num_logits or 'no'} logits; {workdir} has "
                     f"{config.num_classes} classes: give a stand-in trained on its dataset "
                     "(sagan-train-classifier with the workdir's config).")
  names = record.class_names(workdir) or [str(c) for c in range(config.num_classes)]
  lines = ["| step | mean | " + " | ".join(names) + " |",
           "|---|---|" + "---|" * len(names)]
  for path in paths:
    sampler = sampling.load_sampler(config=config, workdir=workdir, checkpoint=path,
                                    use_ema=config.eval_use_ema,
                                    bn_stats=sampling.settings.bn_stats(config),
                                    max_batch=per_class)
    z = sampler.noise(seed, per_class)
    accuracy = accuracy_row(sampler, classifier, z)
    lines.append(f"| {checkpoint_lib.checkpoint_step(path)} | {accuracy.mean():.3f} | "
                 + " | ".join(f"{a:.2f}" for a in accuracy) + " |")
    print(lines[-1], file=sys.stderr, flush=True)  # progress: a checkpoint takes a while
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("workdir", help="a training workdir")
  parser.add_argument("classifier", help="a stand-in SavedModel with the dataset's logits")
  parser.add_argument("--steps", default="",
                      help="comma-separated checkpoint steps (default: every kept checkpoint)")
  parser.add_argument("--per_class", type=int, default=500,
                      help="images per class and checkpoint")
  parser.add_argument("--seed", type=int, default=0,
                      help="seed of the latents (the same for every class and checkpoint)")
  args = parser.parse_args(argv)
  steps = [s for s in args.steps.split(",") if s.strip()]
  try:
    text = table(args.workdir, args.classifier, steps, args.per_class, args.seed)
  except (ValueError, FileNotFoundError, ClassifierError) as e:
    print(f"Error: {e}", file=sys.stderr)
    return 1
  print(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
