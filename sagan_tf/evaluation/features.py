"""Images -> classifier outputs: the one loop the evaluation runs real and generated images
through."""

import numpy as np

from sagan_tf.data import symmetry_error
from sagan_tf.evaluation.progress import Progress


def collect_outputs(batches, classifier, total, desc, with_symmetry):
  """Runs (images, labels) batches through the classifier.

  Returns dict pool_3 float32 [N, D], logits float32 [N, K], labels int32 [N] and symmetry
  float32 [N] (the per-image symmetry_error) or None.
  """
  pools, logits, labels, sym = [], [], [], []
  progress = Progress(total, desc)
  for images, y in batches:
    lg, pl = classifier(images)
    pools.append(pl)
    logits.append(lg)
    labels.append(np.asarray(y, np.int32))
    if with_symmetry:
      sym.append(symmetry_error(images).numpy())
    progress.update(len(pl))
  if not pools:
    raise ValueError(f"{desc}: no images.")
  return dict(pool_3=np.concatenate(pools), logits=np.concatenate(logits),
              labels=np.concatenate(labels),
              symmetry=np.concatenate(sym) if with_symmetry else None)
