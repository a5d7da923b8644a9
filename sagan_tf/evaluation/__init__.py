"""Evaluation: FID and KID from the main network (Inception or a stand-in), IS from any network
with logits, class accuracy from a network with the dataset's classes (the main one or an
optional class network), and the symmetry metric of generated images, against cached real-data
statistics, for one checkpoint or continuously; the best checkpoint kept in WORKDIR/best/.

  evaluate_and_write(config, workdir, checkpoint_path=None)   one checkpoint (default latest)
  run_continuous(config, workdir, timeout_secs, poll_secs)     new checkpoints, newest first
    (both: keep_best=None|True|False, which results may keep WORKDIR/best/)
  apply_overrides(config, num_samples=, classifier_path=, class_classifier_path=, use_ema=,
                  truncation=, ...)
  Evaluator(config, workdir)                                   networks + real statistics
  Classifier(classifier_path)                                  Inception or a stand-in
WORKDIR/eval/results.jsonl is read and written by sagan_tf.store.results. See evaluator.py for
the output files, the network names and the best-checkpoint rule, and metrics.py for the
sample-size policy.
"""

from sagan_tf.evaluation.classifier import Classifier, ClassifierError, INCEPTION_TFHUB
from sagan_tf.evaluation.evaluator import (
    apply_overrides, evaluate_and_write, Evaluator, INCEPTION, run_continuous, STANDIN)

__all__ = ["apply_overrides", "Classifier", "ClassifierError", "evaluate_and_write", "Evaluator",
           "INCEPTION", "INCEPTION_TFHUB", "run_continuous", "STANDIN"]
