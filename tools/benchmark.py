r"""Times one SAGAN training iteration (D + G steps) eagerly, under tf.function and with XLA.

  python tools/benchmark.py --config=experiments/cpu_demo.py [--batch_size=16] [--repeats=3] \
      [--warmup=1] [--steps=1] [--modes=eager,function,xla] [--precisions=float32,...] \
      [--profile_ops=15] [--config.g_ch=64 ...]

One iteration is GANTrainer.replica_step (sagan_tf/training/gan_step.py): d_steps D sub-steps
(G forward, D forward on real and fake, D backward, Adam) and one G sub-step (G and D forward, G
backward, Adam), under the default strategy (one device) at global batch --batch_size. The
real batches are random tensors of the config's shape, made once, so no dataset is read (any
experiment config can be timed without its data) and the input pipeline is not timed; neither
are the per-loop EMA update and step counter of GANTrainer.train. Modes:

  eager     trainer.replica_step called directly, with tf.config.run_functions_eagerly(True).
  function  tf.function(trainer.replica_step): what GANTrainer runs with jit_compile = False.
  xla       tf.function(trainer.replica_step, jit_compile=True): config.jit_compile = True.

Each mode runs --warmup untimed calls first (the first one traces / compiles: its time is the
"first call" column), then --repeats timed runs of --steps iterations; the table gives the
median and the minimum time per iteration. FLOPs of one iteration are counted once on the
graph of the per-replica step with TensorFlow's profiler (tf.compat.v1.profiler.profile,
float_operation: a multiply-add counts 2); ops the profiler has no FLOP formula for are listed
under the table. The machine's reference speed is an fp32 tf.matmul of two --matmul_size square
matrices (2048) timed in the same run. Then each SelfAttention layer of the config is timed
alone (forward, and forward + backward to its input and weights) at its input shape in G and D,
with its estimated share of the iteration. Timings are whatever the machine gives at that
moment: nothing here asserts on them.

--attention_impls=naive,blocked times the iteration and the layers once per SelfAttention
implementation (rows 'mode, impl'; sagan_tf/layers/attention.py), with the peak memory of each
layer's forward + backward next to the size of one attention map, e.g. at 256 px with attention
at 128x128:

  python tools/benchmark.py --config=experiments/imagenet128.py --config.resolution=256 \
      --config.g_ch=16 --config.d_ch=16 "--config.g_attention=(128,)" \
      "--config.d_attention=(128,)" --batch_size=8 --modes=function \
      --attention_impls=blocked,naive --repeats=2

--precisions=float32,mixed_bfloat16 times each row once per Keras mixed-precision policy (rows
'mode, precision'); the header says which bfloat16 instruction sets the CPU has
(sagan_tf/hardware.py). --profile_ops=N then profiles each row with TensorFlow's profiler and
prints its N most expensive op types (TensorFlow kernels in function mode, XLA:CPU thunks in
xla mode; op time summed over threads), and what the convolutions and matmuls alone achieve:
the GFLOP/s the iteration would reach if nothing else took time.

--pipeline_sources=folder,tfrecord,tfds,resized_png,resized_jpeg then times the input pipeline
alone (sagan_tf.data.build_dataset at the config's resolution and --batch_size) on
--pipeline_images generated photo-like JPEGs of --pipeline_image_size, stored once per source
in a temporary directory (a folder of files; the same JPEG bytes in TFRecords; a locally built
TFDS dataset; TFRecords pre-resized by tools/prepare_tfrecords.py as PNG or JPEG), next to the
images/s the training step consumes (its first 'function' row):

  python tools/benchmark.py --config=experiments/imagenet128.py --config.g_ch=16 \
      --config.d_ch=16 --batch_size=8 --modes=function --noattention \
      --pipeline_sources=folder,tfrecord,tfds,resized_png,resized_jpeg
"""

import itertools
import os
import resource
import statistics
import sys
import threading
import time

_START = time.perf_counter()  # the wall time printed at the end counts from here
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from sagan_tf import config as config_lib  # noqa: E402

MODES = ("eager", "function", "xla")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
FLAGS = flags.FLAGS
MiB = 2.0 ** 20


