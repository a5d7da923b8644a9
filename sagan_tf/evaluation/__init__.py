"""Evaluation: IS, FID, KID (TF-GAN's functions), class accuracy and the symmetry metric of
generated images, against cached real-data statistics, for one checkpoint or continuously.

  evaluate_and_write(config, workdir, checkpoint_path=None)   one checkpoint (default latest)
  run_continuous(config, workdir, timeout_secs, poll_secs)     every new checkpoint once
  apply_overrides(config, num_samples=, classifier_path=, use_ema=, truncation=)
  Evaluator(config, workdir)                                   classifier + real statistics
  Classifier(classifier_path)                                  Inception or a stand-in
  read_results(workdir), results_path(workdir), eval_dir(workdir)
See evaluator.py for the output files and metrics.py for the sample-size policy.
"""

from sagan_tf.evaluation.classifier import Classifier, ClassifierError, INCEPTION_TFHUB
from sagan_tf.evaluation.evaluator import (
    apply_overrides, eval_dir, evaluate_and_write, Evaluator, read_results, results_path,
    run_continuous)

__all__ = ["apply_overrides", "Classifier", "ClassifierError", "eval_dir", "evaluate_and_write",
           "Evaluator", "INCEPTION_TFHUB", "read_results", "results_path", "run_continuous"]
