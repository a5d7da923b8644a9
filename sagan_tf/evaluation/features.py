"""Images -> classifier outputs: the one loop the evaluation runs real and generated images
through, every network in the same pass."""

import numpy as np

from sagan_tf.data import symmetry_error
from sagan_tf.evaluation.classifier import LOGITS, POOL
from sagan_tf.evaluation.progress import Progress


def collect_outputs(batches, classifiers, total, desc, with_symmetry):
  """Runs (images, labels) batches through every classifier of `classifiers` ({name:
  Classifier}), each batch once through all.

  Returns {name: dict(pool_3 float32 [N, D] and / or logits float32 [N, K] (those the network
  has), labels int32 [N], symmetry float32 [N] (the per-image symmetry_error) or None)}; the
  networks share the labels and symmetry arrays.
  """
  outs = {name: {LOGITS: [], POOL: []} for name in classifiers}
  labels, sym = [], []
  progress = Progress(total, desc)
  for images, y in batches:
    for name, classifier in classifiers.items():
      logits, pool = classifier(images)
      outs[name][LOGITS].append(logits)
      outs[name][POOL].append(pool)
    labels.append(np.asarray(y, np.int32))
    if with_symmetry:
      sym.append(symmetry_error(images).numpy())
    progress.update(len(labels[-1]))
  if not labels:
    raise ValueError(f"{desc}: no images.")
  labels = np.concatenate(labels)
  sym = np.concatenate(sym) if with_symmetry else None
  result = {}
  for name, parts in outs.items():
    result[name] = {k: np.concatenate(v) for k, v in parts.items() if v[0] is not None}
    result[name].update(labels=labels, symmetry=sym)
  return result