def define_flags():
  """Defines the binary's flags (not at import: the module's functions are a library too)."""
  config_flags.DEFINE_config_file("config", None, "Experiment config file (experiments/*.py).",
                                  lock_config=True)
  flags.DEFINE_integer("batch_size", 16, "Global batch size to time; 0: the config's "
                       "global_batch_size.", lower_bound=0)
  flags.DEFINE_integer("repeats", 3, "Timed runs per mode (median and min are reported).",
                       lower_bound=1)
  flags.DEFINE_integer("warmup", 1, "Untimed calls per mode before timing; the first traces / "
                       "compiles.", lower_bound=1)
  flags.DEFINE_integer("steps", 1, "Training iterations per timed run.", lower_bound=1)
  flags.DEFINE_list("modes", list(MODES), f"Modes to time, any of {', '.join(MODES)}.")
  flags.DEFINE_integer("matmul_size", 2048, "Side of the fp32 tf.matmul that measures the "
                       "machine's reference GFLOP/s.", lower_bound=64)
  flags.DEFINE_bool("attention", True, "Also time each SelfAttention layer alone.")
  flags.DEFINE_list("attention_impls", [], "SelfAttention implementations to compare (rows "
                    "'mode, impl'), any of auto, naive, blocked; empty: config.attention_impl.")
  flags.DEFINE_list("precisions", [], "Precisions to compare (rows 'mode, precision'), any of "
                    f"{', '.join(PRECISIONS)}; empty: config.mixed_precision.")
  flags.DEFINE_integer("profile_ops", 0, "Also profile each timed row (TensorFlow's profiler) "
                       "and print its N most expensive op types; 0: no profile.", lower_bound=0)
  flags.DEFINE_list("pipeline_sources", [], "Also time the input pipeline alone on generated "
                    f"data, any of {', '.join(PIPELINE_SOURCES)}; empty: not timed.")
  flags.DEFINE_integer("pipeline_images", 256, "Generated images per pipeline source (at least "
                       "one per generated class).", lower_bound=PIPELINE_CLASSES)
  flags.DEFINE_string("pipeline_image_size", "500x375", "WIDTHxHEIGHT of the generated JPEGs "
                      "(500x375: ImageNet's most common size).")
  flags.DEFINE_float("pipeline_seconds", 10.0, "Seconds each pipeline is timed.", lower_bound=0.1)
  flags.mark_flag_as_required("config")


class _RssSampler:
  """Peak resident set size of this process while the block runs (sampled every 2 ms)."""

  def __init__(self):
    self.peak = 0
    self._stop = threading.Event()
    self._page = os.sysconf("SC_PAGE_SIZE")

  def _rss(self):
    with open("/proc/self/statm") as f:
      return int(f.read().split()[1]) * self._page

  def _run(self):
    while not self._stop.is_set():
      self.peak = max(self.peak, self._rss())
      time.sleep(0.002)

  def __enter__(self):
    self.peak = self._rss()
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()
    self.peak = max(self.peak, self._rss())


def _tf_memory(tf, reset=False, key="peak"):
  """Peak (or current) bytes of TensorFlow's CPU allocator (None if this build does not track
  it); reset=True first resets the peak to the current bytes."""
  try:
    if reset:
      tf.config.experimental.reset_memory_stats("CPU:0")
    return tf.config.experimental.get_memory_info("CPU:0")[key]
  except (ValueError, RuntimeError, tf.errors.OpError):
    return None


class _Memory:
  """Peak TF-allocator bytes (and those allocated before the block: tf_base) and peak
  process RSS while the block runs."""

  def __init__(self, tf):
    self.tf, self.tf_peak, self.tf_base, self.rss_peak = tf, None, None, 0

  def __enter__(self):
    self.tf_base = _tf_memory(self.tf, reset=True, key="current")
    self._rss = _RssSampler().__enter__()
    return self

  def __exit__(self, *exc):
    self._rss.__exit__(*exc)
    self.rss_peak = self._rss.peak
    self.tf_peak = _tf_memory(self.tf)


class _NullContext:
  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


class _Eagerly:
  """Runs tf.functions eagerly inside the block (restores the previous setting)."""

  def __init__(self, tf):
    self.tf = tf

  def __enter__(self):
    self.previous = self.tf.config.functions_run_eagerly()
    self.tf.config.run_functions_eagerly(True)

  def __exit__(self, *exc):
    self.tf.config.run_functions_eagerly(self.previous)


def _time_calls(call, warmup, repeats, steps, measure=None):
  """(first call s, [seconds per call over each timed run of `steps` calls], measured).

  measure: None or a function returning a context manager that is entered around the timed
  runs only (after the warm-up); its `as` value is returned as `measured`.
  """
  start = time.perf_counter()
  call()
  first = time.perf_counter() - start
  for _ in range(warmup - 1):
    call()
  runs = []
  with (measure or _NullContext)() as measured:
    for _ in range(repeats):
      start = time.perf_counter()
      for _ in range(steps):
        call()
      runs.append((time.perf_counter() - start) / steps)
  return first, runs, measured


