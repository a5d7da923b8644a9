"""The distributed SAGAN training iteration, as in the authors' code.

One iteration = one generator sub-step with fresh z and labels and `d_steps` discriminator
sub-steps, each with a fresh real batch, fresh z ~ N(0, I) and fresh uniform fake labels, in
the order config.substep_order says: "g_then_d" (default) is the authors' train_imagenet.py
(tfgan.gan_train with get_sequential_train_hooks runs the G step, then the D step);
"d_then_g" is the order of many later implementations. Then the step counter and the EMA
generator are updated. Spectral-norm u moves on every G
forward pass and once per D sub-step. With config.d_fused_pass (default) D runs once on the
concatenated [real; fake] batch, so both halves use sigma from u' and u <- u'; otherwise D runs
on real data (u <- u') and then on fake data, whose pass starts one more power iteration from
u' without storing it. The authors' graph builds the two passes with no order between the
fake pass's read of u and the real pass's update, so it allows both; D has no batch
normalization, so the batch composition changes nothing else. Losses are per example,
reduced with the global batch size, and the Keras optimizers sum gradients over replicas.

Randomness is stateless: the noise of sub-step k of iteration s is drawn for the whole global
batch from seed (config.seed, s * (d_steps + 1) + k) and each replica takes its slice, so a run
is reproducible, resumes exactly from `step`, and gives the same batch on 1 or N replicas.

Learning rates: each optimizer applies its base rate (config.g_lr / d_lr, the checkpointed
learning-rate variable) times the factor config.lr_schedule gives for iteration s, read from the
step counter (sagan_tf/training/schedule.py; constant by default, the authors').

DiffAugment (config.diffaugment, sagan_tf/augment.py; off by default): every image D sees is
augmented first, the real and the fake batch of each D sub-step and the fake batch of the G
sub-step (differentiably: G's gradient flows through it). The parameters are drawn for the
global batch from the sub-step's seed offset by [0, 2 * 2**40] (real) or [0, 3 * 2**40]
(fake) (labels: [0, 2**40]), and each replica takes its slice, as for the noise.
"""

import keras
import tensorflow as tf

from sagan_tf import augment
from sagan_tf import losses
from sagan_tf import models
from sagan_tf.store import checkpoints
from sagan_tf.training import ema as ema_lib
from sagan_tf.training import optimizers
from sagan_tf.training import schedule

METRICS = ("d_loss", "g_loss", "d_real", "d_fake")
_LABELS, _AUGMENT_REAL, _AUGMENT_FAKE = 1, 2, 3  # seed streams beside the noise: [0, k * 2**40]


