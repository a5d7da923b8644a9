"""Flags diverging training: warns once, loudly, when losses or weights leave sane bounds.

Normal SAGAN training keeps the losses small and the weights near their initial scale: on
cpu_demo (hinge loss, spectral norm, Adam 1e-4 / 4e-4) |d_loss| and |g_loss| stay below 20 (15 at
step 1, below 7 after), and the root mean square of every trainable variable of G and D stays
near 1 (at most 1.15 in the checkpoints of four cpu_demo-sized runs up to 1500 steps). Too high
learning rates do not reach a NaN soon: at g_lr = d_lr = 1e3 the losses reach 1e7 at step 2 and
a variable's RMS 1e3 at step 1, yet all stay finite. The bounds below sit 50x (losses) and 100x
(weights) above normal.
"""

from absl import logging
import tensorflow as tf

LOSS_BOUND = 1e3        # on |d_loss| and |g_loss|
WEIGHT_RMS_BOUND = 1e2  # on sqrt(mean(w ** 2)) of each trainable variable of G and D


class HealthWatch:
  """Checks metrics and weights after each training loop; warns the first time they are out
  of bounds, then stops checking."""

  def __init__(self, generator, discriminator):
    self._variables = list(generator.trainable_variables) + list(
        discriminator.trainable_variables)
    self._names = [f"{model.name}/{v.path}" for model in (generator, discriminator)
                   for v in model.trainable_variables]
    self._rms = tf.function(lambda: tf.stack(
        [tf.sqrt(tf.reduce_mean(tf.square(tf.cast(v, tf.float32)))) for v in self._variables]))
    self.warned = False

  def max_weight_rms(self):
    """Returns (largest RMS over the trainable variables of G and D: float, its name)."""
    rms = self._rms().numpy()
    i = int(rms.argmax())
    return float(rms[i]), self._names[i]

  def check(self, step, metrics, config):
    """Warns (once per process) if metrics or weights are out of bounds; returns the warning
    text, or None. metrics: {name: float} with d_loss and g_loss."""
    if self.warned:
      return None
    problems = [f"|{k}| = {abs(metrics[k]):.3g} > {LOSS_BOUND:g}"
                for k in ("d_loss", "g_loss") if abs(metrics[k]) > LOSS_BOUND]
    rms, name = self.max_weight_rms()
    if rms > WEIGHT_RMS_BOUND:
      problems.append(f"weight {name} has RMS {rms:.3g} > {WEIGHT_RMS_BOUND:g}")
    if not problems:
      return None
    self.warned = True
    bar = "!" * 79
    text = (f"TRAINING LOOKS DIVERGED at step {step}: {'; '.join(problems)}. Normal training "
            f"keeps |losses| below ~20 and weight RMS near 1; this run may never produce a NaN "
            f"but is not learning. Likely cause: learning rates too high (g_lr={config.g_lr}, "
            f"d_lr={config.d_lr}). Stop it (Ctrl-C saves a checkpoint) and train again in a new "
            f"--workdir with lower rates (e.g. the defaults, --config.g_lr=1e-4 "
            f"--config.d_lr=4e-4); resuming this workdir with lower rates keeps the diverged "
            f"weights. This warning is shown once.")
    logging.warning("\n%s\n%s\n%s", bar, text, bar)
    return text