# Op types that only move, reshape, read or route data: no arithmetic, so no FLOPs to miss.
DATA_MOVEMENT = frozenset((
    "BroadcastArgs", "BroadcastGradientArgs", "BroadcastTo", "Cast", "ConcatV2", "Const",
    "ExpandDims", "Fill", "GatherV2", "Identity", "IdentityN", "OnesLike", "Pack", "Placeholder",
    "ReadVariableOp", "Reshape", "ResourceGather", "Shape", "ShapeN", "Slice", "Squeeze",
    "StopGradient", "StridedSlice", "StridedSliceGrad", "Tile", "Transpose", "Unpack",
    "UnsortedSegmentSum", "ZerosLike"))


def count_flops(tf, graph):
  """FLOPs of one run of `graph` by TensorFlow's profiler, and what it could not count.

  Returns (total FLOPs, {op type: [number of ops, float output elements]} of the ops doing
  arithmetic that have no FLOP formula in TensorFlow's registry or lack fully known shapes).
  """
  from tensorflow.python.framework import ops as ops_lib  # the registry the profiler uses
  builder = tf.compat.v1.profiler.ProfileOptionBuilder
  options = builder(builder.float_operation()).with_empty_output().build()
  total = tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops
  uncounted = {}
  for op in graph.get_operations():
    if op.type in DATA_MOVEMENT:
      continue
    try:
      value = ops_lib.get_stats_for_node_def(graph, op.node_def, "flops").value
    except ValueError:  # registered, but a shape is not fully known
      value = None
    if value is None:
      elements = sum(out.shape.num_elements() for out in op.outputs
                     if out.shape.is_fully_defined() and out.dtype.is_floating)
      if elements:
        entry = uncounted.setdefault(op.type, [0, 0])
        entry[0] += 1
        entry[1] += elements
  return total, uncounted


def matmul_gflops(tf, n, repeats=5):
  """(best, median) GFLOP/s of an n x n fp32 tf.matmul under tf.function."""
  a = tf.random.normal([n, n])
  b = tf.random.normal([n, n])
  fn = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
  _, runs, _ = _time_calls(lambda: fn().numpy(), 1, repeats, 1)
  flops = 2.0 * n ** 3
  return flops / min(runs) / 1e9, flops / statistics.median(runs) / 1e9


def _attention_layers(config, batch):
  """{input shape: [label, fwd calls, fwd+bwd calls per iteration]} of the config's layers
  (layers of the same shape, e.g. in G and D, are timed once)."""
  from sagan_tf.models import architectures
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


def _attention_fns(tf, config, shape, modes, impl, precision="float32"):
  """A fresh SelfAttention at `shape` with implementation `impl` under the Keras dtype policy
  `precision`: ({mode: (forward, forward + backward) callables}, the graph of fwd + bwd)."""
  from sagan_tf.layers.attention import SelfAttention
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


DENSE_MARKERS = ("Conv2D", "MatMul", "Einsum", "convolution", "dot")
NOT_OPS = frozenset(("BlockUntilReady", "MemoryAllocation", "MemoryDeallocation",
                     "ValidateInputTypeAndPlacement"))


def _op_type(name):
  """The op type of a profiler event name, or None for events that are not op kernels:
  TensorFlow kernels are 'node name:OpType'; XLA:CPU thunks are 'hlo_name.N' (fusions are
  grouped as 'XLA fusion')."""
  if name.startswith(("end: ", "TFE_", "Eager")) or "::" in name or name in NOT_OPS:
    return None
  if ":" in name:
    op_type = name.rsplit(":", 1)[1]
    return None if not op_type or op_type.startswith("__") or " " in op_type else op_type
  base = name.rsplit(".", 1)[0] if name.rsplit(".", 1)[-1].isdigit() else name
  return "XLA fusion" if "fusion" in base else base


def profile_op_types(tf, call, iterations):
  """{op type: [ms per iteration, ops per iteration]} summed over TensorFlow's threads, from
  TensorFlow's profiler (tf.profiler.experimental) around `iterations` calls of `call`: the op
  kernels of a tf.function, or the thunks of an XLA:CPU executable (on the intra-op threads,
  or inside CpuExecutable::ExecuteAsyncOnStream on the Python thread, whose other events are
  Python-level). {} if the profile cannot be read."""
  import glob
  import tempfile
  try:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
  except ImportError:
    return {}
  with tempfile.TemporaryDirectory(prefix="sagan_profile_") as logdir:
    tf.profiler.experimental.start(logdir)
    try:
      for _ in range(iterations):
        call()
    finally:
      tf.profiler.experimental.stop()
    files = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not files:
      return {}
    space = xplane_pb2.XSpace()
    with open(files[0], "rb") as f:
      space.ParseFromString(f.read())
  totals = {}
  for plane in space.planes:
    if not plane.name.startswith("/host:CPU"):
      continue
    names = {k: m.name for k, m in plane.event_metadata.items()}
    for line in plane.lines:
      python = any(names[e.metadata_id].startswith("TFE_Py") for e in line.events)
      xla_until = -1  # end of the enclosing XLA executable's event, if any
      for event in sorted(line.events, key=lambda e: e.offset_ps):
        name = names[event.metadata_id]
        if name == "CpuExecutable::ExecuteAsyncOnStream":
          xla_until = event.offset_ps + event.duration_ps
          continue
        op_type = _op_type(name)
        if op_type is None or (python and ":" not in name and event.offset_ps > xla_until):
          continue
        entry = totals.setdefault(op_type, [0.0, 0.0])
        entry[0] += event.duration_ps / 1e9 / iterations
        entry[1] += 1.0 / iterations
  return totals


