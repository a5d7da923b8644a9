"""Every command README.md prints runs here as printed, in README order, with only size
overrides appended (tests/readme_commands.py says exactly what changes). Commands marked
`# needs ...` in the README (hardware, data or a server this machine lacks) are not run; the
set-up commands of the first block and the test command are what .ci/run runs verbatim."""

import os
import subprocess
import sys

import pytest

import readme_commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_TRAIN = ["--config.g_ch=8", "--config.d_ch=8", "--config.global_batch_size=4",
              "--config.num_train_steps=4", "--config.steps_per_loop=2",
              "--config.checkpoint_every_steps=2", "--config.log_every_steps=2",
              "--config.image_every_steps=2", "--config.num_image_samples=4",
              "--config.standing_stats_batches=2", "--config.standing_stats_batch_size=4"]
# > 128, the stand-in classifier's feature size; the BN passes' size; no waiting
SMALL_EVAL = ["--num_samples=200", "--bn_stats_batches=2", "--bn_stats_batch_size=8",
              "--timeout_secs=60", "--poll_secs=1"]
OVERRIDES = {
    "sagan_tf.train": TINY_TRAIN,
    "sagan_tf.evaluate": SMALL_EVAL,
    "tools/train_classifier.py": ["--num_steps=4"],
    "sagan_tf.cli.benchmark": ["--batch_size=2", "--repeats=1", "--warmup=1", "--modes=function",
                               "--matmul_size=64", "--config.g_ch=8", "--config.d_ch=8",
                               "--pipeline_images=10", "--pipeline_seconds=0.2"],
}
LINKED = ("experiments", "tools", "requirements.txt", "setup.py")  # what commands read from .


def _readme():
  with open(os.path.join(REPO, "README.md")) as f:
    return f.read()


def _runnable(command):
  """The command without what .ci/run already runs (set-up, the test command); '' if none."""
  parts = [p for p in command.text.split("&&") if not readme_commands.is_setup(p)]
  text = "&&".join(parts).strip()
  return "" if "-m pytest" in text else text


def test_readme_parses_into_commands_and_marks():
  cmds = readme_commands.commands(_readme())
  run = [c for c in cmds if not c.needs and _runnable(c)]
  assert len(run) >= 15, [c.text for c in run]
  binaries = " ".join(c.text for c in run)
  for binary in ("sagan_tf.train", "sagan_tf.evaluate", "sagan_tf.export", "tools/sample.py",
                 "tools/interpolate.py", "tools/visualize_attention.py",
                 "tools/train_classifier.py", "sagan_tf.cli.benchmark", "--strategy=mirrored",
                 "--strategy=multi_worker"):
    assert binary in binaries, f"no README command runs {binary} in the tests"
  for c in cmds:
    assert "[--" not in c.text or c.needs, f"optional-argument syntax is not a command: {c.text}"


# The benchmark commands make their own data and read no workdir, so they run as a separate
# group (on another xdist worker); every other command runs in README order, since later ones
# read what earlier ones wrote.
GROUPS = {"benchmark": 3, "workflow": 15}  # group -> commands it must at least run


def _group(text):
  return "benchmark" if "sagan_tf.cli.benchmark" in text else "workflow"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_readme_command_runs_as_printed(tmp_path, group):
  root = tmp_path / "r"
  root.mkdir()
  for name in LINKED:
    os.symlink(os.path.join(REPO, name), root / name)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",  # the venv's binaries (saved_model_cli) first
             PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
             PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
  failures, ran = [], 0
  for command in readme_commands.commands(_readme()):
    text = _runnable(command)
    if command.needs or not text or _group(text) != group:
      continue
    line = readme_commands.prepare(text, str(root), OVERRIDES)
    result = subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True,
                            text=True, timeout=900)
    ran += 1
    if result.returncode:
      failures.append(f"[{command.section}] {command.text}\n  ran: {line}\n  exit "
                      f"{result.returncode}: {result.stderr[-1500:]}")
  assert ran >= GROUPS[group]
  assert not failures, "\n\n".join(failures)
