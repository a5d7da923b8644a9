"""--config.KEY=VALUE in the binaries that read a workdir (parsed as training parses them, applied
on top of the recorded config: sagan_tf/cli/flags.py workdir_overrides, store.record
workdir_config), and the one-line errors for a --config file that does not load, in every binary
that takes --config, before TensorFlow loads. The tool runs with overrides are in test_tools.py
and test_export.py; evaluate's in test_evaluation.py."""

import os
import re
import subprocess
import sys

from absl import flags
from ml_collections import config_flags
import pytest

import binaries
import tiny_sagan

from sagan_tf.cli import flags as cli_flags

DEMO = os.path.join(tiny_sagan.REPO, "experiments", "cpu_demo.py")
OVERRIDES = ["--config.eval_allow_small_n=true", "--config.g_attention=(16,)",
             "--config.g_lr=1e-3", "--config.eval_num_samples", "64", "--noconfig.eval_use_ema",
             "--config.sample_bn_stats=moving", "--config.eval_truncation=1"]
BINARIES = ("train", "evaluate", "export", "sample", "interpolate", "visualize_attention",
            "train_classifier", "prepare_tfrecords", "benchmark")
READERS = ("evaluate", "export", "sample", "interpolate", "visualize_attention")


def _training_parse(args):
  """The override values training gets: ml_collections on an experiment file."""
  argv = ["train", f"--config={DEMO}"] + args
  parsed = flags.FlagValues()
  config_flags.DEFINE_config_file("config", flag_values=parsed, sys_argv=argv)
  parsed(argv)
  return parsed["config"].override_values


def test_overrides_are_taken_out_and_parsed_as_training_parses_them():
  argv = ["sample", "--workdir=W", *OVERRIDES, "--out=x.png", "--", "--config.g_ch=1"]
  rest, values = cli_flags.workdir_overrides(argv)
  assert rest == ["sample", "--workdir=W", "--out=x.png", "--", "--config.g_ch=1"]
  assert values == _training_parse(OVERRIDES) == {
      "eval_allow_small_n": True, "g_attention": (16,), "g_lr": 1e-3, "eval_num_samples": 64,
      "eval_use_ema": False, "sample_bn_stats": "moving", "eval_truncation": 1.0}
  assert [type(values[k]) for k in ("g_attention", "eval_truncation")] == [tuple, float]
  # With a --config file too: the file goes to absl, the overrides apply on top of what the
  # workdir recorded (store.record.workdir_config compares the file with the record).
  with_file = ["sample", f"--config={DEMO}", "--config.g_ch=8"]
  assert cli_flags.workdir_overrides(with_file) == (with_file[:2], {"g_ch": 8})
  assert cli_flags.workdir_overrides(["sample", "--workdir=W"]) == (["sample", "--workdir=W"], {})
  for arg, message in (("--config.g_ch=abc", "Error: flag --config.g_ch=abc: invalid literal"),
                       ("--config.eval_use_ema=maybe", "Error: flag --config.eval_use_ema"),
                       ("--noconfig.nokey", "Error: Unknown config key 'nokey'")):
    with pytest.raises(SystemExit, match=message) as e:
      cli_flags.workdir_overrides(["sample", "--workdir=W", arg])
    assert "\n" not in str(e.value)


def test_a_repeated_override_takes_its_last_value_for_every_key():
  # ml_collections alone appends a tuple key's repeats: (64, 32) here, not (32,).
  repeated = ["--config.g_attention=(64,)", "--config.g_ch", "16", "--config.g_attention=(32,)",
              "--noconfig.eval_use_ema", "--config.g_ch=8", "--config.eval_use_ema"]
  argv = ["train", f"--config={DEMO}", *repeated, "--out=x", "--", "--config.g_ch=1"]
  kept = cli_flags.check_overrides(argv)
  assert kept == ["train", f"--config={DEMO}", "--config.g_attention=(32,)", "--config.g_ch=8",
                  "--config.eval_use_ema", "--out=x", "--", "--config.g_ch=1"]
  assert _training_parse(kept[2:-3]) == {"g_attention": (32,), "g_ch": 8, "eval_use_ema": True}
  assert _training_parse(repeated)["g_attention"] == (64, 32)  # what the dedup prevents
  rest, values = cli_flags.workdir_overrides(["sample", "--workdir=W", *repeated])
  assert rest == ["sample", "--workdir=W"]
  assert values == {"g_attention": (32,), "g_ch": 8, "eval_use_ema": True}
  assert cli_flags.check_overrides(["train", "--config.g_ch=8"]) == ["train", "--config.g_ch=8"]


def _snapshot(root):
  return sorted((os.path.relpath(os.path.join(d, f), root), os.path.getsize(os.path.join(d, f)))
                for d, _, files in os.walk(root) for f in files)


