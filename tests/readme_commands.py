"""The shell commands of README.md and docs/*.md, as the tests run them (not a test module).

`DOC_FILES` is the order the commands run in: the README first (it trains the workdir the
others read), then the docs in workflow order (training before evaluation, export before the
tools that read the export, ...). `commands(text, source)` returns every command of a file's
```sh blocks in order: lines joined across trailing backslashes and open quotes, comment lines
dropped (the docs write no shell loops, so each command stands alone). A command whose text
carries `# needs <what>` needs hardware, data or a server the test machine lacks; it is returned
with `needs` set and not run.

`prepare(command, root, overrides)` turns a command into the bash line the test runs: paths
under /tmp/, /abs/ and /shared/ move into `root`; `python` / `.venv/bin/python` become this
interpreter; a console script `.venv/bin/sagan-<name>` (or `sagan-<name>`) becomes
`<this interpreter> -m sagan_tf.cli.<name, - as _>` (what `pip install -e .` installs it as), and
another `.venv/bin/<tool>` this interpreter's `bin/<tool>`; the size overrides of each binary
(`overrides`: {binary: [args]}, keyed by `sagan-<name>` for the console scripts, else by the
module or script, e.g. 'tools/gen_docs.py' or, for `bash tools/x.sh`, 'tools/x.sh') are appended
to every invocation of it. Nothing else changes. `RUN_BY` names the commands another test runs
this way (the doc runner skips them).
"""

import dataclasses
import os
import re
import shlex
import sys

# README first, then the docs in the order their commands build on each other.
DOC_FILES = ("README.md", "docs/training.md", "docs/evaluation.md", "docs/serving.md",
             "docs/tools.md", "docs/results.md", "docs/benchmark.md", "docs/design.md")

# Doc commands another test runs as printed (with its own size overrides) and checks more closely
# than "exits 0": {command text: the test}. The doc runner skips them.
RUN_BY = {
    ".venv/bin/sagan-benchmark --config=experiments/cpu_demo.py --out_dir=/tmp/sagan_bench":
        "tests/test_benchmark.py (benchmark_runs 'tiny': every table checked)",
}

_NEEDS = re.compile(r"#\s*needs\b\s*(.*)$")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_CONSOLE_SCRIPT = re.compile(r"^(?:\.venv/bin/)?(sagan-[a-z0-9]+(?:-[a-z0-9]+)*)$")
_CLI_PACKAGE = "sagan_tf.cli."
_VENV_BIN = ".venv/bin/"
_OPERATORS = {"&&", "||", "|", ";", "&", ";;"}
_SETUP = ("python3 -m venv", ".venv/bin/pip install")  # what .ci/run itself runs verbatim


@dataclasses.dataclass
class Command:
  section: str
  text: str
  needs: str = ""
  source: str = "README.md"  # the file the command is printed in


def _complete(text):
  if text.rstrip().endswith(("\\", "|", "&&", "&")):
    return False  # goes on (a trailing & starts a process the next line's command works with)
  try:
    shlex.split(text, comments=True)
  except ValueError:  # an open quote: the command goes on on the next line
    return False
  return True


def commands(text, source="README.md"):
  """Returns [Command] for every command in the ```sh blocks of `text` (file `source`)."""
  found, section, block, pending = [], "", None, ""
  for line in text.splitlines():
    if block is None:
      if line.startswith("#"):
        section = line.lstrip("#").strip()
      if line.strip() == "```sh":
        block = True
      continue
    if line.strip() == "```":
      block = None
      continue
    stripped = line.strip()
    if not pending and (not stripped or stripped.startswith("#")):
      continue
    pending = f"{pending}\n{line}" if pending else stripped
    if not _complete(pending):
      continue
    needs = _NEEDS.search(pending)
    joined = re.sub(r"\\\n\s*", "", pending)
    found.append(Command(section, joined, needs.group(1).strip() if needs else "", source))
    pending = ""
  return found


def all_commands(repo):
  """Returns [Command] of every file of DOC_FILES under `repo`, in DOC_FILES order."""
  found = []
  for name in DOC_FILES:
    with open(os.path.join(repo, name)) as f:
      found.extend(commands(f.read(), name))
  return found


def is_setup(segment):
  return segment.strip().startswith(_SETUP)


def console_script(word):
  """'sagan-train' for '.venv/bin/sagan-train' or 'sagan-train'; None for anything else."""
  match = _CONSOLE_SCRIPT.match(word)
  return match.group(1) if match else None


def cli_module(script):
  """The module of a console script: 'sagan-train-classifier' -> 'sagan_tf.cli.train_classifier'."""
  return _CLI_PACKAGE + script[len("sagan-"):].replace("-", "_")


def _is_python(word):
  return word.endswith(("python", "python3"))


def _binary(tokens):
  """The binary a simple command runs: 'sagan-train', 'tools/gen_docs.py', ... or None.

  Console scripts and `python -m sagan_tf.cli.<name>` are both named by the console script."""
  words = [t for t in tokens if not _ENV_ASSIGNMENT.match(t)]
  if not words:
    return None
  script = console_script(words[0])
  if script:
    return script
  if words[0] == "bash" and len(words) > 1 and not words[1].startswith("-"):
    return words[1]  # a script of the repository, e.g. tools/run_results.sh
  if not _is_python(words[0]):
    return None
  if len(words) > 2 and words[1] == "-m":
    module = words[2]
    if module.startswith(_CLI_PACKAGE):
      return "sagan-" + module[len(_CLI_PACKAGE):].replace("_", "-")
    return module
  return words[1] if len(words) > 1 else None


def _program(word):
  """The argv words that run `word`, the first word of a simple command, here."""
  script = console_script(word)
  if script:
    return [sys.executable, "-m", cli_module(script)]
  if _is_python(word):
    return [sys.executable]
  if word.startswith(_VENV_BIN):  # another tool of the venv: this interpreter's
    return [os.path.join(os.path.dirname(sys.executable), word[len(_VENV_BIN):])]
  return [word]


def _quote(token):
  if token in _OPERATORS:
    return token
  if _ENV_ASSIGNMENT.match(token):
    name, value = token.split("=", 1)
    return f"{name}={shlex.quote(value)}"
  return shlex.quote(token)


def prepare(command, root, overrides):
  """Returns the bash text that runs `command` (a Command's text) as the tests do."""
  text = re.sub(r"(?<![\w/.])(/tmp|/abs|/shared)/", lambda m: f"{root}{m.group(1)}/", command)
  lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
  lexer.whitespace_split = True
  lexer.commenters = "#"
  tokens = list(lexer)
  out, simple = [], []

  def flush():
    if simple:
      binary = _binary(simple)
      first = _first_word(simple)
      args = []
      for i, t in enumerate(simple):
        args.extend(_program(t) if i == first else [t])
      out.extend(args + list(overrides.get(binary, [])))
      simple.clear()

  for token in tokens:
    if token in _OPERATORS:
      flush()
      out.append(token)
    else:
      simple.append(token)
  flush()
  line = " ".join(_quote(t) for t in out)
  if re.search(r"(^|\s)&(\s|$)", line):
    line += "; wait"  # background workers must finish too
  return line


def _first_word(tokens):
  for i, t in enumerate(tokens):
    if not _ENV_ASSIGNMENT.match(t):
      return i
  return -1