def _profile_tables(profiles, rows, flops, peak, top, out):
  """Prints, per profiled row, its `top` op types by time and the convolutions' own speed."""
  for label, totals in profiles.items():
    out("")
    if not totals:
      out(f"Profile of '{label}': not available (no profiler trace).")
      continue
    op_ms = sum(ms for ms, _ in totals.values())
    dense_ms = sum(ms for t, (ms, _) in totals.items() if any(m in t for m in DENSE_MARKERS))
    out(f"Profile of '{label}' (TensorFlow profiler; op time summed over TensorFlow's threads, "
        f"{op_ms:,.1f} ms per iteration against {rows[label]['ms_median']:,.1f} ms wall)")
    out("")
    out("| op type | ms/iter | share of op time | ops/iter |")
    out("|---|---|---|---|")
    for op_type, (ms, count) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]:
      out(f"| {op_type} | {ms:,.2f} | {100.0 * ms / op_ms:.1f}% | {count:,.0f} |")
    wall_ms = rows[label]["ms_median"]
    if label.startswith("xla"):
      out("")
      out(f"XLA:CPU launches convolutions and dots on its thread pool: their thunk events above "
          f"cover the launch, not the work, so op time ({op_ms:,.1f} ms) is not the whole "
          f"iteration ({wall_ms:,.1f} ms) and no convolution ceiling is given for this row.")
      continue
    dense_wall_ms = wall_ms * dense_ms / op_ms
    dense_gflops = flops / (dense_wall_ms / 1e3) / 1e9 if dense_ms else None
    out("")
    out(f"Convolutions and matmuls (op types containing {', '.join(DENSE_MARKERS)}): "
        f"{dense_ms:,.1f} ms/iter, {100.0 * dense_ms / op_ms:.1f}% of op time, so about "
        f"{dense_wall_ms:,.1f} ms of the {wall_ms:,.1f} ms wall time (op time shared out in "
        f"proportion). If nothing else took time: {_fmt(dense_gflops, 1)} GFLOP/s = "
        f"{_fmt(dense_gflops and 100.0 * dense_gflops / peak)}% of the matmul reference, the "
        "ceiling for this row at these layer sizes.")


def _fmt(x, digits=1):
  return "n/a" if x is None else f"{x:,.{digits}f}"


def _row_label(mode, impl, impls, precision=None, precisions=()):
  """A table row's name: the mode, plus the attention implementation and the precision when
  several of them are timed."""
  parts = [mode]
  if len(impls) > 1:
    parts.append(impl)
  if len(precisions) > 1:
    parts.append(SHORT_PRECISION[precision])
  return ", ".join(parts)


SHORT_PRECISION = {"float32": "fp32", "mixed_bfloat16": "bf16", "mixed_float16": "fp16"}


