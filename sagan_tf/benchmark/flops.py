"""FLOPs of a traced graph (TensorFlow's profiler) and the machine's fp32 matmul GFLOP/s."""

import statistics

import tensorflow as tf
# Private API: the op registry of FLOP formulas that tf.compat.v1.profiler counts with. It is
# asked op by op to find the arithmetic ops the profiler could not count (no formula or an
# unknown shape); the public profiler gives only the total.
from tensorflow.python.framework import ops as ops_lib

from sagan_tf.benchmark import harness

# Op types that only move, reshape, read or route data: no arithmetic, so no FLOPs to miss.
DATA_MOVEMENT = frozenset((
    "BroadcastArgs", "BroadcastGradientArgs", "BroadcastTo", "Cast", "ConcatV2", "Const",
    "ExpandDims", "Fill", "GatherV2", "Identity", "IdentityN", "OnesLike", "Pack", "Placeholder",
    "ReadVariableOp", "Reshape", "ResourceGather", "Shape", "ShapeN", "Slice", "Squeeze",
    "StopGradient", "StridedSlice", "StridedSliceGrad", "Tile", "Transpose", "Unpack",
    "UnsortedSegmentSum", "ZerosLike"))


def count_flops(graph):
  """FLOPs of one run of `graph` by TensorFlow's profiler, and what it could not count.

  Returns (total FLOPs, a multiply-add counting 2; {op type: [number of ops, float output
  elements]} of the ops doing arithmetic that have no FLOP formula in TensorFlow's registry
  or lack fully known shapes).
  """
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


def matmul_gflops(n, repeats=5):
  """(best, median) GFLOP/s of an n x n fp32 tf.matmul under tf.function."""
  a = tf.random.normal([n, n])
  b = tf.random.normal([n, n])
  fn = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
  _, runs, _ = harness.time_calls(lambda: fn().numpy(), 1, repeats, 1)
  flops = 2.0 * n ** 3
  return flops / min(runs) / 1e9, flops / statistics.median(runs) / 1e9