def test_bad_config_files_and_values_are_one_line_before_any_work(tmp_path):
  files = {"syntax": "def get_config(:\n  pass\n", "no_get_config": "def other():\n  pass\n",
           "raises": "def get_config():\n  return 1 / 0\n"}
  for name, text in files.items():
    (tmp_path / f"{name}.py").write_text(text)
  out = tmp_path / "out"
  outputs = [f"--workdir={out}", f"--export_dir={out}", f"--out={out}", f"--output_dir={out}",
             f"--output={out}"]
  cases = [(binary, f"--config={tmp_path}/syntax.py",
            f"Error: --config={tmp_path}/syntax.py does not load (SyntaxError: invalid syntax "
            f"(syntax.py, line 1))") for binary in BINARIES]
  cases += [(binary, f"--config={tmp_path}/no_get_config.py",
             f"Error: --config={tmp_path}/no_get_config.py defines no get_config()")
            for binary in ("train", "sample")]
  cases += [("train_classifier", f"--config={tmp_path}/raises.py",
             "does not load (ZeroDivisionError: division by zero)"),
            ("sample", "--config.g_ch=abc", "Error: flag --config.g_ch=abc: invalid literal"),
            ("evaluate", "--config.no_such=1", "Error: Unknown config key 'no_such'")]
  before = _snapshot(tmp_path)
  jobs = [(tiny_sagan.python("-m", f"sagan_tf.cli.{binary}", *outputs, arg), binary, message)
          for binary, arg, message in cases]
  for job, binary, message in jobs:
    rc, stdout, stderr = job.result()
    assert rc == 1 and not stdout, (binary, message, stderr[-2000:])
    lines = stderr.splitlines() if binary != "benchmark" else [  # TensorFlow loads first there
        line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and message in lines[0], (binary, message, stderr[-2000:])
    if "--config=" in message or "does not load" in message:  # names the fix
      assert lines[0].endswith("defines get_config() returning a ConfigDict "
                               "(experiments/cpu_demo.py)."), lines[0]
  assert _snapshot(tmp_path) == before and not out.exists()


def test_every_binary_that_reads_a_workdir_takes_overrides():
  """Each of them splits its argv with workdir_overrides, through cli_flags.run (one
  definition); the others check theirs with check_overrides."""
  for name in BINARIES:
    with open(os.path.join(tiny_sagan.REPO, "sagan_tf", "cli", f"{name}.py")) as f:
      text = f.read()
    if name in READERS:
      assert "cli_flags.run(main, argv, reads_workdir=True)" in text, name
    else:
      assert "cli_flags.run(main, argv)\n" in text, name
      assert "define_config(required=True)" in text, name


CONSOLE_SCRIPTS = re.findall(r'"(sagan-[a-z-]+)=sagan_tf\.cli\.([a-z_]+):run"',
                             open(os.path.join(tiny_sagan.REPO, "setup.py")).read())


@pytest.mark.parametrize("script,module", CONSOLE_SCRIPTS)
def test_console_script_help_lists_its_own_flags(script, module):
  """`sagan-X --help` (the installed launcher, whose sys.argv[0] is not the module) prints the
  binary's docstring and every flag it defines, as `python -m sagan_tf.cli.X --help` does."""
  launcher = os.path.join(os.path.dirname(sys.executable), script)
  if not os.path.exists(launcher):
    pytest.skip(f"{script} is not installed beside {sys.executable} (pip install -e .)")
  result = subprocess.run([launcher, "--help"], capture_output=True, text=True, timeout=120)
  assert result.returncode == 1, result.stderr[-2000:]  # absl exits 1 after --help
  with open(os.path.join(tiny_sagan.REPO, "sagan_tf", "cli", f"{module}.py")) as f:
    text = f.read()
  own = re.findall(r'DEFINE_[a-z_]+\(\s*"([a-z_0-9]+)"', text)
  assert own, module
  for flag in own + (["config"] if "define_config(" in text else []):
    assert re.search(rf"--(\[no\])?{flag}:", result.stdout), (script, flag, result.stdout[:3000])
  assert text.split('"""')[1].split("\n")[0].strip() in result.stdout  # the docstring's line 1


def test_evaluate_takes_overrides_without_config_and_refuses_a_fixed_one(tiny, capsys):
  """evaluate parses --config.KEY=VALUE without --config (no 'Unknown command line flag') and
  checks it against the recorded config: a fixed key is one line, exit 1, nothing written."""
  before = _snapshot(tiny["workdir"])
  rc = binaries.call("evaluate", f"--workdir={tiny['workdir']}", "--once",
                     "--config.eval_batch_size=8", "--config.seed=3")  # in process
  err = capsys.readouterr().err
  errors = [line for line in err.splitlines() if line.startswith("Error: ")]
  assert rc == 1 and len(errors) == 1 and "Traceback" not in err, err[-3000:]
  assert errors[0].startswith("Error: --config.seed=3 (recorded 0): fixed for")
  assert _snapshot(tiny["workdir"]) == before
