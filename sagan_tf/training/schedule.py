"""The learning-rate schedule (config.lr_schedule): the factor of the base rates g_lr and d_lr in
each training iteration.

  constant      1 (the authors' code: no schedule).
  linear_decay  1 - clip(s - s0, 0, T - s0) / (T - s0): 1 up to iteration s0, then linear
                to 0 at T, with s the training iteration (0-based: the trainer's step counter
                while the iteration runs), s0 = lr_decay_start_step, T = num_train_steps.
                SNGAN's (pfnet-research/sngan_projection, train.py: chainer's LinearShift of
                Adam's alpha from (alpha, 0) over (iteration_decay_start, iteration), updated
                after every iteration; ImageNet: 400k to 450k). The last iteration, T - 1,
                trains at 1 / (T - s0) of the base rate; 0 is reached at T, when training ends.

The schedule runs on the training iteration (one G sub-step and d_steps D sub-steps), never on
an optimizer's own `iterations`, which counts sub-steps (D's d_steps times faster): both
networks' rates follow the same curve, every D sub-step of an iteration at that iteration's
rate. The iteration counter (`GANTrainer.step`) is checkpointed, so a resume continues the
schedule exactly; the base rates are the optimizers' checkpointed learning-rate variables.
"""

import tensorflow as tf

from sagan_tf.choices import LR_SCHEDULES


def lr_factor(step, config):
  """The factor of g_lr and d_lr in training iteration `step` (module docstring).

  Args:
    step: int scalar (Python or tensor, any int dtype), the 0-based training iteration.
    config: the keys lr_schedule, lr_decay_start_step and num_train_steps (validated).

  Returns:
    float32 scalar tensor in [0, 1]. Pure TensorFlow: works eagerly, in a tf.function, under XLA
    and in a replica context.
  """
  if config.lr_schedule not in LR_SCHEDULES:
    raise ValueError(f"lr_schedule={config.lr_schedule!r}; choose one of {LR_SCHEDULES}.")
  if config.lr_schedule == "constant":
    return tf.constant(1.0, tf.float32)
  start = int(config.lr_decay_start_step)
  span = int(config.num_train_steps) - start
  if span < 1:
    raise ValueError(f"lr_decay_start_step={start} must be < num_train_steps="
                     f"{config.num_train_steps} for linear_decay.")
  # (iterations left) / span: one rounding (exact integers up to 2**24), no cancellation near 0.
  remaining = span - tf.clip_by_value(tf.cast(step, tf.int64) - start, 0, span)
  return tf.cast(remaining, tf.float32) / float(span)
