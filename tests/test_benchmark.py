"""Tests of tools/benchmark.py: the binary prints its tables on a tiny cpu_demo, rejects bad
flags, and counts FLOPs the way the profiler's convention says. No assertion is on a timing."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "benchmark.py")
TINY = ["--config=experiments/cpu_demo.py", "--config.g_ch=8", "--config.d_ch=8",
        "--batch_size=4", "--repeats=1", "--warmup=1", "--matmul_size=256"]
MODE_COLUMNS = ["mode", "ms/iter median", "ms/iter min", "images/s", "first call s",
                "TF peak MiB", "RSS peak MiB", "GFLOP/s", "% of matmul"]


def _start(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.Popen([sys.executable, TOOL, *args], cwd=REPO, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def runs():
  """Both subprocesses start at once, so the cheap one overlaps the benchmark run."""
  procs = {"tiny": _start(*TINY), "bad_mode": _start(*TINY, "--modes=eager,jit"),
           "compare": _start(*TINY, "--modes=function", "--attention_impls=naive,blocked",
                             "--precisions=float32,mixed_bfloat16", "--profile_ops=5",
                             "--pipeline_sources=folder,tfrecord,resized_png",
                             "--pipeline_images=12", "--pipeline_image_size=40x60",
                             "--pipeline_seconds=0.2"),
           "bad_impl": _start(*TINY, "--attention_impls=naive,fast"),
           "bad_precision": _start(*TINY, "--precisions=float32,bf16")}
  return {name: (p, *p.communicate(timeout=600)) for name, p in procs.items()}


def _table(text, header_start):
  """Rows (lists of cells) of the markdown table whose header starts with header_start."""
  lines = text.splitlines()
  start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
  rows = []
  for line in lines[start:]:
    if not line.startswith("|"):
      break
    rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
  return rows[0], rows[2:]  # header, body (skipping the |---| line)


def _number(cell):
  return float(cell.replace(",", "").rstrip("%"))


def test_prints_a_row_per_mode_with_positive_numbers(runs):
  proc, out, err = runs["tiny"]
  assert proc.returncode == 0, err[-3000:]
  header, body = _table(out, "| mode |")
  assert header == MODE_COLUMNS
  assert [row[0] for row in body] == ["eager", "function", "xla"]
  for row in body:
    for column, cell in zip(header[1:], row[1:]):
      if column == "TF peak MiB" and cell == "n/a":  # allocator statistics unavailable
        continue
      assert _number(cell) > 0, (row[0], column, cell)
  flops = re.search(r"FLOPs per iteration: ([\d,.]+) GFLOP", out)
  assert flops and _number(flops.group(1)) > 0
  assert re.search(r"tf\.matmul [\d,.]+ GFLOP/s", out)
  assert "Total wall time:" in out


def test_times_the_attention_layer_alone(runs):
  _, out, _ = runs["tiny"]
  header, body = _table(out, "| layer |")
  assert header[:4] == ["layer", "input [B, H, W, C]", "mode", "impl"]
  # cpu_demo at ch 8: attention at 16x16 in G and D, both [4, 16, 16, 8]: timed once per mode
  # with the config's implementation ("auto").
  assert [tuple(row[:4]) for row in body] == [
      ("G attention16 + D attention16", "[4, 16, 16, 8]", mode, "auto")
      for mode in ("eager", "function", "xla")]
  for row in body:
    numbers = row[4:8] + row[9:]  # all but the label columns and 'calls/iter'
    assert all(_number(cell) > 0 for cell in numbers if cell != "n/a"), row
    assert abs(_number(row[7]) - 4 * 256 * 64 * 4 / 2**20) <= 0.05  # map: f32 [4, 256, 64]
  assert "Attention layers together" in out


def test_compares_attention_impls_and_times_the_pipeline(runs):
  proc, out, err = runs["compare"]
  assert proc.returncode == 0, err[-3000:]
  _, body = _table(out, "| mode |")
  labels = ["function, naive, fp32", "function, blocked, fp32", "function, naive, bf16",
            "function, blocked, bf16"]
  assert [row[0] for row in body] == labels
  _, body = _table(out, "| layer |")
  assert [(row[2], row[3]) for row in body] == [
      ("function, fp32", "naive"), ("function, fp32", "blocked"), ("function, bf16", "naive"),
      ("function, bf16", "blocked")]
  assert re.search(r"CPU: bfloat16 instructions: ", out)
  for label in labels:  # one op-type table per row, led by the op kernels TensorFlow ran
    header, ops = _table(out[out.index(f"Profile of '{label}'"):], "| op type |")
    assert header == ["op type", "ms/iter", "share of op time", "ops/iter"] and len(ops) == 5
    assert all(_number(row[1]) >= 0 and _number(row[3]) > 0 for row in ops)
    assert sum(_number(row[2]) for row in ops) <= 100.5
  assert len(re.findall(r"Convolutions and matmuls .*: [\d.,]+ ms/iter", out)) == 4
  header, body = _table(out, "| source |")
  assert header == ["source", "stored as", "MiB on disk", "images/s", "x step consumption",
                    ">= 2x"]
  assert [row[0] for row in body] == ["folder", "tfrecord", "resized_png"]
  assert "40x60 JPEG q90" in body[0][1] and "32 px PNG" in body[2][1]
  step = _number(_table(out, "| mode |")[1][0][3])  # function, naive images/s
  for row in body:
    assert _number(row[3]) > 0 and row[5] in ("yes", "no")
    assert abs(_number(row[4]) - _number(row[3]) / step) <= 0.01 + 0.01 * _number(row[4])


def test_rejects_unknown_mode(runs):
  proc, out, err = runs["bad_mode"]
  assert proc.returncode != 0
  assert "jit" in err and "eager, function, xla" in err
  proc, _, err = runs["bad_impl"]
  assert proc.returncode != 0 and "fast" in err and "auto, naive, blocked" in err
  proc, _, err = runs["bad_precision"]
  assert proc.returncode != 0 and "bf16" in err and "mixed_bfloat16" in err


def test_rejects_unknown_config_key():
  proc = _start("--config=experiments/cpu_demo.py", "--config.no_such_key=1")
  _, err = proc.communicate(timeout=300)
  assert proc.returncode != 0 and "Unknown config key 'no_such_key'" in err


def _benchmark_module():
  spec = importlib.util.spec_from_file_location("sagan_benchmark", TOOL)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)  # defines no flags: those are defined by the binary only
  return module


def test_flop_count_follows_the_profiler_convention():
  # [8, 16] @ [16, 32]: 8 * 32 outputs of 16 multiply-adds, 2 FLOPs each; the ReLU has no
  # FLOP formula in TensorFlow's registry and is reported as uncounted.
  bench = _benchmark_module()
  fn = tf.function(lambda a, b: tf.nn.relu(tf.matmul(a, b)))
  graph = fn.get_concrete_function(tf.TensorSpec([8, 16]), tf.TensorSpec([16, 32])).graph
  total, uncounted = bench.count_flops(tf, graph)
  assert total == 2 * 8 * 16 * 32
  assert uncounted == {"Relu": [1, 8 * 32]}


def test_profile_event_names_map_to_op_types():
  bench = _benchmark_module()
  assert bench._op_type("generator/block0/conv1/Conv2D:_MklNativeConv2D") == "_MklNativeConv2D"
  assert bench._op_type("Conv2D.12") == "Conv2D"              # an XLA:CPU thunk
  assert bench._op_type("multiply_reduce_fusion.3") == "XLA fusion"
  for wrapper in ("ExecutorState::Process", "end: Conv2D.1", "BlockUntilReady",
                  "__inference_f_23:__inference_f_23", "EagerLocalExecute: __inference_f"):
    assert bench._op_type(wrapper) is None, wrapper
