"""Each SelfAttention layer of a config timed alone, and its estimated share of the iteration.

A fresh layer at its input shape in G and D (layers of one shape are timed once) runs forward,
and forward + backward to its input and weights, in each mode, implementation and precision;
the peak memory of its forward + backward is shown next to the size of one attention map.
"""

import itertools
import statistics

import tensorflow as tf

from sagan_tf.benchmark import flops as flops_lib
from sagan_tf.benchmark import harness
from sagan_tf.benchmark import memory as memory_lib
from sagan_tf.benchmark import report as report_lib
from sagan_tf.benchmark.iteration import row_label
from sagan_tf.layers.attention import SelfAttention
from sagan_tf import architectures

_number = report_lib.number
COLUMNS = (
    report_lib.Column("layer", "layer"),
    report_lib.Column("input_shape", "input [B, H, W, C]"),
    report_lib.Column("mode", "mode"),
    report_lib.Column("impl", "impl"),
    report_lib.Column("fwd_ms", "fwd ms", _number(2)),
    report_lib.Column("fwd_bwd_ms", "fwd+bwd ms", _number(2)),
    report_lib.Column("fwd_bwd_tf_mib", "fwd+bwd TF MiB", _number(1)),
    report_lib.Column("map_mib", "map MiB", _number(1)),
    report_lib.Column("calls_per_iter", "calls/iter fwd, fwd+bwd", report_lib.joined),
    report_lib.Column("est_ms_per_iter", "est. ms/iter", _number(2)),
    report_lib.Column("est_share_percent", "est. share of iter", _number(1, "%")))


def attention_layers(config, batch):
  """{input shape [B, H, W, C]: (label, fwd calls, fwd+bwd calls per iteration)} of the
  config's SelfAttention layers (layers of the same shape, e.g. in G and D, are merged)."""
  _, g_blocks = architectures.generator_blocks(config.resolution, config.g_ch,
                                               config.g_attention)
  d_blocks = architectures.discriminator_blocks(config.resolution, config.d_ch,
                                                config.d_attention)
  n = int(config.d_steps)
  layers = {}

  def add(label, block, n_fwd, n_fb):
    shape = (batch, block.resolution, block.resolution, block.out_channels)
    entry = layers.setdefault(shape, [[], 0, 0])
    entry[0].append(label)
    entry[1] += n_fwd
    entry[2] += n_fb
  # G: forward only to make D's fakes in each D sub-step; forward + backward in the G sub-step.
  for b in g_blocks:
    if b.attention:
      add(f"G attention{b.resolution}", b, n, 1)
  # D: forward + backward on real and on fake in each D sub-step, and in the G sub-step.
  for b in d_blocks:
    if b.attention:
      add(f"D attention{b.resolution}", b, 0, 2 * n + 1)
  return {shape: (" + ".join(labels), n_fwd, n_fb)
          for shape, (labels, n_fwd, n_fb) in layers.items()}