def run_benchmark(config, config_path, batch, modes, warmup, repeats, steps, matmul_size,
                  attention=True, out=print, attention_impls=(), precisions=(), profile_ops=0):
  """Times the modes and prints the tables; returns {row label: row dict} (for tests and
  scripts). attention_impls, precisions: SelfAttention implementations and mixed-precision
  policies to time one after the other (rows 'mode, impl, precision'); empty: the config's
  only (rows named by mode). profile_ops > 0: also print each row's most expensive op types."""
  import tensorflow as tf
  from sagan_tf import hardware
  from sagan_tf.training.gan_step import GANTrainer

  config.global_batch_size = batch
  impls = list(attention_impls) or [config.attention_impl]
  precisions = list(precisions) or [config.mixed_precision or "float32"]
  config_lib.validate(config)
  strategy = tf.distribute.get_strategy()
  r, n = config.resolution, int(config.d_steps)
  classes = max(int(config.num_classes), 1)
  batches = tuple((tf.random.uniform([batch, r, r, 3], -1.0, 1.0),
                   tf.random.uniform([batch], 0, classes, dtype=tf.int32)) for _ in range(n))
  step = tf.constant(0, tf.int64)
  timings, profiles, counted_fn = {}, {}, None
  for precision in precisions:
    for impl in impls:
      config.attention_impl = impl
      config.mixed_precision = "" if precision == "float32" else precision
      trainer = GANTrainer(config, strategy)  # builds its models under the config's policy
      function_fn = tf.function(trainer.replica_step, jit_compile=False)
      counted_fn = counted_fn or function_fn
      fns = {"eager": trainer.replica_step, "function": function_fn,
             "xla": tf.function(trainer.replica_step, jit_compile=True)}
      for mode in modes:
        fn = fns[mode]

        def call(fn=fn):
          metrics = strategy.run(fn, args=(batches, step))
          return float(metrics["g_loss"])  # waits for the result

        label = _row_label(mode, impl, impls, precision, precisions)
        with _Eagerly(tf) if mode == "eager" else _NullContext():
          first, runs, memory = _time_calls(call, warmup, repeats, steps,
                                            measure=lambda: _Memory(tf))
          if profile_ops:
            profiles[label] = profile_op_types(tf, call, steps * repeats)
        timings[label] = (first, runs, memory.tf_peak, memory.rss_peak)
      del trainer, fns, function_fn

  # Counted after timing, so that the function mode's first call includes its tracing (the
  # graph counted here is then the one it traced). With several implementations: the first's.
  flops, uncounted = count_flops(tf, counted_fn.get_concrete_function(batches, step).graph)
  peak_best, peak_median = matmul_gflops(tf, matmul_size)
  rows = {}
  for mode, (first, runs, tf_peak, rss_peak) in timings.items():
    median, best = statistics.median(runs), min(runs)
    gflops = flops / median / 1e9
    rows[mode] = dict(ms_median=median * 1e3, ms_min=best * 1e3,
                      images_per_s=batch * n / median, first_call_s=first,
                      tf_peak_mib=None if tf_peak is None else tf_peak / MiB,
                      rss_peak_mib=rss_peak / MiB, gflops=gflops,
                      matmul_percent=100.0 * gflops / peak_best)

  out(f"SAGAN training iteration benchmark: {config_path}")
  out(f"  {r}x{r}, G ch {config.g_ch}, D ch {config.d_ch}, z {config.z_dim}, classes "
      f"{config.num_classes}, attention G {tuple(config.g_attention)} D "
      f"{tuple(config.d_attention)} ({', '.join(impls)}; query block "
      f"{config.attention_query_block}), loss {config.loss}, d_steps {n}, batch {batch}, "
      f"precision {', '.join(precisions)}; "
      f"{len(tf.config.list_physical_devices('CPU'))} CPU device(s), "
      f"{os.cpu_count()} logical cores, TF {tf.__version__}")
  out(f"  FLOPs per iteration: {flops / 1e9:,.3f} GFLOP (TensorFlow profiler, float_operation, "
      f"on the graph of the per-replica step{', ' + impls[0] if len(impls) > 1 else ''})")
  out(f"  CPU: {hardware.bf16_summary()}")
  out(f"  reference: {matmul_size}x{matmul_size} fp32 tf.matmul {peak_best:,.1f} GFLOP/s "
      f"(best of 5; median {peak_median:,.1f})")
  out("")
  out("| mode | ms/iter median | ms/iter min | images/s | first call s | TF peak MiB "
      "| RSS peak MiB | GFLOP/s | % of matmul |")
  out("|---|---|---|---|---|---|---|---|---|")
  for mode, row in rows.items():
    out(f"| {mode} | {_fmt(row['ms_median'])} | {_fmt(row['ms_min'])} | "
        f"{_fmt(row['images_per_s'])} | {_fmt(row['first_call_s'], 2)} | "
        f"{_fmt(row['tf_peak_mib'])} | {_fmt(row['rss_peak_mib'])} | {_fmt(row['gflops'], 2)} "
        f"| {_fmt(row['matmul_percent'])} |")
  out("")
  out(f"ms/iter: one iteration = {n} D sub-step(s) + 1 G sub-step, over {repeats} timed "
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
  if uncounted:
    worst = sorted(uncounted.items(), key=lambda kv: -kv[1][1])
    elements = sum(v[1] for v in uncounted.values())
    listed = ", ".join(f"{t} ({v[0]})" for t, v in worst[:12])
    more = f" and {len(worst) - 12} more types" if len(worst) > 12 else ""
    out(f"Not counted by the profiler (arithmetic ops with no FLOP formula or an unknown "
        f"shape; count of ops): {listed}{more}. They output {elements / 1e6:,.1f} M elements in "
        f"all: about {100.0 * elements / max(flops, 1):.1f}% of the counted FLOPs at 1 FLOP "
        "per element. Ops that only move or reshape data are not listed.")

  if len(precisions) > 1:
    out(f"With several precisions, GFLOP/s and % of matmul use the same FLOP count for every "
        f"row; the reference stays the fp32 matmul, so a bf16 row can exceed 100%.")
  if profiles:
    _profile_tables(profiles, rows, flops, peak_best, profile_ops, out)
  if len(impls) > 1:
    out("With several attention implementations, GFLOP/s and % of matmul use the FLOPs of "
        f"the {impls[0]} graph for every row (the blocked path recomputes the attention "
        "softmax in its backward pass, and the profiler does not count ops inside while loops).")
  if attention:
    _attention_table(tf, config, batch, modes, impls, precisions, rows, flops, out)
  out("")
  out(f"Process peak RSS (getrusage ru_maxrss): "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MiB:,.1f} MiB. "
      f"Total wall time: {time.perf_counter() - _START:.1f} s (TensorFlow import included).")
  return rows


