"""Loads TF-GAN's evaluation functions on TensorFlow >= 2.16.

`import tensorflow_gan` fails on TF >= 2.16: the package __init__ imports its estimator module,
which subclasses tf.estimator (removed in TF 2.16). The evaluation code itself,
tensorflow_gan/python/eval/classifier_metrics.py, only needs TensorFlow, TF Probability and its
sibling eval_utils.py, and computes FID, IS and KID correctly on TF 2.21. So instead of running
the package __init__ files we register `tensorflow_gan`, `tensorflow_gan.python` and
`tensorflow_gan.python.eval` in sys.modules as plain namespace modules whose __path__ points at
the installed directories, then import the submodule normally.

If the real package already imported fine (an older TF), it is used as is.

Exposes (TF-GAN's own functions, unchanged):
  classifier_score_from_logits(logits)                              -> Inception Score
  frechet_classifier_distance_from_activations(act1, act2)          -> FID
  kernel_classifier_distance_and_std_from_activations(act1, act2,
      max_block_size=1024, dtype=None)                              -> (KID, its std error)
  kernel_classifier_distance_from_activations(...)                  -> KID
"""

import importlib
import importlib.util
import os
import sys
import types

_PARENTS = ("tensorflow_gan", "tensorflow_gan.python", "tensorflow_gan.python.eval")


def _install_root():
  spec = importlib.util.find_spec("tensorflow_gan")
  if spec is None or not spec.submodule_search_locations:
    raise ImportError("tensorflow-gan is not installed: pip install tensorflow-gan==2.1.0 "
                      "(see requirements.txt).")
  return list(spec.submodule_search_locations)[0]


def _register_namespace_parents():
  """Puts the three parent packages in sys.modules without running their __init__.py."""
  root = _install_root()
  for name in _PARENTS:
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__path__", None):
      continue  # already a package (real or ours)
    rel = name.split(".")[1:]
    path = os.path.join(root, *rel)
    module = types.ModuleType(name, f"Namespace stand-in for {name} (see {__name__}).")
    module.__path__ = [path]
    module.__package__ = name
    module.__file__ = None
    sys.modules[name] = module
    if "." in name:
      parent, child = name.rsplit(".", 1)
      setattr(sys.modules[parent], child, module)


def load_classifier_metrics():
  """Returns the module tensorflow_gan.python.eval.classifier_metrics."""
  name = "tensorflow_gan.python.eval.classifier_metrics"
  if name in sys.modules:
    return sys.modules[name]
  _register_namespace_parents()
  return importlib.import_module(name)


classifier_metrics = load_classifier_metrics()
classifier_score_from_logits = classifier_metrics.classifier_score_from_logits
frechet_classifier_distance_from_activations = (
    classifier_metrics.frechet_classifier_distance_from_activations)
kernel_classifier_distance_and_std_from_activations = (
    classifier_metrics.kernel_classifier_distance_and_std_from_activations)
kernel_classifier_distance_from_activations = (
    classifier_metrics.kernel_classifier_distance_from_activations)