def attention_fns(config, shape, modes, impl, precision="float32"):
  """A fresh SelfAttention at `shape` with implementation `impl` under the Keras dtype policy
  `precision`: ({mode: (forward, forward + backward) callables}, the graph of fwd + bwd)."""
  layer = SelfAttention(power_iterations=config.sn_power_iterations,
                        stop_gradient=config.sn_stop_gradient, impl=impl,
                        query_block_size=config.attention_query_block, dtype=precision)
  layer.build(shape)
  layer.gamma.assign(1.0)
  x = tf.random.normal(shape)

  def forward(x):
    return tf.reduce_sum(layer(x, update_u=True))

  def forward_backward(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.reduce_sum(layer(x, update_u=True))
    grads = tape.gradient(loss, [x] + layer.trainable_variables)
    return tf.add_n([tf.reduce_sum(g) for g in grads])

  fns = {}
  for mode in modes:
    pair = []
    for fn in (forward, forward_backward):
      if mode != "eager":
        fn = tf.function(fn, jit_compile=(mode == "xla"))
      pair.append(lambda fn=fn: fn(x).numpy())
    fns[mode] = pair
  return fns, tf.function(forward_backward).get_concrete_function(x).graph


def _time_layer(fwd, fb, mode):
  """(median fwd ms, median fwd+bwd ms, fwd+bwd peak TF MiB above the bytes before, or None)
  over 3 timed calls each after 1 warm-up."""
  with harness.mode_context(mode):
    _, fwd_runs, _ = harness.time_calls(fwd, 1, 3, 1)
    _, fb_runs, memory = harness.time_calls(fb, 1, 3, 1, measure=memory_lib.Memory)
  peak = None if memory.tf_peak is None else (memory.tf_peak - memory.tf_base) / memory_lib.MiB
  return statistics.median(fwd_runs) * 1e3, statistics.median(fb_runs) * 1e3, peak


def attention_table(report, config, batch, modes, impls, precisions, rows, flops):
  """Times each attention layer alone per row and prints the table and the layers' estimated
  share of each row's iteration (rows: {label: iteration row}; flops: FLOPs per iteration)."""
  layers = attention_layers(config, batch)
  report.line("")
  if not layers:
    report.line("SelfAttention alone: the config has no attention layers.")
    return
  report.line("SelfAttention alone (a layer at its input shape in this config, forward and "
              "forward + backward to its input and weights; layers of one shape are timed once)")
  report.line("")
  table = report.table("attention", COLUMNS)
  attention_flops = 0.0
  totals = {label: 0.0 for label in rows}
  for shape, (label, n_fwd, n_fb) in layers.items():
    b, h, w, _ = shape
    map_mib = b * (h * w) * (h * w // 4) * 4 / memory_lib.MiB  # the float32 [B, N, N/4] map
    for precision, impl in itertools.product(precisions, impls):
      fns, graph = attention_fns(config, shape, modes, impl, precision)
      for mode in modes:
        t_fwd, t_fb, peak = _time_layer(*fns[mode], mode)
        est = n_fwd * t_fwd + n_fb * t_fb
        row = row_label(mode, impl, impls, precision, precisions)
        totals[row] += est
        table.add(dict(
            layer=label, input_shape=list(shape), impl=impl, fwd_ms=t_fwd, fwd_bwd_ms=t_fb,
            mode=row_label(mode, impl, [impl], precision, precisions),  # mode[, precision]
            fwd_bwd_tf_mib=peak, map_mib=map_mib, calls_per_iter=[n_fwd, n_fb],
            est_ms_per_iter=est, est_share_percent=100.0 * est / rows[row]["ms_median"]))
      if impl == impls[0] and precision == precisions[0]:
        layer_flops, _ = flops_lib.count_flops(graph)
        attention_flops += (n_fwd + n_fb) * layer_flops  # fwd-only calls counted as fwd+bwd
  report.line("")
  shares = ", ".join(f"{m} {100.0 * totals[m] / rows[m]['ms_median']:.1f}%" for m in rows)
  report.line(
      f"Attention layers together: estimated {shares} of the iteration time; at most "
      f"{100.0 * attention_flops / max(flops, 1):.1f}% of its FLOPs (profiler, forward-only "
      "calls counted as forward + backward). est. ms/iter = fwd calls x fwd ms + fwd+bwd calls "
      "x fwd+bwd ms: an estimate from the layer timed alone (in the iteration XLA and Grappler "
      "may fuse it with its neighbours). fwd+bwd TF MiB = peak bytes of TensorFlow's CPU "
      "allocator during the layer's timed forward + backward runs above those allocated "
      "before them (the layer's input and weights, and the models of the rows above, are "
      "not counted); map MiB = one float32 [B, N, N/4] attention map, which the naive path holds "
      "(and more) and the blocked path never does (per block: block x N/4 floats per image).")
