"""Rewrites the generated blocks of README.md and docs/*.md from the code.

  python tools/gen_docs.py          # rewrite every block from the code
  python tools/gen_docs.py --check  # change nothing; exit 1 naming each stale block

A generated block is the text between two marker lines,

  <!-- generated: NAME -->
  ...
  <!-- end generated -->

and NAME is one of BLOCKS: `changeable-keys` and `fixed-keys` (the config keys a resumed run
may change, and the ones it refuses: CHANGEABLE and FIXED of RECORD_MODULE, in the schema's
order of sagan_tf/config.py), `binaries` (the console scripts of setup.py, or of
pyproject.toml's [project.scripts]) and `results-<suite>` (the output of RESULT_TABLES' command,
tools/summarize_runs.py over the published runs in docs/results/<suite>/). Edit the code or
collect new results (tools/collect_results.sh), then run this; never the blocks by hand.
The keys need sagan_tf importable (`pip install -e .`, as the README's first command does);
the binaries are read from setup.py's text, without running it.
"""

import argparse
import ast
import glob
import importlib
import inspect
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where CHANGEABLE / FIXED live (moving to sagan_tf.store.record: change this line then).
RECORD_MODULE = "sagan_tf.store.record"
_BEGIN = re.compile(r"^<!-- generated: ([a-z0-9_-]+) -->$")
_END = "<!-- end generated -->"
_WIDTH = 100


def doc_files(root=REPO):
  """README.md and docs/*.md under root (those that exist), relative to root."""
  names = ["README.md"] + sorted(
      os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "docs", "*.md")))
  return [n for n in names if os.path.exists(os.path.join(root, n))]


def _record_module():
  return importlib.import_module(RECORD_MODULE)


def schema_order():
  """The config keys in the order sagan_tf.config.base_config() sets them."""
  config_lib = importlib.import_module("sagan_tf.config")
  source = inspect.getsource(config_lib.base_config)
  return re.findall(r"^\s+\w+\.(\w+)\s*=", source, flags=re.MULTILINE)


def _wrap(words, first="", width=_WIDTH):
  """`first`, then the words joined by ', ' and ended by '.', in lines of at most `width`."""
  lines, line = [], first.rstrip()
  for i, word in enumerate(words):
    word += "," if i < len(words) - 1 else "."
    if line and len(line) + 1 + len(word) > width:
      lines.append(line)
      line = word
    else:
      line = f"{line} {word}" if line else word
  return lines + [line] if line else lines


def key_list(keys, order, first=""):
  """`first`, then the keys as inline code in `order` (keys not in it last, sorted), wrapped."""
  rank = {k: i for i, k in enumerate(order)}
  ordered = sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))
  return "\n".join(_wrap([f"`{k}`" for k in ordered], first))


def _keys(attribute):
  keys = getattr(_record_module(), attribute)
  return key_list(keys, schema_order(), f"{len(keys)} keys (`{RECORD_MODULE}.{attribute}`):")


def changeable_keys(root):
  del root  # the keys come from the sagan_tf that imports
  return _keys("CHANGEABLE")


def fixed_keys(root):
  del root
  return _keys("FIXED")


