"""The generated blocks of README.md and docs/*.md match the code (tools/gen_docs.py --check,
in-process), and gen_docs itself: markers, stale detection, the console scripts of setup.py."""

import importlib.util
import json
import os
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_gen_docs():
  spec = importlib.util.spec_from_file_location(
      "gen_docs", os.path.join(REPO, "tools", "gen_docs.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


gen_docs = _load_gen_docs()


def test_generated_blocks_match_the_code(capsys):
  assert gen_docs.main(["--check"]) == 0, capsys.readouterr().err


def test_every_block_appears_in_the_docs():
  text = ""
  for name in gen_docs.doc_files(REPO):
    with open(os.path.join(REPO, name)) as f:
      text += f.read()
  for block in gen_docs.BLOCKS:
    assert f"<!-- generated: {block} -->" in text, f"no doc shows the {block!r} block"


def test_render_replaces_bodies_and_names_changes():
  text = "a\n<!-- generated: x -->\nold\n<!-- end generated -->\nb\n<!-- generated: y -->\n" \
         "same\n<!-- end generated -->\n"
  new, changed = gen_docs.render(text, {"x": "new\nlines", "y": "same"})
  assert new == ("a\n<!-- generated: x -->\nnew\nlines\n<!-- end generated -->\nb\n"
                 "<!-- generated: y -->\nsame\n<!-- end generated -->\n")
  assert changed == ["x"]
  assert gen_docs.render(new, {"x": "new\nlines", "y": "same"}) == (new, [])
  assert gen_docs.render("no blocks\n", {}) == ("no blocks\n", [])


@pytest.mark.parametrize("text, error", [
    ("<!-- generated: nope -->\n<!-- end generated -->\n", "unknown generated block 'nope'"),
    ("<!-- generated: x -->\nbody\n", "block 'x' has no"),
    ("<!-- generated: x -->\n<!-- generated: x -->\n<!-- end generated -->\n", "has no"),
    ("text\n<!-- end generated -->\n", "without a block"),
])
def test_render_refuses_malformed_markers(text, error):
  with pytest.raises(ValueError, match=error):
    gen_docs.render(text, {"x": "body"}, "f.md")


def test_check_names_the_stale_block_and_rewrite_fixes_it(tmp_path, capsys):
  (tmp_path / "docs").mkdir()
  (tmp_path / "setup.py").write_text(textwrap.dedent("""\
      import setuptools
      setuptools.setup(name="x", entry_points={"console_scripts": [
          "sagan-a=sagan_tf.cli.a:main", "sagan-b = pkg.b.__main__:run"]})
      """))
  (tmp_path / "README.md").write_text("# x\n")
  doc = tmp_path / "docs" / "d.md"
  doc.write_text("<!-- generated: binaries -->\nstale\n<!-- end generated -->\n")
  assert gen_docs.main(["--check", "--root", str(tmp_path)]) == 1
  assert "docs/d.md: block 'binaries'" in capsys.readouterr().err
  assert "stale" in doc.read_text()  # --check changes nothing
  assert gen_docs.main(["--root", str(tmp_path)]) == 0
  assert doc.read_text() == ("<!-- generated: binaries -->\n| binary | module (`python -m`) |\n"
                             "|---|---|\n| `sagan-a` | `sagan_tf.cli.a` |\n"
                             "| `sagan-b` | `pkg.b` |\n<!-- end generated -->\n")
  assert gen_docs.main(["--check", "--root", str(tmp_path)]) == 0


def test_console_scripts_of_this_repository():
  scripts = dict(gen_docs.console_scripts(REPO))
  assert "sagan-train" in scripts and "sagan-evaluate" in scripts, scripts
  assert all(name.startswith("sagan-") for name in scripts)


def test_key_lists_wrap_in_schema_order():
  text = gen_docs.key_list({"c", "a", "zz", "b"}, ["b", "a", "c"], "4 keys:")
  assert text == "4 keys: `b`, `a`, `c`, `zz`."
  long = gen_docs.key_list({f"key_{i:02d}" for i in range(30)}, [], "30 keys:")
  assert all(len(line) <= 100 for line in long.split("\n")) and long.count("\n") >= 2


def test_result_blocks_are_the_summarize_commands_output(tmp_path, capsys, monkeypatch):
  os.symlink(os.path.join(REPO, "tools"), tmp_path / "tools")
  (tmp_path / "README.md").write_text("# x\n")
  record = dict(format=2, step=2500, checkpoint="c", generator="ema", num_samples=10000,
                bn_stats=dict(mode="standing"), classifier="/i", class_classifier=None,
                metrics={"inception/fid": 41.5, "inception/kid": 0.0123})
  for seed, fid in ((0, 41.5), (1, 43.5)):
    eval_dir = tmp_path / "docs" / "results" / "toy_long" / f"attn16_s{seed}" / "eval"
    eval_dir.mkdir(parents=True)
    (eval_dir / "results.jsonl").write_text(json.dumps(
        dict(record, metrics=dict(record["metrics"], **{"inception/fid": fid}))) + "\n")
  doc = tmp_path / "docs" / "results.md"
  monkeypatch.setitem(gen_docs.RESULT_TABLES, "toy_long",
                      ["--metrics=inception/fid,inception/kid", "--compare=attn16,noattn"])
  monkeypatch.setitem(gen_docs.BLOCKS, "results-toy_long", gen_docs.result_table("toy_long"))
  doc.write_text(f"```sh\n{gen_docs.result_command('toy_long')}\n```\n"
                 "<!-- generated: results-toy_long -->\n<!-- end generated -->\n")
  assert gen_docs.main(["--root", str(tmp_path)]) == 0, capsys.readouterr().err
  text = doc.read_text()
  assert "| attn16 | 2500 | ema | standing | 10000 | 0, 1 | 42.5 +- 1.41 (41.5, 43.5) |" in text
  assert "- attn16 - noattn: no metric with two or more seeds of each" in text
  assert gen_docs.main(["--check", "--root", str(tmp_path)]) == 0


def test_results_doc_prints_each_tables_command_above_it():
  with open(os.path.join(REPO, "docs", "results.md")) as f:
    published = f.read()
  for suite in gen_docs.RESULT_TABLES:
    command, block = gen_docs.result_command(suite), f"<!-- generated: results-{suite} -->"
    assert command in published and block in published, suite
    assert published.index(command) < published.index(block), suite
