"""run_benchmark: the iteration rows with their FLOPs and profiles, then attention alone.

The report it prints (and keeps, report.Report): a header (config, machine, FLOPs per
iteration, the fp32 matmul reference), the iteration table (iteration.py) and its notes, one
op-type table per row with profile_ops (profile.py), each SelfAttention layer alone
(attention.py), and the process's peak RSS and wall time.
"""

import os
import time

import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf import hardware
from sagan_tf.benchmark import attention as attention_lib
from sagan_tf.benchmark import flops as flops_lib
from sagan_tf.benchmark import iteration
from sagan_tf.benchmark import memory as memory_lib
from sagan_tf.benchmark import profile
from sagan_tf.benchmark import report as report_lib


def _header(report, config, config_path, batch, impls, precisions, flops, matmul_size, matmul):
  """Prints the header lines and records them in report.meta (matmul: (best, median) GFLOP/s
  of the matmul_size fp32 reference)."""
  r = config.resolution
  setup = (f"{r}x{r}, G ch {config.g_ch}, D ch {config.d_ch}, z {config.z_dim}, classes "
           f"{config.num_classes}, attention G {tuple(config.g_attention)} D "
           f"{tuple(config.d_attention)} ({', '.join(impls)}; query block "
           f"{config.attention_query_block}), loss {config.loss}, d_steps {int(config.d_steps)}, "
           f"batch {batch}, precision {', '.join(precisions)}; "
           f"{len(tf.config.list_physical_devices('CPU'))} CPU device(s), "
           f"{os.cpu_count()} logical cores, TF {tf.__version__}")
  cpu = f"CPU: {hardware.bf16_summary()}"
  report.meta.update(config_path=config_path, batch=batch, setup=setup, cpu=cpu,
                     flops_per_iteration=flops,
                     matmul_reference=dict(size=matmul_size, best_gflops=matmul[0],
                                           median_gflops=matmul[1]))
  report.line(f"SAGAN training iteration benchmark: {config_path}")
  report.line(f"  {setup}")
  report.line(f"  FLOPs per iteration: {flops / 1e9:,.3f} GFLOP (TensorFlow profiler, "
              f"float_operation, on the graph of the per-replica step"
              f"{', ' + impls[0] if len(impls) > 1 else ''})")
  report.line(f"  {cpu}")
  report.line(f"  reference: {matmul_size}x{matmul_size} fp32 tf.matmul {matmul[0]:,.1f} GFLOP/s "
              f"(best of 5; median {matmul[1]:,.1f})")
  report.line("")


def run_benchmark(config, config_path, batch, modes, warmup, repeats, steps, matmul_size,
                  attention=True, report=None, attention_impls=(), precisions=(),
                  profile_ops=0, started=None):
  """Times the modes and prints the tables; returns {row label: iteration row dict}.

  attention_impls, precisions: SelfAttention implementations and mixed-precision policies to
  time one after the other (rows 'mode, impl, precision'); empty: the config's only (rows
  named by mode). profile_ops > 0: also print each row's most expensive op types. report:
  where lines go (default: a new report.Report printing them). started: the time.perf_counter()
  the printed wall time counts from, e.g. the binary's start (default: this call's).
  """
  report = report or report_lib.Report()
  since = " (TensorFlow import included)" if started is not None else ""
  started = time.perf_counter() if started is None else started
  config.global_batch_size = batch
  impls = list(attention_impls) or [config.attention_impl]
  precisions = list(precisions) or [config.mixed_precision or "float32"]
  config_lib.validate(config)
  args = iteration.random_batches(config, batch)
  d_steps = int(config.d_steps)
  timings, profiles, counted_fn = iteration.time_iterations(
      config, args, modes, impls, precisions, warmup, repeats, steps, profile_ops)
  # Counted after timing, so that the function mode's first call includes its tracing (the
  # graph counted here is then the one it traced). With several implementations: the first's.
  flops, uncounted = flops_lib.count_flops(counted_fn.get_concrete_function(*args).graph)
  matmul = flops_lib.matmul_gflops(matmul_size)
  rows = iteration.iteration_rows(timings, flops, batch * d_steps, matmul[0])

  _header(report, config, config_path, batch, impls, precisions, flops, matmul_size, matmul)
  iteration.iteration_table(report, rows, d_steps, warmup, repeats, steps)
  iteration.uncounted_note(report, uncounted, flops)
  if len(precisions) > 1:
    report.line("With several precisions, GFLOP/s and % of matmul use the same FLOP count for "
                "every row; the reference stays the fp32 matmul, so a bf16 row can exceed 100%.")
  if profiles:
    profile.profile_tables(report, profiles, rows, flops, matmul[0], profile_ops)
  if len(impls) > 1:
    report.line("With several attention implementations, GFLOP/s and % of matmul use the FLOPs "
                f"of the {impls[0]} graph for every row (the blocked path recomputes the "
                "attention softmax in its backward pass, and the profiler does not count ops "
                "inside while loops).")
  if attention:
    attention_lib.attention_table(report, config, batch, modes, impls, precisions, rows, flops)
  report.line("")
  report.line(f"Process peak RSS (getrusage ru_maxrss): "
              f"{memory_lib.process_peak_rss() / memory_lib.MiB:,.1f} MiB. "
              f"Total wall time: {time.perf_counter() - started:.1f} s{since}.")
  return rows
