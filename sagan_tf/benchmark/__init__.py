"""Benchmarks of SAGAN training on this machine (the library of python -m sagan_tf.cli.benchmark).

Modules: suite (run_benchmark: the whole iteration report), iteration (the training-iteration
rows per mode / attention impl / precision), harness (warm-up, repeats, steps), memory (RSS
sampler, TF allocator peak), flops (FLOPs of a graph, the matmul reference), profile (op-type
tables from TensorFlow's profiler), attention (SelfAttention layers alone), pipeline (the
input pipeline alone on generated data), inception (the evaluation's Inception network alone:
images/s per precision, FID change), report (lines and tables -> benchmark.md / .json).
"""

from sagan_tf.benchmark.flops import count_flops
from sagan_tf.benchmark.inception import INCEPTION_MODES
from sagan_tf.benchmark.inception import inception_table
from sagan_tf.benchmark.iteration import MODES
from sagan_tf.benchmark.iteration import PRECISIONS
from sagan_tf.benchmark.pipeline import PIPELINE_CLASSES
from sagan_tf.benchmark.pipeline import PIPELINE_SOURCES
from sagan_tf.benchmark.pipeline import run_pipeline
from sagan_tf.benchmark.report import Report
from sagan_tf.benchmark.suite import run_benchmark

__all__ = ["INCEPTION_MODES", "MODES", "PIPELINE_CLASSES", "PIPELINE_SOURCES", "PRECISIONS", "Report",
           "count_flops", "inception_table", "run_benchmark", "run_pipeline"]
