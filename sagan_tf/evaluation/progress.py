"""Progress lines for long passes and the shared "images -> classifier outputs" loop."""

import time

from absl import logging
import numpy as np

from sagan_tf.data import symmetry_error


class Progress:
  """Logs `desc: done/total images (p%), R images/s, ETA Ts` about every 10% of a pass."""

  def __init__(self, total, desc, every_fraction=0.1):
    self.total, self.desc = int(total), desc
    self.step = max(1, int(self.total * every_fraction))
    self.done, self._next = 0, self.step
    self.start = time.time()

  def update(self, n):
    self.done += int(n)
    if self.done >= self._next or self.done >= self.total:
      elapsed = max(time.time() - self.start, 1e-9)
      rate = self.done / elapsed
      eta = max(self.total - self.done, 0) / max(rate, 1e-9)
      logging.info("%s: %d/%d images (%.0f%%), %.1f images/s, ETA %.0fs", self.desc, self.done,
                   self.total, 100.0 * self.done / max(self.total, 1), rate, eta)
      while self._next <= self.done:
        self._next += self.step


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