def _attention_table(tf, config, batch, modes, impls, precisions, rows, flops, out):
  layers = _attention_layers(config, batch)
  out("")
  if not layers:
    out("SelfAttention alone: the config has no attention layers.")
    return
  out("SelfAttention alone (a layer at its input shape in this config, forward and forward "
      "+ backward to its input and weights; layers of one shape are timed once)")
  out("")
  out("| layer | input [B, H, W, C] | mode | impl | fwd ms | fwd+bwd ms | fwd+bwd TF MiB "
      "| map MiB | calls/iter fwd, fwd+bwd | est. ms/iter | est. share of iter |")
  out("|---|---|---|---|---|---|---|---|---|---|---|")
  attention_flops = 0.0
  totals = {label: 0.0 for label in rows}
  for shape, (label, n_fwd, n_fb) in layers.items():
    b, h, w, _ = shape
    map_mib = b * (h * w) * (h * w // 4) * 4 / MiB  # the float32 [B, N, N/4] map
    for precision, impl in itertools.product(precisions, impls):
      fns, graph = _attention_fns(tf, config, shape, modes, impl, precision)
      for mode in modes:
        fwd, fb = fns[mode]
        with _Eagerly(tf) if mode == "eager" else _NullContext():
          _, fwd_runs, _ = _time_calls(fwd, 1, 3, 1)
          _, fb_runs, memory = _time_calls(fb, 1, 3, 1, measure=lambda: _Memory(tf))
        t_fwd, t_fb = statistics.median(fwd_runs) * 1e3, statistics.median(fb_runs) * 1e3
        est = n_fwd * t_fwd + n_fb * t_fb
        row = _row_label(mode, impl, impls, precision, precisions)
        totals[row] += est
        peak = None if memory.tf_peak is None else (memory.tf_peak - memory.tf_base) / MiB
        shown = _row_label(mode, impl, [impl], precision, precisions)  # mode[, precision]
        out(f"| {label} | {list(shape)} | {shown} | {impl} | {_fmt(t_fwd, 2)} | {_fmt(t_fb, 2)} "
            f"| {_fmt(peak)} | {_fmt(map_mib)} | {n_fwd}, {n_fb} | {_fmt(est, 2)} | "
            f"{_fmt(100.0 * est / rows[row]['ms_median'])}% |")
      if impl == impls[0] and precision == precisions[0]:
        layer_flops, _ = count_flops(tf, graph)
        attention_flops += (n_fwd + n_fb) * layer_flops  # fwd-only calls counted as fwd+bwd
  out("")
  shares = ", ".join(f"{m} {100.0 * totals[m] / rows[m]['ms_median']:.1f}%" for m in rows)
  out(f"Attention layers together: estimated {shares} of the iteration time; at most "
      f"{100.0 * attention_flops / max(flops, 1):.1f}% of its FLOPs (profiler, forward-only "
      "calls counted as forward + backward). est. ms/iter = fwd calls x fwd ms + fwd+bwd calls "
      "x fwd+bwd ms: an estimate from the layer timed alone (in the iteration XLA and Grappler "
      "may fuse it with its neighbours). fwd+bwd TF MiB = peak bytes of TensorFlow's CPU "
      "allocator during the layer's timed forward + backward runs above those allocated "
      "before them (the layer's input and weights, and the models of the rows above, are "
      "not counted); map MiB = one float32 [B, N, N/4] attention map, which the naive path holds "
      "(and more) and the blocked path never does (per block: block x N/4 floats per image).")


# ---------------------------------------------------------------- input pipeline

PIPELINE_SOURCES = ("folder", "tfrecord", "tfds", "resized_png", "resized_jpeg")
PIPELINE_CLASSES = 10  # class subfolders of the generated data (labels do not change speed)
PIPELINE_TFDS_NAME = "sagan_benchmark_photos"


def _photo(rng, height, width):
  """A photo-like uint8 [height, width, 3]: a bicubic upsampling of a random coarse colour
  grid (one cell per ~32 px) plus pixel noise (sigma 6 levels), so JPEG sizes are realistic."""
  import numpy as np
  from PIL import Image
  coarse = rng.integers(0, 256, [height // 32 + 2, width // 32 + 2, 3], dtype=np.uint8)
  image = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), np.float32)
  return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def _build_local_tfds(data_dir, paths, labels):
  """Prepares a real TFDS dataset PIPELINE_TFDS_NAME in data_dir from the JPEG files (stored
  as JPEG bytes, as imagenet2012's are). Returns the builder."""
  import tensorflow_datasets as tfds
  tfds.disable_progress_bar()

  class SaganBenchmarkPhotos(tfds.core.GeneratorBasedBuilder):
    """The benchmark's generated photos as a TFDS dataset (one 'train' split)."""
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
          "label": tfds.features.ClassLabel(num_classes=PIPELINE_CLASSES)}))

    def _split_generators(self, dl_manager):
      del dl_manager
      return {"train": self._generate_examples()}

    def _generate_examples(self):
      for i, (path, label) in enumerate(zip(paths, labels)):
        yield i, {"image": path, "label": label}

  builder = SaganBenchmarkPhotos(data_dir=data_dir)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(num_shards=4))
  return builder