class GANTrainer:
  """Owns G, EMA G, D, both optimizers and the step counter; runs training iterations.

  Create it under no scope: it enters strategy.scope() itself. `train(iterator, n)` runs n
  iterations in one tf.function call (steps_per_loop) and returns (metrics, all_finite), the
  metrics of the last iteration averaged over the global batch.
  """

  def __init__(self, config, strategy):
    self.config = config
    self.strategy = strategy
    self.global_batch = int(config.global_batch_size)
    self.d_loss_fn, self.g_loss_fn = losses.get(config.loss)
    keras.utils.set_random_seed(config.seed)  # reproducible initial weights
    previous_policy = keras.mixed_precision.global_policy()
    try:  # layers take the policy at construction; restore the global one afterwards
      keras.mixed_precision.set_global_policy(config.mixed_precision or "float32")
      with strategy.scope():
        self.generator, self.discriminator = models.build_models(config)
        self.ema_generator = models.build_generator(config)
    finally:
      keras.mixed_precision.set_global_policy(previous_policy)
    with strategy.scope():
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
      # The schedule's factor of the iteration being run (step is advanced after it).
      lr_scale = lambda: schedule.lr_factor(self.step, config)
      self.g_optimizer = optimizers.adam(config, config.g_lr, lr_scale)
      self.d_optimizer = optimizers.adam(config, config.d_lr, lr_scale)
      self.g_optimizer.build(self.generator.trainable_variables)
      self.d_optimizer.build(self.discriminator.trainable_variables)
    self.ema_pairs = ema_lib.ema_pairs(self.generator, self.ema_generator)
    ema_lib.update_ema(self.ema_pairs, tf.constant(0.0))  # EMA starts as a copy of G
    self._replica_step_fn = tf.function(self.replica_step, jit_compile=config.jit_compile)
    self._train_fn = tf.function(self._train_loop)

  def _seed(self, step, substep, stream=0):
    """int64 [2]: the stateless seed of sub-step `substep` of iteration `step` (stream 0: z)."""
    c = self.config
    return tf.stack([tf.constant(c.seed, tf.int64),
                     step * (c.d_steps + 1) + substep + stream * 2**40])

  @staticmethod
  def _replica_start(per_replica_batch):
    """This replica's first row in the global batch (int32 scalar)."""
    ctx = tf.distribute.get_replica_context()
    return tf.cast(ctx.replica_id_in_sync_group, tf.int32) * per_replica_batch

  def _noise(self, step, substep, per_replica_batch):
    """z float32 [b, z_dim] and labels int32 [b]: this replica's slice of the global draw."""
    c = self.config
    start = self._replica_start(per_replica_batch)
    z = tf.random.stateless_normal([self.global_batch, c.z_dim], self._seed(step, substep))
    z = tf.slice(z, [start, 0], [per_replica_batch, c.z_dim])
    if not c.num_classes:
      return z, tf.zeros([per_replica_batch], tf.int32)
    labels = tf.random.stateless_uniform([self.global_batch], self._seed(step, substep, _LABELS),
                                         0, c.num_classes, dtype=tf.int32)
    return z, tf.slice(labels, [start], [per_replica_batch])

  def _augment(self, images, step, substep, stream, per_replica_batch):
    """DiffAugment of this replica's images [b, R, R, 3]: its rows of the global draw (the
    images unchanged when config.diffaugment is '')."""
    if not self.config.diffaugment:
      return images
    return augment.augment(images, self.config.diffaugment, self._seed(step, substep, stream),
                           self.global_batch, self._replica_start(per_replica_batch))

  @staticmethod
  def _scaled(optimizer, loss):
    """The loss to differentiate (loss-scaled under mixed_float16); call inside the tape."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
      return optimizer.scale_loss(loss)
    return loss

  @staticmethod
  def _apply(optimizer, tape, scaled_loss, variables):
    grads = tape.gradient(scaled_loss, variables)
    optimizer.apply_gradients(zip(grads, variables))  # unscales under loss scaling

  def _d_substep(self, images, labels, step, k, per_replica):
    """D sub-step k: hinge loss on a real batch and on G(z_k, y_k) (both DiffAugmented when
    config.diffaugment is set); D's u moves once."""
    g, d, c = self.generator, self.discriminator, self.config
    # Static shapes for XLA / TPU (some strategies' iterators drop the batch dimension).
    images = tf.ensure_shape(images, [per_replica, c.resolution, c.resolution, 3])
    labels = tf.ensure_shape(labels, [per_replica])
    z, fake_labels = self._noise(step, k, per_replica)
    fake = tf.stop_gradient(g(z, fake_labels, training=True))
    images = self._augment(images, step, k, _AUGMENT_REAL, per_replica)
    fake = self._augment(fake, step, k, _AUGMENT_FAKE, per_replica)
    with tf.GradientTape() as tape:
      if c.d_fused_pass:  # one pass on [real; fake]: sigma from u' for both halves, u <- u'
        logits = d(tf.concat([images, fake], 0), tf.concat([labels, fake_labels], 0),
                   training=True, update_u=True)
        d_real, d_fake = logits[:per_replica], logits[per_replica:]
      else:  # the fake pass runs one more power iteration from the stored u' (not stored)
        d_real = d(images, labels, training=True, update_u=True)
        d_fake = d(fake, fake_labels, training=True, update_u=False)
      d_loss = tf.nn.compute_average_loss(self.d_loss_fn(d_real, d_fake),
                                          global_batch_size=self.global_batch)
      d_scaled = self._scaled(self.d_optimizer, d_loss)
    self._apply(self.d_optimizer, tape, d_scaled, d.trainable_variables)
    return d_loss, d_real, d_fake

  def _g_substep(self, step, per_replica):
    """The G sub-step, with the noise of sub-step index d_steps (whatever the order)."""
    g, d, k = self.generator, self.discriminator, self.config.d_steps
    z, fake_labels = self._noise(step, k, per_replica)
    with tf.GradientTape() as tape:
      fake = self._augment(g(z, fake_labels, training=True), step, k, _AUGMENT_FAKE, per_replica)
      g_fake = d(fake, fake_labels, training=True, update_u=False)
      g_loss = tf.nn.compute_average_loss(self.g_loss_fn(g_fake),
                                          global_batch_size=self.global_batch)
      g_scaled = self._scaled(self.g_optimizer, g_loss)
    self._apply(self.g_optimizer, tape, g_scaled, g.trainable_variables)
    return g_loss

  def replica_step(self, real_batches, step):
    """One training iteration on this replica, in config.substep_order (authors: G, then D).

    Args:
      real_batches: tuple of d_steps (images float32 [b, R, R, 3] in [-1, 1], labels int32
        [b]) with b = global_batch_size / replicas: one real batch per D sub-step.
      step: int64 scalar, the iteration index (seeds the stateless noise).

    Returns {metric: this replica's float32 scalar} for METRICS (the losses already divided
    by the global batch; sum over replicas for the global value). Call it inside
    strategy.run (train() does), or directly under the default strategy (the benchmark).
    Does not advance `step` or the EMA generator.
    """
    per_replica = self.global_batch // self.strategy.num_replicas_in_sync
    g_first = self.config.substep_order == "g_then_d"
    if g_first:
      g_loss = self._g_substep(step, per_replica)
    for k, (images, labels) in enumerate(real_batches):
      d_loss, d_real, d_fake = self._d_substep(images, labels, step, k, per_replica)
    if not g_first:
      g_loss = self._g_substep(step, per_replica)
    mean = lambda x: tf.reduce_sum(x) / self.global_batch
    return {"d_loss": d_loss, "g_loss": g_loss, "d_real": mean(d_real), "d_fake": mean(d_fake)}

  def _train_loop(self, iterator, num_steps):
    c = self.config
    metrics = {k: tf.constant(0.0) for k in METRICS}
    finite = tf.constant(True)
    for _ in tf.range(num_steps):
      batches = tuple(next(iterator) for _ in range(c.d_steps))
      per_replica = self.strategy.run(self._replica_step_fn,
                                      args=(batches, tf.convert_to_tensor(self.step)))
      metrics = {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[k], axis=None)
                 for k in METRICS}
      finite = finite & tf.reduce_all(tf.math.is_finite(tf.stack(list(metrics.values()))))
      self.step.assign_add(1)
      decay = tf.where(self.step > c.ema_start_step, tf.constant(c.ema_decay, tf.float32), 0.0)
      ema_lib.update_ema(self.ema_pairs, decay)
    return metrics, finite

  def learning_rates(self, step):
    """{"generator": float, "discriminator": float}: the rates the optimizers apply in training
    iteration `step` (0-based): their base learning rates times the schedule's factor
    (config.lr_schedule, sagan_tf/training/schedule.py)."""
    factor = float(schedule.lr_factor(step, self.config))
    return {"generator": float(self.g_optimizer.learning_rate.numpy()) * factor,
            "discriminator": float(self.d_optimizer.learning_rate.numpy()) * factor}

  def train(self, iterator, num_steps):
    """Runs num_steps iterations; returns ({metric: float}, all losses finite: bool)."""
    metrics, finite = self._train_fn(iterator, tf.constant(num_steps, tf.int32))
    return {k: float(v) for k, v in metrics.items()}, bool(finite)

  def checkpoint(self):
    """The tf.train.Checkpoint of sagan_tf.store.checkpoints' layout."""
    return checkpoints.make_checkpoint(self.generator, self.ema_generator, self.discriminator,
                           self.g_optimizer, self.d_optimizer, self.step)
