"""The trainer's Adam: Keras 3's Adam with each variable's update done by TensorFlow's fused
kernel, the one the authors' tf.train.AdamOptimizer runs.

Keras 3's Adam.update_step writes the update as about 41 graph ops per variable (casts, beta
powers, m, v, the step); `FusedAdam` computes the same thing in one ResourceApplyAdam op (15 ops
with its scalar inputs):
  alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t),  t = iterations + 1
  m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
  var -= alpha * m / (sqrt(v) + epsilon)
which is Keras' formula term for term (and tf.train.AdamOptimizer's). Everything else is Keras'
own: the slots (`momentum`, `velocity`: checkpoints are the same as Keras Adam's), the step
counter, gradient all-reduce under tf.distribute, loss scaling, clipping. The kernel has XLA
lowerings (CPU, GPU, TPU). Measured on 2 AMD EPYC cores: the traced iteration of a g_ch = d_ch = 8
SAGAN holds 8,800 ops instead of 10,500, and tracing plus the first call take 3.4 s less
(12.4 s instead of 15.8 s); the update of one 4M-float variable takes 5.0 ms instead of 13.3 ms;
a cpu_demo iteration (batch 32, 2 threads) stays within 3% of Keras' Adam (median 350 ms against
339 ms, the two alternating in one process). AMSGrad is Keras' only Adam option the kernel lacks:
it is refused.

A learning-rate schedule (config.lr_schedule, sagan_tf/training/schedule.py) enters as
`lr_scale`, a callable giving the factor of the current training iteration: the update uses
learning_rate * lr_scale(), computed once per apply_gradients (not per variable). The
`learning_rate` variable stays the base rate (config.g_lr / d_lr), the one checkpoints hold and a
resume assigns; the factor is a function of the caller's (checkpointed) iteration counter, not of
the optimizer's `iterations` (which counts sub-steps: D's runs d_steps times faster than G's).
"""

import keras
import tensorflow as tf


class FusedAdam(keras.optimizers.Adam):
  """keras.optimizers.Adam (same arguments, slots and results) updating each variable with
  tf.raw_ops.ResourceApplyAdam. Variables and gradients of any float dtype; a gradient is cast
  to its variable's dtype (IndexedSlices are made dense) as Keras' Adam does.

  Args:
    *args, **kwargs: keras.optimizers.Adam's (amsgrad=True is refused).
    lr_scale: None, or a callable () -> float32 scalar tensor: each update then uses
      learning_rate * lr_scale() (called once per apply_gradients, inside the caller's
      tf.function / replica context). Not part of the checkpoint: it must be a function of
      state the caller checkpoints.
  """

  def __init__(self, *args, lr_scale=None, **kwargs):
    super().__init__(*args, **kwargs)
    if self.amsgrad:
      raise ValueError("FusedAdam has no AMSGrad (TensorFlow's fused Adam kernel lacks it): "
                       "use keras.optimizers.Adam(amsgrad=True).")
    self.lr_scale = lr_scale

  def _backend_update_step(self, grads, trainable_variables, learning_rate):
    """Keras' one call per apply_gradients that hands every variable's update its rate: the
    schedule's factor is applied here once."""
    if self.lr_scale is not None:
      learning_rate = tf.convert_to_tensor(learning_rate, tf.float32) * tf.cast(
          self.lr_scale(), tf.float32)
    super()._backend_update_step(grads, trainable_variables, learning_rate)

  def update_step(self, gradient, variable, learning_rate):
    """One Adam update of `variable` (a tf.Variable: the replica's own under a strategy)."""
    dtype = variable.dtype
    index = self._get_variable_index(variable)
    t = tf.cast(self.iterations + 1, dtype)
    beta_1 = tf.constant(self.beta_1, dtype)
    beta_2 = tf.constant(self.beta_2, dtype)
    tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=self._momentums[index].value.handle,
        v=self._velocities[index].value.handle, beta1_power=tf.pow(beta_1, t),
        beta2_power=tf.pow(beta_2, t), lr=tf.cast(learning_rate, dtype), beta1=beta_1,
        beta2=beta_2, epsilon=tf.constant(self.epsilon, dtype),
        grad=tf.cast(tf.convert_to_tensor(gradient), dtype))


def adam(config, learning_rate, lr_scale=None):
  """The trainer's optimizer for one network: FusedAdam with config.beta1, beta2 and
  adam_epsilon (and lr_scale: FusedAdam's), wrapped in Keras' LossScaleOptimizer under
  mixed_float16."""
  optimizer = FusedAdam(learning_rate=learning_rate, beta_1=config.beta1, beta_2=config.beta2,
                        epsilon=config.adam_epsilon, lr_scale=lr_scale)
  if config.mixed_precision == "mixed_float16":
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  return optimizer
