"""The training-iteration rows: one SAGAN iteration timed per mode, attention impl, precision.

One iteration is GANTrainer.replica_step (sagan_tf/training/gan_step.py): d_steps D sub-steps
(G forward, D forward on real and fake, D backward, Adam) and one G sub-step (G and D forward,
G backward, Adam), under the default strategy (one device) at the global batch. The real
batches are random tensors of the config's shape, made once, so no dataset is read and the
input pipeline is not timed; neither are the per-loop EMA update and step counter of
GANTrainer.train. Modes:

  eager     trainer.replica_step called directly, with tf.config.run_functions_eagerly(True).
  function  tf.function(trainer.replica_step): what GANTrainer runs with jit_compile = False.
  xla       tf.function(trainer.replica_step, jit_compile=True): config.jit_compile = True.
"""

import itertools
import statistics

import tensorflow as tf

from sagan_tf import choices
from sagan_tf.benchmark import harness
from sagan_tf.benchmark import memory as memory_lib
from sagan_tf.benchmark import profile
from sagan_tf.benchmark import report as report_lib
from sagan_tf.training.gan_step import GANTrainer

MODES = ("eager", "function", "xla")
PRECISIONS = ("float32",) + choices.MIXED_PRECISION[1:]  # choices' "" is float32
SHORT_PRECISION = {"float32": "fp32", "mixed_bfloat16": "bf16", "mixed_float16": "fp16"}
_number = report_lib.number
COLUMNS = (
    report_lib.Column("mode", "mode"),
    report_lib.Column("ms_median", "ms/iter median", _number(1)),
    report_lib.Column("ms_min", "ms/iter min", _number(1)),
    report_lib.Column("images_per_s", "images/s", _number(1)),
    report_lib.Column("first_call_s", "first call s", _number(2)),
    report_lib.Column("tf_peak_mib", "TF peak MiB", _number(1)),
    report_lib.Column("rss_peak_mib", "RSS peak MiB", _number(1)),
    report_lib.Column("gflops", "GFLOP/s", _number(2)),
    report_lib.Column("matmul_percent", "% of matmul", _number(1)))


def row_label(mode, impl, impls, precision=None, precisions=()):
  """A table row's name: the mode, plus the attention implementation and the precision when
  several of them are timed."""
  parts = [mode]
  if len(impls) > 1:
    parts.append(impl)
  if len(precisions) > 1:
    parts.append(SHORT_PRECISION[precision])
  return ", ".join(parts)


def random_batches(config, batch):
  """(d_steps (images float32 [batch, R, R, 3] in [-1, 1], labels int32 [batch]), step int64
  scalar 0): the arguments of GANTrainer.replica_step, made once."""
  r, classes = config.resolution, max(int(config.num_classes), 1)
  batches = tuple((tf.random.uniform([batch, r, r, 3], -1.0, 1.0),
                   tf.random.uniform([batch], 0, classes, dtype=tf.int32))
                  for _ in range(int(config.d_steps)))
  return batches, tf.constant(0, tf.int64)


def _step_fns(trainer):
  """{mode: the trainer's per-replica step as that mode runs it}."""
  return {"eager": trainer.replica_step,
          "function": tf.function(trainer.replica_step, jit_compile=False),
          "xla": tf.function(trainer.replica_step, jit_compile=True)}


