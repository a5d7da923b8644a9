"""Op-type tables from TensorFlow's profiler: where a row's iteration time goes.

profile_op_types runs calls under tf.profiler.experimental and reads the XPlane trace it
writes: time per op type summed over TensorFlow's threads (TensorFlow kernels in function
mode, XLA:CPU thunks in xla mode). profile_tables prints a row's most expensive op types and
what its convolutions and matmuls alone achieve.
"""

import glob
import os
import tempfile

import tensorflow as tf
# Private API: the XPlane protobuf the profiler writes (*.xplane.pb); TensorFlow has no public
# reader of a trace's events, only TensorBoard's profile plugin.
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from sagan_tf.benchmark import report as report_lib

DENSE_MARKERS = ("Conv2D", "MatMul", "Einsum", "convolution", "dot")
NOT_OPS = frozenset(("BlockUntilReady", "MemoryAllocation", "MemoryDeallocation",
                     "ValidateInputTypeAndPlacement"))
OP_COLUMNS = (
    report_lib.Column("op_type", "op type"),
    report_lib.Column("ms_per_iter", "ms/iter", report_lib.number(2)),
    report_lib.Column("share_percent", "share of op time", report_lib.number(1, "%")),
    report_lib.Column("ops_per_iter", "ops/iter", report_lib.number(0)))


def op_type(name):
  """The op type of a profiler event name, or None for events that are not op kernels:
  TensorFlow kernels are 'node name:OpType'; XLA:CPU thunks are 'hlo_name.N' (fusions are
  grouped as 'XLA fusion')."""
  if name.startswith(("end: ", "TFE_", "Eager")) or "::" in name or name in NOT_OPS:
    return None
  if ":" in name:
    kind = name.rsplit(":", 1)[1]
    return None if not kind or kind.startswith("__") or " " in kind else kind
  base = name.rsplit(".", 1)[0] if name.rsplit(".", 1)[-1].isdigit() else name
  return "XLA fusion" if "fusion" in base else base


def _trace(call, iterations):
  """The XSpace of TensorFlow's profiler around `iterations` calls of `call`; None if the
  profiler wrote no trace."""
  with tempfile.TemporaryDirectory(prefix="sagan_profile_") as logdir:
    tf.profiler.experimental.start(logdir)
    try:
      for _ in range(iterations):
        call()
    finally:
      tf.profiler.experimental.stop()
    files = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not files:
      return None
    space = xplane_pb2.XSpace()
    with open(files[0], "rb") as f:
      space.ParseFromString(f.read())
  return space


def op_type_totals(space, iterations):
  """{op type: [ms per iteration, ops per iteration]} of an XSpace's host-CPU op events: the
  op kernels of a tf.function, or the thunks of an XLA:CPU executable (on the intra-op
  threads, or inside CpuExecutable::ExecuteAsyncOnStream on the Python thread, whose other
  events are Python-level)."""
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
        kind = op_type(name)
        if kind is None or (python and ":" not in name and event.offset_ps > xla_until):
          continue
        entry = totals.setdefault(kind, [0.0, 0.0])
        entry[0] += event.duration_ps / 1e9 / iterations
        entry[1] += 1.0 / iterations
  return totals


def profile_op_types(call, iterations):
  """{op type: [ms per iteration, ops per iteration]} summed over TensorFlow's threads over
  `iterations` calls of `call` (op_type_totals); {} if the profile cannot be read."""
  space = _trace(call, iterations)
  return {} if space is None else op_type_totals(space, iterations)


def profile_tables(report, profiles, rows, flops, peak, top):
  """Prints, per profiled row, its `top` op types by time and the convolutions' own speed.

  profiles: {row label: profile_op_types(...)}; rows: the iteration rows ({label: row dict});
  flops: FLOPs per iteration; peak: the matmul reference's best GFLOP/s.
  """
  fmt = report_lib.fmt
  for label, totals in profiles.items():
    report.line("")
    if not totals:
      report.line(f"Profile of '{label}': not available (no profiler trace).")
      continue
    op_ms = sum(ms for ms, _ in totals.values())
    dense_ms = sum(ms for t, (ms, _) in totals.items() if any(m in t for m in DENSE_MARKERS))
    wall_ms = rows[label]["ms_median"]
    report.line(f"Profile of '{label}' (TensorFlow profiler; op time summed over TensorFlow's "
                f"threads, {op_ms:,.1f} ms per iteration against {wall_ms:,.1f} ms wall)")
    report.line("")
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]
    report.table("op_types", OP_COLUMNS, of=label, rows=[
        dict(op_type=kind, ms_per_iter=ms, share_percent=100.0 * ms / op_ms, ops_per_iter=count)
        for kind, (ms, count) in ranked])
    if label.startswith("xla"):
      report.line("")
      report.line(f"XLA:CPU launches convolutions and dots on its thread pool: their thunk "
                  f"events above cover the launch, not the work, so op time ({op_ms:,.1f} ms) "
                  f"is not the whole iteration ({wall_ms:,.1f} ms) and no convolution ceiling "
                  "is given for this row.")
      continue
    dense_wall_ms = wall_ms * dense_ms / op_ms
    dense_gflops = flops / (dense_wall_ms / 1e3) / 1e9 if dense_ms else None
    report.line("")
    report.line(
        f"Convolutions and matmuls (op types containing {', '.join(DENSE_MARKERS)}): "
        f"{dense_ms:,.1f} ms/iter, {100.0 * dense_ms / op_ms:.1f}% of op time, so about "
        f"{dense_wall_ms:,.1f} ms of the {wall_ms:,.1f} ms wall time (op time shared out in "
        f"proportion). If nothing else took time: {fmt(dense_gflops, 1)} GFLOP/s = "
        f"{fmt(dense_gflops and 100.0 * dense_gflops / peak)}% of the matmul reference, the "
        "ceiling for this row at these layer sizes.")