def make_pipeline_data(config, root, sources, num_images, height, width, seed=0):
  """Writes num_images photo-like JPEGs (quality 90, height x width) once per requested source
  under root. Returns {source: (config for it, what is stored, MiB on disk)}."""
  import numpy as np
  from PIL import Image
  import tensorflow as tf
  from sagan_tf.data import prepare
  from sagan_tf.data import tfrecord

  rng = np.random.default_rng(seed)
  base = config_lib.base_config()
  base.update(resolution=config.resolution, num_classes=PIPELINE_CLASSES)
  folder_dir = os.path.join(root, "folder")
  paths, labels = [], []
  for i in range(num_images):
    label = i % PIPELINE_CLASSES
    path = os.path.join(folder_dir, f"class{label}", f"{i:05d}.jpg")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(_photo(rng, height, width)).save(path, quality=90)
    paths.append(path)
    labels.append(label)

  def size_mib(files):
    return sum(os.path.getsize(f) for f in files) / MiB

  def cfg(**kw):
    c = config_lib.base_config()
    c.update(base)
    c.update(kw)
    return c
  full = f"{width}x{height} JPEG q90"
  made = {}
  folder_cfg = cfg(dataset="folder", data_dir=folder_dir)
  if "folder" in sources:
    made["folder"] = (folder_cfg, f"{full} files", size_mib(paths))
  if "tfrecord" in sources:
    files = [os.path.join(root, "tfrecord", f"full-{s}.tfrecord") for s in range(4)]
    os.makedirs(os.path.dirname(files[0]), exist_ok=True)
    writers = [tf.io.TFRecordWriter(f) for f in files]
    for i, (path, label) in enumerate(zip(paths, labels)):
      with open(path, "rb") as f:
        writers[i % 4].write(tfrecord.serialize_example(f.read(), label))
    for w in writers:
      w.close()
    made["tfrecord"] = (cfg(dataset="tfrecord", data_dir=os.path.join(root, "tfrecord", "*")),
                        f"{full} in 4 TFRecords", size_mib(files))
  if "tfds" in sources:
    tfds_dir = os.path.join(root, "tfds")
    _build_local_tfds(tfds_dir, paths, labels)
    files = [os.path.join(d, f) for d, _, fs in os.walk(tfds_dir) for f in fs]
    made["tfds"] = (cfg(dataset="tfds", tfds_name=PIPELINE_TFDS_NAME, data_dir=tfds_dir),
                    f"{full}, TFDS (4 shards)", size_mib(files))
  for fmt in ("png", "jpeg"):
    if f"resized_{fmt}" in sources:
      prefix = os.path.join(root, f"resized_{fmt}", "train")
      _, files = prepare.write_resized_shards(folder_cfg, prefix, 4, fmt)
      made[f"resized_{fmt}"] = (cfg(dataset="tfrecord", data_dir=f"{prefix}-*.tfrecord"),
                                f"{config.resolution} px {fmt.upper()} in 4 TFRecords "
                                "(tools/prepare_tfrecords.py)", size_mib(files))
  return made


