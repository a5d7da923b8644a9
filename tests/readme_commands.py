"""The shell commands of README.md, as the tests run them (not a test module).

`commands(readme_text)` returns every command of the README's ```sh blocks in order: lines
joined across trailing backslashes and open quotes, comment lines dropped (the README writes no
shell loops, so each command stands alone). A command whose text carries `# needs <what>` needs hardware, data or a server
the test machine lacks; it is returned with `needs` set and not run.

`prepare(command, root, overrides)` turns a command into the bash line the test runs: paths
under /tmp/, /abs/ and /shared/ move into `root`, `python` / `.venv/bin/python` become this
interpreter, and the size overrides of each binary (`overrides`: {binary: [args]}) are appended
to every invocation of it. Nothing else changes.
"""

import dataclasses
import re
import shlex
import sys

_NEEDS = re.compile(r"#\s*needs\b\s*(.*)$")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_OPERATORS = {"&&", "||", "|", ";", "&", ";;"}
_SETUP = ("python3 -m venv", ".venv/bin/pip install")  # what .ci/run itself runs verbatim


@dataclasses.dataclass
class Command:
  section: str
  text: str
  needs: str = ""


def _complete(text):
  if text.rstrip().endswith(("\\", "|", "&&", "&")):
    return False  # goes on (a trailing & starts a process the next line's command works with)
  try:
    shlex.split(text, comments=True)
  except ValueError:  # an open quote: the command goes on on the next line
    return False
  return True


def commands(readme_text):
  """Returns [Command] for every command in the README's ```sh blocks, in order."""
  found, section, block, pending = [], "", None, ""
  for line in readme_text.splitlines():
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
    text = re.sub(r"\\\n\s*", "", pending)
    found.append(Command(section, text, needs.group(1).strip() if needs else ""))
    pending = ""
  return found


def is_setup(segment):
  return segment.strip().startswith(_SETUP)


def _binary(tokens):
  """The binary a simple command runs: 'sagan_tf.train', 'tools/sample.py', ... or None."""
  words = [t for t in tokens if not _ENV_ASSIGNMENT.match(t)]
  if not words or not words[0].endswith(("python", "python3")):
    return None
  if len(words) > 2 and words[1] == "-m":
    return words[2]
  return words[1] if len(words) > 1 else None


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
      args = [sys.executable if i == first and t.endswith("python") else t
              for i, t in enumerate(simple)]
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
