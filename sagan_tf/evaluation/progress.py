"""Progress lines for long passes over images."""

import time

from absl import logging


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
