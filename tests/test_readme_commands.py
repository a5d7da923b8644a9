"""Every command README.md and docs/*.md print runs here as printed, with only size overrides
appended (tests/readme_commands.py says exactly what changes). The files run in the order of
readme_commands.DOC_FILES (README first, then the docs in workflow order), in one directory, so
a command finds what an earlier one wrote (the workdir the README trains, the export, ...).
Commands marked `# needs ...` (hardware, data or a server this machine lacks) are not run; the
set-up commands of the README's first block and the test command are what .ci/run runs
verbatim. An exact repeat of a command that already ran (the docs repeat some README commands
in context) is not run again."""

import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

import readme_commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_TRAIN = ["--config.g_ch=8", "--config.d_ch=8", "--config.global_batch_size=4",
              "--config.num_train_steps=4", "--config.steps_per_loop=2",
              "--config.checkpoint_every_steps=2", "--config.log_every_steps=2",
              "--config.image_every_steps=4", "--config.num_image_samples=4",
              "--config.standing_stats_batches=2", "--config.standing_stats_batch_size=4"]
# > 128, the stand-in classifier's feature size (Inception's 2048 needs eval_allow_small_n); the BN
# passes' size; no waiting
SMALL_EVAL = ["--num_samples=200", "--config.eval_allow_small_n=true", "--bn_stats_batches=2",
              "--bn_stats_batch_size=8", "--timeout_secs=60", "--poll_secs=1"]
OVERRIDES = {  # keyed by console script (readme_commands.prepare)
    "sagan-train": TINY_TRAIN,
    "sagan-evaluate": SMALL_EVAL,
    "sagan-train-classifier": ["--num_steps=4"],
    "sagan-benchmark": ["--batch_size=2", "--repeats=1", "--warmup_calls=1", "--modes=function",
                        "--matmul_size=64", "--config.g_ch=8", "--config.d_ch=8",
                        "--pipeline_images=10", "--pipeline_seconds=0.2",
                        "--precisions=float32"],  # one precision row: the suite's time budget
}
# Every binary has a command in the README (prepare-tfrecords needs data, so it is not run).
BINARIES = ("sagan-train", "sagan-evaluate", "sagan-export", "sagan-sample", "sagan-interpolate",
            "sagan-visualize-attention", "sagan-train-classifier", "sagan-prepare-tfrecords",
            "sagan-prepare-emoji", "sagan-benchmark")
NOT_RUN = ("sagan-prepare-tfrecords",)
# The binaries before they were console scripts: no command may still run them.
OLD_FORMS = re.compile(r"-m sagan_tf\.(train|evaluate|export)\b|tools/(sample|interpolate|"
                       r"visualize_attention|train_classifier|prepare_tfrecords|benchmark)\.py")
LINKED = ("experiments", "tools", "requirements.txt", "setup.py")  # what commands read from .


def _commands():
  return readme_commands.all_commands(REPO)


def _runnable(command):
  """The command without what .ci/run already runs (set-up, the test command); '' if none."""
  parts = [p for p in command.text.split("&&") if not readme_commands.is_setup(p)]
  text = "&&".join(parts).strip()
  return "" if "-m pytest" in text else text


def _scripts(text):
  """The console scripts a command runs."""
  return {s for s in map(readme_commands.console_script, text.split()) if s}