def _setup_scripts(path):
  """The console_scripts entries of a setup.py, read from its syntax tree (not run)."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  for node in ast.walk(tree):
    if not isinstance(node, ast.Call):
      continue
    for keyword in node.keywords:
      if keyword.arg == "entry_points":
        entry_points = ast.literal_eval(keyword.value)
        return list(entry_points.get("console_scripts", []))
  return []


def console_scripts(root=REPO):
  """[(script name, 'module:function')] of setup.py, else of pyproject.toml, in file order."""
  entries = []
  setup_py = os.path.join(root, "setup.py")
  if os.path.exists(setup_py):
    for entry in _setup_scripts(setup_py):
      name, target = (s.strip() for s in entry.split("=", 1))
      entries.append((name, target))
  pyproject = os.path.join(root, "pyproject.toml")
  if not entries and os.path.exists(pyproject):
    import tomllib  # pylint: disable=g-import-not-at-top (Python >= 3.11 only)
    with open(pyproject, "rb") as f:
      entries = list(tomllib.load(f).get("project", {}).get("scripts", {}).items())
  return entries


def _run_module(target):
  """The `python -m` name of an entry point 'pkg.mod:fn' ('pkg.__main__' runs as 'pkg')."""
  module = target.split(":", 1)[0]
  return module[:-len(".__main__")] if module.endswith(".__main__") else module


def binaries(root):
  rows = ["| binary | module (`python -m`) |", "|---|---|"]
  rows += [f"| `{name}` | `{_run_module(target)}` |" for name, target in console_scripts(root)]
  return "\n".join(rows)


# docs/results.md's tables: suite -> the arguments of tools/summarize_runs.py after
# docs/results/<suite> (the metrics, the comparisons the doc discusses).
RESULT_TABLES = {
    "demo": ["--metrics=inception/fid,inception/kid", "--compare=attn16,noattn"],
    "emoji": ["--metrics=inception/fid,inception/kid", "--compare=attn16,noattn",
              "--compare=attn16_da,attn16"],
    "demo_long": ["--metrics=inception/fid,inception/kid"],  # one run: a row per checkpoint
    "emoji_long": ["--metrics=inception/fid,inception/kid"],
    "emoji_da_long": ["--metrics=inception/fid,inception/kid"],
}


def _result_args(suite):
  return ["tools/summarize_runs.py", f"docs/results/{suite}", *RESULT_TABLES[suite]]


def result_command(suite):
  """The command of block results-<suite>, as docs/results.md prints it."""
  return " ".join([".venv/bin/python", *_result_args(suite)])


def result_table(suite):
  def block(root):
    result = subprocess.run([sys.executable, *_result_args(suite)], cwd=root,
                            capture_output=True, text=True, timeout=300)
    if result.returncode:
      raise ValueError(f"{result_command(suite)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout
  return block


# Block name -> function(repository root) -> the block's text.
BLOCKS = {
    "changeable-keys": changeable_keys,
    "fixed-keys": fixed_keys,
    "binaries": binaries,
    **{f"results-{suite}": result_table(suite) for suite in RESULT_TABLES},
}


class _Generated(dict):
  """{name: text} of BLOCKS for the repository at root, each generated once, when needed."""

  def __init__(self, root):
    super().__init__()
    self.root = root

  def __contains__(self, name):
    return name in BLOCKS

  def __missing__(self, name):
    self[name] = BLOCKS[name](self.root)
    return self[name]


def render(text, contents, source="text"):
  """Returns (text with each block's body replaced by contents[name], [names of the blocks
  that changed]). Raises ValueError for an unknown name or a block without its end marker."""
  out, changed, lines = [], [], text.split("\n")
  i = 0
  while i < len(lines):
    line = lines[i]
    out.append(line)
    match = _BEGIN.match(line.strip())
    i += 1
    if not match:
      if line.strip() == _END:
        raise ValueError(f"{source}:{i}: {_END} without a block")
      continue
    name, begin = match.group(1), i
    if name not in contents:
      raise ValueError(f"{source}:{begin}: unknown generated block {name!r} (known: "
                       f"{', '.join(sorted(BLOCKS))})")
    while i < len(lines) and lines[i].strip() != _END and not _BEGIN.match(lines[i].strip()):
      i += 1
    if i == len(lines) or lines[i].strip() != _END:
      raise ValueError(f"{source}:{begin}: block {name!r} has no {_END}")
    new = contents[name].rstrip("\n").split("\n")
    if lines[begin:i] != new:
      changed.append(name)
    out.extend(new)
    out.append(lines[i])
    i += 1
  return "\n".join(out), changed


def update(root=REPO, check=False):
  """Rewrites (unless check) the stale blocks of doc_files(root); returns ['FILE: block
  'NAME'', ...] for each block that was (with check: would be) rewritten."""
  contents, stale = _Generated(root), []
  for name in doc_files(root):
    path = os.path.join(root, name)
    with open(path) as f:
      new, changed = render(f.read(), contents, name)
    stale += [f"{name}: block {block!r}" for block in changed]
    if changed and not check:
      with open(path, "w") as f:
        f.write(new)
  return stale


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--check", action="store_true",
                      help="change nothing; exit 1 if a block differs from the code")
  parser.add_argument("--root", default=REPO, help="repository root (default: this file's)")
  args = parser.parse_args(argv)
  try:
    stale = update(args.root, check=args.check)
  except ValueError as e:
    print(f"gen_docs: {e}", file=sys.stderr)
    return 1
  if args.check:
    for entry in stale:
      print(f"stale generated {entry}: run python tools/gen_docs.py", file=sys.stderr)
    return 1 if stale else 0
  for entry in stale:
    print(f"rewrote {entry}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