def time_iterations(config, args, modes, impls, precisions, warmup, repeats, steps,
                    profile_ops=0):
  """Times each (precision, impl, mode) row on a fresh GANTrainer per (precision, impl).

  args: random_batches(...). Returns ({row label: (first call s, [s per iteration per timed
  run], TF peak bytes or None, RSS peak bytes)}, {row label: profile.profile_op_types(...)}
  if profile_ops else {}, the tf.function of the first trainer's step: the graph to count).
  """
  strategy = tf.distribute.get_strategy()
  timings, profiles, counted_fn = {}, {}, None
  for precision, impl in itertools.product(precisions, impls):
    config.attention_impl = impl
    config.mixed_precision = "" if precision == "float32" else precision
    fns = _step_fns(GANTrainer(config, strategy))  # builds its models under the policy
    counted_fn = counted_fn or fns["function"]
    for mode in modes:

      def call(fn=fns[mode]):
        metrics = strategy.run(fn, args=args)
        return float(metrics["g_loss"])  # waits for the result

      label = row_label(mode, impl, impls, precision, precisions)
      with harness.mode_context(mode):
        first, runs, memory = harness.time_calls(call, warmup, repeats, steps,
                                                 measure=memory_lib.Memory)
        if profile_ops:
          profiles[label] = profile.profile_op_types(call, steps * repeats)
      timings[label] = (first, runs, memory.tf_peak, memory.rss_peak)
    del fns
  return timings, profiles, counted_fn


def iteration_rows(timings, flops, images_per_iteration, peak_gflops):
  """{row label: row dict of COLUMNS' keys but 'mode'} from time_iterations' timings, the
  FLOPs and real images (batch x d_steps) of one iteration and the matmul's best GFLOP/s."""
  rows = {}
  for label, (first, runs, tf_peak, rss_peak) in timings.items():
    median, best = statistics.median(runs), min(runs)
    gflops = flops / median / 1e9
    rows[label] = dict(ms_median=median * 1e3, ms_min=best * 1e3,
                       images_per_s=images_per_iteration / median, first_call_s=first,
                       tf_peak_mib=None if tf_peak is None else tf_peak / memory_lib.MiB,
                       rss_peak_mib=rss_peak / memory_lib.MiB, gflops=gflops,
                       matmul_percent=100.0 * gflops / peak_gflops)
  return rows


def iteration_table(report, rows, d_steps, warmup, repeats, steps):
  """Prints the rows' table and what its columns mean."""
  report.table("iteration", COLUMNS, rows=[dict(mode=label, **row) for label, row in rows.items()])
  report.line("")
  report.line(
      f"ms/iter: one iteration = {d_steps} D sub-step(s) + 1 G sub-step, over {repeats} timed "
      f"run(s) of {steps} iteration(s) after {warmup} warm-up call(s); first call = the first "
      "warm-up call (tracing / XLA compilation + one iteration). images/s = real images "
      "consumed (batch x d_steps) per second at the median time, as in the training log. "
      "TF peak = peak bytes of TensorFlow's CPU allocator during the mode's timed runs "
      "(tf.config.experimental.get_memory_info('CPU:0') after reset_memory_stats; it includes "
      "the weights and optimizer state; buffers XLA allocates itself may be missing). RSS peak "
      "= peak resident set size of the whole process during the timed runs (sampled every 2 "
      "ms from /proc/self/statm; it never shrinks much, so memory that earlier modes and XLA "
      "compilation left allocated counts too). GFLOP/s = FLOPs per "
      "iteration / median time; % of matmul = that / the matmul reference.")


def uncounted_note(report, uncounted, flops):
  """Prints which arithmetic op types the FLOP count missed (flops_lib.count_flops), if any."""
  if not uncounted:
    return
  worst = sorted(uncounted.items(), key=lambda kv: -kv[1][1])
  elements = sum(v[1] for v in uncounted.values())
  listed = ", ".join(f"{t} ({v[0]})" for t, v in worst[:12])
  more = f" and {len(worst) - 12} more types" if len(worst) > 12 else ""
  report.line(
      f"Not counted by the profiler (arithmetic ops with no FLOP formula or an unknown "
      f"shape; count of ops): {listed}{more}. They output {elements / 1e6:,.1f} M elements in "
      f"all: about {100.0 * elements / max(flops, 1):.1f}% of the counted FLOPs at 1 FLOP "
      "per element. Ops that only move or reshape data are not listed.")