def test_every_doc_file_is_in_the_run_order():
  docs = {os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md"))}
  listed = set(readme_commands.DOC_FILES)
  assert docs <= listed, f"add {sorted(docs - listed)} to readme_commands.DOC_FILES"
  for name in readme_commands.DOC_FILES:
    assert os.path.exists(os.path.join(REPO, name)), f"DOC_FILES lists a missing {name}"


def test_docs_parse_into_commands_and_marks():
  cmds = _commands()
  run = [c for c in cmds if not c.needs and _runnable(c)]
  assert len(run) >= 25, [c.text for c in run]
  readme = [c for c in cmds if c.source == "README.md"]
  readme_run = set().union(*(_scripts(_runnable(c)) for c in readme if not c.needs))
  readme_all = set().union(*(_scripts(c.text) for c in readme))
  for binary in BINARIES:
    assert binary in readme_all, f"no README command runs {binary}"
    assert binary in readme_run or binary in NOT_RUN, f"no README command runs {binary} in tests"
  everything = " ".join(c.text for c in run)
  for flag in ("--strategy=mirrored", "--strategy=multi_worker", "--bn_stats=moving"):
    assert flag in everything, f"no command the tests run uses {flag}"
  for c in cmds:
    assert "[--" not in c.text or c.needs, f"optional-argument syntax is not a command: {c.text}"
    old = OLD_FORMS.search(c.text)
    assert not old, f"{c.source}: {old[0]} is now a console script (.venv/bin/sagan-...)"


# The benchmark commands make their own data and read no workdir, and docs/results.md's make
# their own workdirs and classifier, so each runs as a separate group (xdist runs the groups on
# both workers at once); every other command runs in DOC_FILES order, since later ones read what
# earlier ones wrote.
GROUPS = {"benchmark": 5, "results": 5, "workflow": 25}  # group -> commands it must at least run


def _group(command, text):
  if "sagan-benchmark" in _scripts(text):
    return "benchmark"
  return "results" if command.source == "docs/results.md" else "workflow"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_doc_command_runs_as_printed(tmp_path, group):
  root = tmp_path / "r"
  root.mkdir()
  for name in LINKED:
    os.symlink(os.path.join(REPO, name), root / name)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",  # the venv's binaries (saved_model_cli) first
             PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
             PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
  failures, ran, seen = [], 0, set()
  for command in _commands():
    text = _runnable(command)
    if command.needs or not text or _group(command, text) != group:
      continue
    line = readme_commands.prepare(text, str(root), OVERRIDES)
    if line in seen:
      continue  # the same command again (a doc repeating the README's): it ran already
    seen.add(line)
    result = subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True,
                            text=True, timeout=900)
    ran += 1
    if result.returncode:
      failures.append(f"[{command.source}: {command.section}] {command.text}\n  ran: {line}\n"
                      f"  exit {result.returncode}: {result.stderr[-1500:]}")
  assert ran >= GROUPS[group]
  assert not failures, "\n\n".join(failures)


# The parser and the console-script mapping (no subprocess).

def _argv(command, overrides=None, root="/R"):
  return shlex.split(readme_commands.prepare(command, root, overrides or {}))


def test_console_script_names():
  assert readme_commands.console_script(".venv/bin/sagan-train") == "sagan-train"
  assert readme_commands.console_script("sagan-visualize-attention") == "sagan-visualize-attention"
  for word in ("bin/sagan-train", "/usr/bin/sagan-train", ".venv/bin/python", "sagan-", "sagan_tf",
               "--workdir=/tmp/sagan-demo"):
    assert readme_commands.console_script(word) is None, word
  assert (readme_commands.cli_module("sagan-train-classifier")
          == "sagan_tf.cli.train_classifier")
  assert readme_commands.cli_module("sagan-export") == "sagan_tf.cli.export"


@pytest.mark.parametrize("program", [".venv/bin/sagan-train", "sagan-train"])
def test_console_script_runs_as_module_with_its_overrides(program):
  argv = _argv(f"{program} --config=experiments/cpu_demo.py --workdir=/tmp/w",
               {"sagan-train": ["--config.g_ch=8"], "sagan-evaluate": ["--once"]})
  assert argv == [sys.executable, "-m", "sagan_tf.cli.train", "--config=experiments/cpu_demo.py",
                  "--workdir=/R/tmp/w", "--config.g_ch=8"]


