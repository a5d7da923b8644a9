"""The package's layering: the import contract (.importlinter, checked by import-linter) holds,
and no module imports inside a function except a binary's one `# deferred:` block."""

import ast
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "sagan_tf")
DEFERRED = "# deferred:"


def _lint_imports():
  return os.path.join(os.path.dirname(sys.executable), "lint-imports")


def test_import_contract_is_kept():
  result = subprocess.run([_lint_imports(), "--no-cache", os.path.join(REPO, ".importlinter")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
  assert "1 kept, 0 broken" in result.stdout


def test_import_contract_catches_an_upward_import(tmp_path):
  """The contract is not vacuous: a copy of the package where sampling imports training (the
  cycle the layering removed) breaks it."""
  copy = tmp_path / "sagan_tf"
  subprocess.run(["cp", "-r", PACKAGE, str(copy)], check=True)
  bad = copy / "sampling" / "noise.py"
  bad.write_text("from sagan_tf.training import loop  # noqa: F401\n" + bad.read_text())
  env = dict(os.environ, PYTHONPATH=str(tmp_path))
  result = subprocess.run([_lint_imports(), "--no-cache", os.path.join(REPO, ".importlinter")],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 1, result.stdout[-3000:]
  assert "sagan_tf.sampling.noise -> sagan_tf.training.loop" in result.stdout


def _function_imports(path):
  """[(line, deferred)] of import statements inside functions; deferred when the statement is
  in sagan_tf/cli and a `# deferred:` comment line precedes it (directly or through other
  imports of the same block)."""
  with open(path) as f:
    source = f.read()
  lines = source.splitlines()
  found = []
  for node in ast.walk(ast.parse(source)):
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      continue
    for inner in ast.walk(node):
      if isinstance(inner, (ast.Import, ast.ImportFrom)):
        i = inner.lineno - 2
        while i >= 0 and lines[i].strip().startswith(("from ", "import ")):
          i -= 1
        marked = i >= 0 and lines[i].strip().startswith(DEFERRED)
        found.append((inner.lineno, marked and os.sep + "cli" + os.sep in path))
  return found


def test_no_import_inside_a_function_but_the_binaries_deferred_block():
  offenders = []
  for root, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(root, name)
        offenders += [f"{os.path.relpath(path, REPO)}:{line}"
                      for line, ok in _function_imports(path) if not ok]
  assert not offenders, f"imports inside functions: {offenders}"


@pytest.mark.parametrize("name", sorted(
    n[:-3] for n in os.listdir(os.path.join(PACKAGE, "cli"))
    if n.endswith(".py") and n not in ("__init__.py", "flags.py", "sources.py", "benchmark.py")))
def test_binary_imports_no_tensorflow_before_main(name):
  """Importing a binary (flag definitions: what --help needs) loads no TensorFlow. (The
  benchmark is the exception: its flags list its library's modes, and it times its imports.)"""
  code = (f"import sys; import sagan_tf.cli.{name}; "
          "print('tensorflow' in sys.modules)")
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == "False"


def test_ci_runs_the_readmes_test_command():
  """.ci/run installs, then runs exactly the README's first test command (the whole suite)."""
  with open(os.path.join(REPO, "README.md")) as f:
    readme = f.read()
  with open(os.path.join(REPO, ".ci", "run")) as f:
    ci = [line.strip() for line in f if line.strip() and not line.startswith("#")]
  first = re.search(r"```sh\n(\.venv/bin/python -m pytest [^\n]*)\n```", readme).group(1)
  assert ci[-1] == first, (ci[-1], first)
  assert "-m" not in first.split("pytest", 1)[1].split(), first  # not a tier: the whole suite
