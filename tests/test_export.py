"""Tests of the TF Serving export (sagan_tf/export): signatures, parity with Keras in a process
that does not import sagan_tf, saved_model_cli, determinism, input errors, inference mode,
warm-up file, atomic writes and refusal to overwrite."""

import copy
import os
import re
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import tiny_sagan
from tiny_sagan import NUM_CLASSES, RESOLUTION, Z_DIM

from sagan_tf.export import exporter
from sagan_tf.sampling import bn_stats, noise
from sagan_tf import models as models_lib
from sagan_tf.store import exports

SEED, TRUNCATION = 123, 0.7


def _saved_model_cli():
  exe = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  if os.path.exists(exe):
    return [exe]
  return [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


@pytest.fixture(scope="session")
def loaded(tmp_path_factory):
  return tiny_sagan.shared_loaded(tmp_path_factory)


@pytest.fixture(scope="session")
def jobs(tiny, exported, tmp_path_factory):
  """Starts every slow subprocess of this module at once; tests wait for their own."""
  base, path = exported
  io = str(tmp_path_factory.mktemp("parity"))
  z, labels = _inputs()
  np.save(os.path.join(io, "z.npy"), z)
  np.save(os.path.join(io, "labels.npy"), labels)
  row = "[" + ",".join(["0.5"] * Z_DIM) + "]"
  run_dir = str(tmp_path_factory.mktemp("cli_run"))
  cli_base = str(tmp_path_factory.mktemp("cli_export"))
  os.makedirs(os.path.join(cli_base, "5"))  # an existing version: the CLI must pick 6
  export_args = ["-m", "sagan_tf.cli.export", f"--workdir={tiny['workdir']}"]  # recorded config
  return {
      "parity": (tiny_sagan.python("-c", PARITY_SCRIPT, path, io, cwd=io), io),
      "show": tiny_sagan.Job(_saved_model_cli() + ["show", "--all", "--dir", path]),
      # TF 2.21's saved_model_cli evaluates --input_exprs with ast.literal_eval: plain
      # literals only (np.zeros(...) is rejected); values take the signature's dtypes.
      "run": (tiny_sagan.Job(_saved_model_cli() + [
          "run", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default",
          "--input_exprs", f"z=[{row},{row}];labels=[0,{NUM_CLASSES - 1}]",
          "--outdir", run_dir]), run_dir),
      "cli_export": (tiny_sagan.python(*export_args, f"--export_dir={cli_base}",
                                       "--use_ema=false", "--warmup=true", "--bn_stats=moving",
                                       "--max_batch=8", "--model_name=tiny"), cli_base),
      "cli_other_model": tiny_sagan.python(*export_args, "--config=experiments/cpu_demo.py",
                                           f"--export_dir={cli_base}_other"),
      "limit": tiny_sagan.python("-c", LIMIT_SCRIPT, path, cwd=io),
      # The existing version is refused before the config or anything else is loaded.
      "cli_refuse": tiny_sagan.python("-m", "sagan_tf.cli.export", f"--workdir={tiny['workdir']}",
                                      f"--export_dir={base}", "--version=1"),
  }


def _inputs(n=5):
  z = np.random.default_rng(1).normal(size=[n, Z_DIM]).astype(np.float32)
  labels = (np.arange(n) % NUM_CLASSES).astype(np.int32)
  return z, labels


PARITY_SCRIPT = textwrap.dedent("""
  import os, sys
  import numpy as np
  import tensorflow as tf
  export, io = sys.argv[1], sys.argv[2]
  m = tf.saved_model.load(export)
  z, labels = np.load(os.path.join(io, "z.npy")), np.load(os.path.join(io, "labels.npy"))
  out = m.signatures["serving_default"](z=tf.constant(z), labels=tf.constant(labels))
  att = m.signatures["generate_with_attention"](z=tf.constant(z), labels=tf.constant(labels))
  seeded = m.signatures["generate_from_seed"](
      seed=tf.constant({seed}, tf.int64), labels=tf.constant(labels),
      truncation=tf.constant({truncation}, tf.float32))
  for prefix, result in (("default_", out), ("attention_", att), ("seeded_", seeded)):
    for key, value in result.items():
      np.save(os.path.join(io, prefix + key + ".npy"), value.numpy())
  assert "sagan_tf" not in sys.modules, "the export must load without the project's code"
  print("OK", sorted(out), sorted(att), sorted(seeded))
""").format(seed=SEED, truncation=TRUNCATION)


LIMIT_SCRIPT = textwrap.dedent("""
  import resource, sys
  import tensorflow as tf
  m = tf.saved_model.load(sys.argv[1])
  fn = m.signatures["generate_from_seed"]
  fn(seed=tf.constant(1, tf.int64), labels=tf.zeros([2], tf.int32), truncation=tf.constant(0.0))
  before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  try:
    fn(seed=tf.constant(1, tf.int64), labels=tf.zeros([20000], tf.int32),
       truncation=tf.constant(0.0))
    print("NO ERROR")
  except tf.errors.InvalidArgumentError as e:
    print("ERROR", " ".join(e.message.split()))
  print("GREW_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
""")


def test_layout_version_and_metadata(exported, jobs):
  del jobs  # started first, so they overlap with the in-process tests
  base, path = exported
  assert path == os.path.join(base, "1")
  assert os.path.isfile(os.path.join(path, "saved_model.pb"))
  assert os.path.isdir(os.path.join(path, "variables"))
  assert sorted(os.listdir(base)) == ["1"]  # no temporary directory left behind
  meta = exports.read_metadata(path)
  assert (meta["z_dim"], meta["num_classes"], meta["resolution"]) == (Z_DIM, NUM_CLASSES,
                                                                         RESOLUTION)
  assert meta["attention_layers"] == {"attention16": [16, 16]}
  assert meta["version"] == 1 and meta["step"] == 7
  assert meta["max_batch"] == 256 and meta["bn_stats"]["mode"] == "moving"
  assert exports.next_version(base) == 2
  assert exports.resolve_version_dir(base) == path


BAD_INPUT_CASES = [(sig, case) for sig in ("serving_default", "generate_with_attention")
                   for case in ("label_too_big", "label_negative", "z_width", "batch",
                                "too_many")] + [
                       ("generate_from_seed", case)
                       for case in ("label_too_big", "label_negative", "truncation", "nan",
                                    "empty", "too_many")]


@pytest.mark.parametrize("signature,case", BAD_INPUT_CASES)
def test_bad_inputs_raise_clear_errors(loaded, signature, case):
  z, labels, truncation = *_inputs(2), 0.0
  expected = rf"labels must be in \[0, {NUM_CLASSES}\) \(num_classes = {NUM_CLASSES}\)"
  if case == "label_too_big":
    labels = np.array([0, NUM_CLASSES], np.int32)
  elif case == "label_negative":
    labels = np.array([-1, 0], np.int32)
  elif case == "z_width":
    z, expected = np.zeros([2, Z_DIM + 1], np.float32), rf"z must have shape \[batch, {Z_DIM}\]"
  elif case == "batch":
    labels, expected = np.array([0, 1, 2], np.int32), "z and labels must have the same batch size"
  elif case == "empty":
    labels, expected = np.zeros([0], np.int32), r"the batch must not be empty"
  elif case == "too_many":
    z, labels = np.zeros([257, Z_DIM], np.float32), np.zeros([257], np.int32)
    expected = r"at most max_batch = 256 rows .*--max_batch"
  else:
    truncation = -1.0 if case == "truncation" else float("nan")
    expected = "truncation must be a finite number >= 0"
  fn = loaded.signatures[signature]
  with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
    if signature == "generate_from_seed":
      fn(seed=tf.constant(1, tf.int64), labels=tf.constant(labels),
         truncation=tf.constant(truncation, tf.float32))
    else:
      fn(z=tf.constant(z), labels=tf.constant(labels))


def _signature_ops(saved_model_dir):
  """Op types reachable from each signature (through called functions and branches)."""
  from tensorflow.core.protobuf import saved_model_pb2
  sm = saved_model_pb2.SavedModel()
  with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
    sm.ParseFromString(f.read())
  meta = sm.meta_graphs[0]
  library = {fn.signature.name: fn for fn in meta.graph_def.library.function}
  nodes = {n.name: n for n in meta.graph_def.node}

  def called(node):
    for attr in node.attr.values():
      if attr.HasField("func"):
        yield attr.func.name
      for fn in attr.list.func:
        yield fn.name

  result = {}
  for name, sig in meta.signature_def.items():
    if name.startswith("__"):
      continue
    ops, todo, seen = set(), [], set()
    for info in sig.outputs.values():
      todo.extend(called(nodes[info.name.split(":")[0]]))
    while todo:
      fname = todo.pop()
      if fname in seen or fname not in library:
        continue
      seen.add(fname)
      for node in library[fname].node_def:
        ops.add(node.op)
        todo.extend(called(node))
    result[name] = ops
  return result


def test_signatures_are_inference_only(exported, loaded):
  ops = _signature_ops(exported[1])
  assert set(ops) == {"serving_default", "generate_from_seed", "generate_with_attention"}
  for name, types in ops.items():
    assert "Conv2D" in types and "Softmax" in types, name  # the traversal reaches the network
    writes = {t for t in types if t.startswith("Assign") or t.startswith("ResourceApply")}
    assert not writes, f"{name} writes variables (u or BN statistics moved): {writes}"
  z, labels = _inputs(3)
  fn = loaded.signatures["serving_default"]
  a = fn(z=tf.constant(z), labels=tf.constant(labels))["images"].numpy()
  b = fn(z=tf.constant(z), labels=tf.constant(labels))["images"].numpy()
  np.testing.assert_array_equal(a, b)


class _FakeArchive:
  """Stands in for the ExportArchive: records what exists while it writes, may fail midway."""

  def __init__(self, base, version, fail):
    self.final, self.fail, self.seen = os.path.join(base, str(version)), fail, []

  def write_out(self, filepath, verbose=True):
    del verbose
    self.seen.append((filepath, os.path.exists(self.final)))
    with open(os.path.join(filepath, "saved_model.pb"), "w") as f:
      f.write("half written" if self.fail else "complete")
    if self.fail:
      raise RuntimeError("disk full")


def test_export_is_atomic_and_refuses_overwrite(tiny, exported, tmp_path, monkeypatch):
  # Refusal: the existing version is untouched.
  with pytest.raises(FileExistsError, match="already exists.*refusing to overwrite"):
    exporter.export_generator(tiny["ema_generator"], exported[0], version=1)
  assert sorted(os.listdir(exported[0])) == ["1"]
  base = str(tmp_path / "base")
  for version, fail in ((3, True), (3, False), (None, False)):
    archive = _FakeArchive(base, version or 4, fail)
    monkeypatch.setattr(exporter, "build_archive", lambda generator, max_batch, a=archive: a)
    if fail:
      with pytest.raises(RuntimeError, match="disk full"):
        exporter.export_generator(tiny["ema_generator"], base, version=version)
      # A failed export leaves neither the version nor temporary files.
      assert os.listdir(base) == []
    else:
      path = exporter.export_generator(tiny["ema_generator"], base, version=version)
      assert path == archive.final
      with open(os.path.join(path, "saved_model.pb")) as f:
        assert f.read() == "complete"
      assert os.path.isfile(os.path.join(path, "assets.extra", "sagan_export.json"))
    # It was written in a hidden, non-numeric directory of BASE while BASE/<version> was absent.
    [(written, existed)] = archive.seen
    assert os.path.dirname(written) == base and not existed
    assert not os.path.basename(written).isdigit() and os.path.basename(written).startswith(".")
  assert sorted(os.listdir(base)) == ["3", "4"]  # the default version is the next free one
  with pytest.raises(FileExistsError, match="already exists"):
    exporter.export_generator(tiny["ema_generator"], base, version=3)


def test_unconditional_model_ignores_labels(tiny):
  config = copy.deepcopy(tiny["config"])
  config.num_classes, config.g_ch = 0, 8
  g = models_lib.build_generator(config)
  archive = exporter.build_archive(g, ("serving_default", "generate_from_seed"))
  fn = archive.sagan_endpoints["serving_default"]
  z = np.random.default_rng(0).normal(size=[2, Z_DIM]).astype(np.float32)
  a = fn(z=tf.constant(z), labels=tf.constant([0, 0]))["images"].numpy()
  b = fn(z=tf.constant(z), labels=tf.constant([7, -3]))["images"].numpy()
  np.testing.assert_array_equal(a, b)
  np.testing.assert_allclose(a, g(tf.constant(z), None, training=False).numpy(), atol=1e-5)
  seeded = archive.sagan_endpoints["generate_from_seed"](
      seed=tf.constant(5, tf.int64), labels=tf.constant([9, 9, 9]),
      truncation=tf.constant(0.0))
  assert seeded["images"].shape == (3, RESOLUTION, RESOLUTION, 3)
  assert exporter.generator_metadata(g)["num_classes"] == 0


def test_generator_without_spectral_norm_exports(tiny, tmp_path):
  # config.g_spectral_norm=False (the paper's Figure 3 baseline): a standing-statistics
  # sampling copy of it exports, and the SavedModel gives the copy's images.
  config = copy.deepcopy(tiny["config"])
  config.g_spectral_norm, config.g_ch = False, 8
  g = models_lib.build_generator(config)
  sampling = bn_stats.prepare(g, bn_stats.BNStats("standing", batches=2, batch_size=4))
  path = exporter.export_generator(sampling.model, str(tmp_path))
  assert exports.read_metadata(path)["generator_config"]["spectral_norm"] is False
  fn = tf.saved_model.load(path).signatures["serving_default"]
  z = np.random.default_rng(1).normal(size=[3, Z_DIM]).astype(np.float32)
  labels = np.array([0, 1, NUM_CLASSES - 1], np.int32)
  got = fn(z=tf.constant(z), labels=tf.constant(labels))["images"].numpy()
  np.testing.assert_allclose(got, sampling(z, labels).numpy(), atol=1e-5)


# Tests below wait for the background jobs.


@pytest.fixture(scope="session")
def fresh_process_outputs(jobs):
  """Outputs of the three signatures in a python that never imports sagan_tf."""
  job, io = jobs["parity"]
  assert "OK" in job.check()
  return {f[:-4]: np.load(os.path.join(io, f)) for f in os.listdir(io) if f.endswith(".npy")}


def test_fresh_process_matches_keras_generator(tiny, fresh_process_outputs):
  out = fresh_process_outputs
  z, labels = out["z"], out["labels"]
  ema, raw = tiny["ema_generator"], tiny["generator"]
  want, maps = ema(tf.constant(z), tf.constant(labels), training=False, update_u=False,
                   return_attention=True)
  want = want.numpy()
  for key in ("default_images", "attention_images"):
    assert out[key].shape == (len(z), RESOLUTION, RESOLUTION, 3)
    assert out[key].dtype == np.float32
    np.testing.assert_allclose(out[key], want, atol=1e-5, rtol=0)
  uint8 = np.round(np.clip((want + 1) * 127.5, 0, 255))
  assert out["default_images_uint8"].dtype == np.uint8
  assert np.abs(out["default_images_uint8"].astype(np.float32) - uint8).max() <= 1
  np.testing.assert_allclose(out["attention_attention16"], maps["attention16"].numpy(),
                             atol=1e-5, rtol=0)
  assert out["attention_attention16"].shape == (len(z), 16 * 16, 8 * 8)
  # The export is the EMA generator, not the raw one (they differ in this workdir).
  raw_images = raw(tf.constant(z), tf.constant(labels), training=False).numpy()
  assert np.abs(raw_images - want).max() > 1e-3
  # Inference mode: BN moving statistics, not batch moments (training=True moves the moving
  # statistics of the shared model: put them back).
  saved = [w.numpy() for w in ema.weights]
  batch_mode = ema(tf.constant(z), tf.constant(labels), training=True, update_u=False).numpy()
  for w, value in zip(ema.weights, saved):
    w.assign(value)
  assert np.abs(batch_mode - want).max() > 1e-3


def test_seeded_signature_is_deterministic_across_calls_and_processes(
    loaded, fresh_process_outputs):
  out = fresh_process_outputs
  labels = out["labels"]
  fn = loaded.signatures["generate_from_seed"]
  call = lambda seed, lab, t: fn(seed=tf.constant(seed, tf.int64), labels=tf.constant(lab),
                                 truncation=tf.constant(t, tf.float32))
  first, second = call(SEED, labels, TRUNCATION), call(SEED, labels, TRUNCATION)
  for key in ("images", "images_uint8", "z"):
    np.testing.assert_array_equal(first[key].numpy(), second[key].numpy())
  # The other process draws the identical z; its images may differ only by float rounding
  # of the CPU kernels (thread scheduling), not by a different draw.
  np.testing.assert_array_equal(first["z"].numpy(), out["seeded_z"])
  np.testing.assert_allclose(first["images"].numpy(), out["seeded_images"], atol=1e-6, rtol=0)
  assert np.abs(first["images_uint8"].numpy().astype(int) - out["seeded_images_uint8"]).max() <= 1
  z = first["z"].numpy()
  assert z.shape == (len(labels), Z_DIM)
  # The z is the documented seeded noise, and the images are G(z) of serving_default.
  np.testing.assert_array_equal(z, noise.seeded_noise(SEED, len(labels), Z_DIM, TRUNCATION))
  default = loaded.signatures["serving_default"](z=tf.constant(z), labels=tf.constant(labels))
  np.testing.assert_allclose(default["images"].numpy(), first["images"].numpy(), atol=1e-6)
  # Truncation bounds |z|; 0 means plain N(0, 1), whose values exceed the bound.
  assert np.abs(z).max() < TRUNCATION
  untruncated = call(SEED, labels, 0.0)["z"].numpy()
  assert np.abs(untruncated).max() > 1.5
  # Row i depends on (seed, i) only: a shorter request reproduces the first rows.
  np.testing.assert_array_equal(call(SEED, labels[:2], TRUNCATION)["z"].numpy(), z[:2])
  assert not np.array_equal(call(SEED + 1, labels, TRUNCATION)["z"].numpy(), z)


def _parse_show(text):
  """saved_model_cli show --all -> {signature: {'inputs'|'outputs': {name: (dtype, shape)}}}."""
  sigs, sig, side, key = {}, None, None, None
  for line in text.splitlines():
    m = re.match(r"signature_def\['(.+)'\]:", line.strip())
    if m:
      sig = sigs.setdefault(m.group(1), {"inputs": {}, "outputs": {}})
      continue
    m = re.match(r"(inputs|outputs)\['(.+)'\] tensor_info:", line.strip())
    if m and sig is not None:
      side, key = m.group(1), m.group(2)
      sig[side][key] = [None, None]
      continue
    m = re.match(r"(dtype|shape): (.+)", line.strip())
    if m and side:
      sig[side][key][0 if m.group(1) == "dtype" else 1] = m.group(2)
  return {s: {k: {n: tuple(v) for n, v in d.items()} for k, d in io.items()}
          for s, io in sigs.items()}


def test_saved_model_cli_show_lists_documented_signatures(jobs):
  sigs = _parse_show(jobs["show"].check())
  image = f"(-1, {RESOLUTION}, {RESOLUTION}, 3)"
  z_in, labels_in = ("DT_FLOAT", f"(-1, {Z_DIM})"), ("DT_INT32", "(-1)")
  images_out = {"images": ("DT_FLOAT", image), "images_uint8": ("DT_UINT8", image)}
  assert sigs["serving_default"] == {"inputs": {"z": z_in, "labels": labels_in},
                                     "outputs": images_out}
  assert sigs["generate_from_seed"] == {
      "inputs": {"seed": ("DT_INT64", "()"), "labels": labels_in,
                 "truncation": ("DT_FLOAT", "()")},
      "outputs": {**images_out, "z": z_in}}
  assert sigs["generate_with_attention"] == {
      "inputs": {"z": z_in, "labels": labels_in},
      "outputs": {**images_out, "attention16": ("DT_FLOAT", "(-1, 256, 64)")}}
  assert jobs["show"].result()[1].count("Method name is: tensorflow/serving/predict") == 3


def test_saved_model_cli_run(jobs):
  job, outdir = jobs["run"]
  job.check()
  images = np.load(os.path.join(outdir, "images.npy"))
  assert images.shape == (2, RESOLUTION, RESOLUTION, 3) and images.dtype == np.float32
  assert np.abs(images).max() <= 1.0 and images.std() > 0
  uint8 = np.load(os.path.join(outdir, "images_uint8.npy"))
  assert uint8.dtype == np.uint8 and uint8.shape == images.shape


def test_checkpoint_round_trip_keeps_every_generator_weight(tiny):
  """Export from a workdir is only right if the checkpoint holds all of G (precondition)."""
  for key, lost in tiny_sagan.round_trip_lost(tiny).items():
    assert not lost, (
        f"{key}: {len(lost)} of {len(tiny[key].weights)} weights do not survive "
        f"make_checkpoint -> CheckpointManager.save -> restore_models, e.g. {lost[:4]}. "
        f"Keras 3 layers held in Python lists/dicts (Generator.blocks, .attention) are not "
        f"tf.train.Checkpoint dependencies, so they are neither saved nor restored.")


def test_over_limit_request_fails_before_allocating(jobs):
  """20,000 rows would need well over a GB of activations: the request fails with the limit
  named, and the process's peak memory does not grow (the noise is built after the check)."""
  out = jobs["limit"].check()
  assert "ERROR" in out and "at most max_batch = 256 rows" in out, out
  grew_kb = int(out.split("GREW_KB")[1].split()[0])
  assert grew_kb < 200_000, f"peak memory grew by {grew_kb} KB on a refused request"


def test_cli_export_refuses_a_config_file_other_than_the_record(tiny, jobs):
  """The workdir's config.json is its config: a --config file that differs from it is refused
  in one line naming the keys that differ (it would replace the record), nothing written."""
  rc, _, err = jobs["cli_other_model"].result()
  errors = [line for line in err.splitlines() if line.startswith("Error: ")]
  assert rc == 1 and len(errors) == 1 and "Traceback" not in err, err[-3000:]
  assert f"--config differs from the config {tiny['workdir']} recorded" in errors[0]
  assert "g_ch (--config 32, recorded 16)" in errors[0] and "drop --config" in errors[0]
  assert not os.path.exists(jobs["cli_other_model"].args[-1].split("=", 1)[1])


def test_cli_export_raw_generator_with_warmup_then_refuses_overwrite(tiny, exported, jobs):
  from sagan_tf.export import warmup
  job, cli_base = jobs["cli_export"]
  out = job.check()
  path = os.path.join(cli_base, "6")  # next version after the existing 5
  assert path in out
  assert sorted(os.listdir(cli_base)) == ["5", "6"]  # no temporary directory left behind
  meta = exports.read_metadata(path)
  assert meta["use_ema"] is False and meta["step"] == tiny_sagan.STEP and meta["version"] == 6
  assert meta["max_batch"] == 8 and meta["bn_stats"]["mode"] == "moving"
  assert meta["checkpoint"].endswith(f"ckpt-{tiny_sagan.STEP}")
  assert meta["config"]["z_dim"] == Z_DIM
  # Warm-up file: PredictionLog records with a PredictRequest for each signature.
  logs = warmup.read_warmup_requests(
      os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
  assert [log.predict_log.request.model_spec.signature_name for log in logs] == list(
      exporter.SIGNATURES)
  for log in logs:
    request = log.predict_log.request
    assert request.model_spec.name == "tiny"
    assert tf.make_ndarray(request.inputs["labels"]).dtype == np.int32
  assert tf.make_ndarray(logs[0].predict_log.request.inputs["z"]).shape == (2, Z_DIM)
  assert tf.make_ndarray(logs[1].predict_log.request.inputs["seed"]).dtype == np.int64
  # Exporting an existing version is refused with a clear message; nothing changes.
  rc, _, err = jobs["cli_refuse"].result()
  assert rc != 0
  assert "already exists" in err and "refusing to overwrite" in err
  assert sorted(os.listdir(exported[0])) == ["1"]
  # The raw generator of the checkpoint was exported.
  tiny_sagan.require_round_trip(tiny)
  z, labels = _inputs(3)
  got = tf.saved_model.load(path).signatures["serving_default"](
      z=tf.constant(z), labels=tf.constant(labels))["images"].numpy()
  want = tiny["generator"](tf.constant(z), tf.constant(labels), training=False).numpy()
  np.testing.assert_allclose(got, want, atol=1e-5)