def test_hyphenated_script_and_python_dash_m_share_overrides():
  overrides = {"sagan-visualize-attention": ["--scale=1"]}
  expected = [sys.executable, "-m", "sagan_tf.cli.visualize_attention", "--out=a.png", "--scale=1"]
  assert _argv(".venv/bin/sagan-visualize-attention --out=a.png", overrides) == expected
  assert _argv(".venv/bin/python -m sagan_tf.cli.visualize_attention --out=a.png",
               overrides) == expected


def test_env_assignments_and_background_workers():
  line = readme_commands.prepare(
      "TF_CONFIG='{\"task\": {\"index\": 0}}' .venv/bin/sagan-train --workdir=/shared/w & "
      "TF_CONFIG='{\"task\": {\"index\": 1}}' .venv/bin/sagan-train --workdir=/shared/w",
      "/R", {"sagan-train": ["--x"]})
  assert line.endswith("; wait")
  first, second = line[:-len("; wait")].split(" & ")
  for part, index in ((first, 0), (second, 1)):
    argv = shlex.split(part)
    assert argv[0] == f'TF_CONFIG={{"task": {{"index": {index}}}}}'
    assert argv[1:] == [sys.executable, "-m", "sagan_tf.cli.train", "--workdir=/R/shared/w", "--x"]


def test_other_programs():
  bin_dir = os.path.dirname(sys.executable)
  assert _argv(".venv/bin/saved_model_cli show --dir /abs/e/1", {"sagan-export": ["--x"]}) == [
      os.path.join(bin_dir, "saved_model_cli"), "show", "--dir", "/R/abs/e/1"]
  assert _argv("saved_model_cli show --all") == ["saved_model_cli", "show", "--all"]
  assert _argv("python tools/gen_docs.py --check", {"tools/gen_docs.py": ["-v"]}) == [
      sys.executable, "tools/gen_docs.py", "--check", "-v"]
  argv = _argv(".venv/bin/python -c 'print(1)' | curl -s -d @- http://localhost:8501/x")
  assert argv == [sys.executable, "-c", "print(1)", "|", "curl", "-s", "-d", "@-",
                  "http://localhost:8501/x"]
  # /tmp/ inside a word is not a path of its own: unchanged
  assert _argv("sagan-sample --out=x/tmp/a.png") == [
      sys.executable, "-m", "sagan_tf.cli.sample", "--out=x/tmp/a.png"]


DOC = """# Title

## Run it

```sh
# a comment line
.venv/bin/sagan-train --config=experiments/cpu_demo.py \\
    --workdir=/tmp/w
.venv/bin/sagan-prepare-tfrecords --output=/data/x  # needs data in /data
```

```python
not = "a command"
```
"""


def test_commands_of_a_file():
  cmds = readme_commands.commands(DOC, "docs/x.md")
  assert [(c.source, c.section, c.text, c.needs) for c in cmds] == [
      ("docs/x.md", "Run it",
       ".venv/bin/sagan-train --config=experiments/cpu_demo.py --workdir=/tmp/w", ""),
      ("docs/x.md", "Run it", ".venv/bin/sagan-prepare-tfrecords --output=/data/x  # needs data "
       "in /data", "data in /data")]


def test_all_commands_follow_the_file_order(tmp_path, monkeypatch):
  (tmp_path / "docs").mkdir()
  (tmp_path / "README.md").write_text("```sh\nsagan-train --workdir=/tmp/w\n```\n")
  (tmp_path / "docs" / "b.md").write_text("```sh\nsagan-export --workdir=/tmp/w\n```\n")
  (tmp_path / "docs" / "a.md").write_text("```sh\nsagan-sample --workdir=/tmp/w\n```\n")
  monkeypatch.setattr(readme_commands, "DOC_FILES", ("README.md", "docs/b.md", "docs/a.md"))
  cmds = readme_commands.all_commands(str(tmp_path))
  assert [(c.source, c.text.split()[0]) for c in cmds] == [
      ("README.md", "sagan-train"), ("docs/b.md", "sagan-export"), ("docs/a.md", "sagan-sample")]