def time_pipeline(config, batch, seconds, warmup_batches=5):
  """Images/s of sagan_tf.data.build_dataset(config, batch) alone: batches drawn as fast as
  it gives them for `seconds` after warmup_batches (the training input, prefetch included)."""
  from sagan_tf import data
  iterator = iter(data.build_dataset(config, batch))
  for _ in range(warmup_batches):
    next(iterator)
  count, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    next(iterator)
    count += 1
  return count * batch / (time.perf_counter() - start)


def _pipeline_table(config, batch, sources, num_images, size, seconds, root, step_rows, out):
  """Times each source's pipeline on generated images of size (width, height); prints a table
  next to the step's images/s (the first 'function' row of step_rows). Returns {source: img/s}."""
  step_label = next((label for label in step_rows if label.startswith("function")),
                    next(iter(step_rows)))
  consumed = step_rows[step_label]["images_per_s"]
  made = make_pipeline_data(config, root, sources, num_images, height=size[1], width=size[0])
  out("")
  out(f"Input pipeline alone (sagan_tf.data.build_dataset at {config.resolution} px, batch "
      f"{batch}, {num_images} generated photo-like images, {seconds:g} s per source after 5 "
      f"batches; {os.cpu_count()} logical cores) vs the training step's consumption "
      f"({step_label}: {consumed:,.1f} images/s)")
  out("")
  out("| source | stored as | MiB on disk | images/s | x step consumption | >= 2x |")
  out("|---|---|---|---|---|---|")
  results = {}
  for source in sources:
    source_cfg, stored, mib = made[source]
    rate = time_pipeline(source_cfg, batch, seconds)
    results[source] = rate
    out(f"| {source} | {stored} | {_fmt(mib)} | {_fmt(rate)} | {_fmt(rate / consumed, 2)} | "
        f"{'yes' if rate >= 2 * consumed else 'no'} |")
  out("")
  out("images/s = images per second the pipeline delivers with nothing else running in the "
      "process (decode, central square, antialiased resize, [-1, 1], shuffle, batch, "
      "prefetch; tf.data AUTOTUNE parallelism over all cores). In training it shares the "
      "cores with the step. x step consumption = images/s / the step's images/s above.")
  return results


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  modes = [m.strip() for m in FLAGS.modes if m.strip()]
  bad = sorted(set(modes) - set(MODES))
  if bad or not modes:
    raise app.UsageError(f"--modes: unknown {bad}; choose from {', '.join(MODES)}.")
  impls = [i.strip() for i in FLAGS.attention_impls if i.strip()]
  bad = sorted(set(impls) - set(config_lib.ATTENTION_IMPLS))
  if bad:
    raise app.UsageError(f"--attention_impls: unknown {bad}; choose from "
                         f"{', '.join(config_lib.ATTENTION_IMPLS)}.")
  precisions = [p.strip() for p in FLAGS.precisions if p.strip()]
  bad = sorted(set(precisions) - set(PRECISIONS))
  if bad:
    raise app.UsageError(f"--precisions: unknown {bad}; choose from {', '.join(PRECISIONS)}.")
  sources = [s.strip() for s in FLAGS.pipeline_sources if s.strip()]
  bad = sorted(set(sources) - set(PIPELINE_SOURCES))
  if bad:
    raise app.UsageError(f"--pipeline_sources: unknown {bad}; choose from "
                         f"{', '.join(PIPELINE_SOURCES)}.")
  try:
    size = tuple(int(v) for v in FLAGS.pipeline_image_size.lower().split("x"))
    assert len(size) == 2 and min(size) >= 1
  except (ValueError, AssertionError):
    raise app.UsageError(f"--pipeline_image_size={FLAGS.pipeline_image_size!r}: give "
                         "WIDTHxHEIGHT, e.g. 500x375.") from None
  config = FLAGS.config
  batch = FLAGS.batch_size or int(config.global_batch_size)
  rows = run_benchmark(config, config_flags.get_config_filename(FLAGS["config"]), batch, modes,
                       FLAGS.warmup, FLAGS.repeats, FLAGS.steps, FLAGS.matmul_size,
                       FLAGS.attention, attention_impls=impls, precisions=precisions,
                       profile_ops=FLAGS.profile_ops)
  if sources:
    import tempfile
    with tempfile.TemporaryDirectory(prefix="sagan_pipeline_") as root:
      _pipeline_table(config, batch, sources, FLAGS.pipeline_images, size,
                      FLAGS.pipeline_seconds, root, rows, print)


if __name__ == "__main__":
  define_flags()
  config_lib.check_overrides(sys.argv)
  app.run(main)
