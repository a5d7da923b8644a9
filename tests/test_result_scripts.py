"""tools/run_results.sh and tools/score_results.sh: the runs and evaluations they start (their
order, workdirs and flags), finished runs skipped, bad usage refused. PYTHON is a stand-in that
records its arguments, so nothing trains here (the binaries have their own tests)."""

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fake_python(tmp_path):
  log = tmp_path / "calls.log"
  script = tmp_path / "python"
  script.write_text(f"#!/bin/sh\necho \"$*\" >> {log}\n"  # and makes the workdir, as the trainer
                    "for a in \"$@\"; do case $a in --workdir=*) mkdir -p \"${a#--workdir=}\";; "
                    "esac; done\n")
  script.chmod(0o755)
  return script, log


def _run(tool, fake, *args, **env):
  script, log = fake
  result = subprocess.run(["bash", f"tools/{tool}", *map(str, args)], cwd=REPO, text=True,
                          capture_output=True, timeout=60,
                          env=dict(os.environ, PYTHON=str(script), **env))
  calls = log.read_text().splitlines() if log.exists() else []
  log.unlink(missing_ok=True)
  return result, calls


def test_runs_go_seed_by_seed_with_each_settings_flags(tmp_path, fake_python):
  runs = tmp_path / "runs"
  result, calls = _run("run_results.sh", fake_python, runs, "emoji", "--seeds=0", "--seeds=3,4",
                       "--", "--config.g_ch=8", EMOJI_DIR="/data/emoji")  # the last counts
  assert result.returncode == 0, result.stderr
  names = [c.split("--workdir=")[1].split()[0] for c in calls]
  assert names == [str(runs / n) for n in ("attn16_s3", "noattn_s3", "attn16_da_s3",
                                           "attn16_s4", "noattn_s4", "attn16_da_s4")]
  for call in calls:
    assert call.startswith("-m sagan_tf.cli.train --config=experiments/emoji32.py "
                           "--config.data_dir=/data/emoji ")
    assert call.endswith(" --config.g_ch=8")
  assert "--config.seed=3 --config.data_seed=3" in calls[0]
  assert "--config.g_attention=() --config.d_attention=()" in calls[1]
  assert "attention" not in calls[0] and "diffaugment" not in calls[1]
  assert "--config.diffaugment=color,translation,cutout" in calls[2]
  assert all(os.path.exists(os.path.join(n, "done")) for n in names)
  again, calls = _run("run_results.sh", fake_python, runs, "emoji", "--seeds=3,4",
                      EMOJI_DIR="/d")
  assert again.returncode == 0 and calls == []  # finished runs are skipped


def test_settings_choose_some_of_the_suites_in_its_order(tmp_path, fake_python):
  result, calls = _run("run_results.sh", fake_python, tmp_path, "emoji", "--seeds=1",
                       "--settings=attn16_da,attn16", EMOJI_DIR="/d")
  assert result.returncode == 0, result.stderr
  assert [c.split("--workdir=")[1].split()[0] for c in calls] == [
      str(tmp_path / "attn16_s1"), str(tmp_path / "attn16_da_s1")]
  assert "--config.diffaugment=color,translation,cutout" in calls[1]
  bad, calls = _run("run_results.sh", fake_python, tmp_path, "demo", "--settings=attn16_da")
  assert bad.returncode == 2 and calls == [], bad.stderr
  assert "attn16_da is not a setting of demo; choose of attn16,noattn" in bad.stderr


def test_long_suites_train_attn16_six_times_longer_keeping_each_checkpoint(tmp_path,
                                                                           fake_python):
  for suite, config in (("demo_long", "cpu_demo"), ("emoji_long", "emoji32")):
    result, calls = _run("run_results.sh", fake_python, tmp_path / suite, suite, "--seeds=0",
                         "--", "--config.num_train_steps=4", EMOJI_DIR="/d")
    assert result.returncode == 0, result.stderr
    assert len(calls) == 1 and f"--workdir={tmp_path / suite}/attn16_s0 " in calls[0]
    assert f"--config=experiments/{config}.py " in calls[0]
    assert ("--config.num_train_steps=15000 --config.checkpoint_every_steps=2500 "
            "--config.keep_checkpoints=6 ") in calls[0]
    assert calls[0].endswith(" --config.num_train_steps=4")  # later flags win
    assert "attention" not in calls[0]  # the config's attention on the 16x16 maps
  bad, calls = _run("run_results.sh", fake_python, tmp_path, "demo_long", "--settings=noattn")
  assert bad.returncode == 2 and calls == [] and "noattn is not a setting of demo_long" in bad.stderr


def test_default_seeds_and_bad_usage(tmp_path, fake_python):
  result, calls = _run("run_results.sh", fake_python, tmp_path, "demo")
  assert result.returncode == 0, result.stderr
  assert len(calls) == 10 and "--config=experiments/cpu_demo.py" in calls[0]
  assert "--config.seed=4" in calls[-1] and "noattn_s4" in calls[-1]
  bad, calls = _run("run_results.sh", fake_python, tmp_path, "cifar")
  assert bad.returncode == 2 and "demo|emoji" in bad.stderr and calls == []
  for args, message in ((["--seeds=0,x"], "seeds are integers"), (["3"], "got '3'"),
                        (["--seeds="], "got '--seeds='"),
                        (["--settings="], "got '--settings='")):
    bad, calls = _run("run_results.sh", fake_python, tmp_path, "demo", *args)
    assert bad.returncode == 2 and message in bad.stderr and calls == [], bad.stderr
  no_data, calls = _run("run_results.sh", fake_python, tmp_path / "e", "emoji")
  assert no_data.returncode != 0 and "EMOJI_DIR" in no_data.stderr and calls == []


def test_scores_finished_runs_only_with_the_given_networks(tmp_path, fake_python):
  for name in ("attn16_s0", "noattn_s0", "attn16_s1"):
    (tmp_path / name).mkdir()
  for name in ("attn16_s0", "noattn_s0"):
    (tmp_path / name / "done").touch()
  result, calls = _run("score_results.sh", fake_python, tmp_path, "/nets/inception",
                       "/nets/standin", 64, "--", "--bn_stats_batches=2")
  assert result.returncode == 0, result.stderr
  assert [c.split("--workdir=")[1].split()[0] for c in calls] == [
      str(tmp_path / "attn16_s0"), str(tmp_path / "noattn_s0")]
  for call in calls:
    assert call.startswith("-m sagan_tf.cli.evaluate ")
    for flag in ("--once", "--classifier_path=/nets/inception",
                 "--class_classifier_path=/nets/standin", "--num_samples=64",
                 f"--config.eval_stats_dir={tmp_path}/real_stats"):
      assert f" {flag} " in call, (flag, call)
    assert call.endswith(" --bn_stats_batches=2")
  _, calls = _run("score_results.sh", fake_python, tmp_path, "/nets/inception")
  assert "class_classifier_path" not in calls[0] and "--num_samples=10000" in calls[0]
  bad, calls = _run("score_results.sh", fake_python, tmp_path)
  assert bad.returncode != 0 and "usage" in bad.stderr and calls == []


def test_every_checkpoint_scores_each_kept_checkpoint_oldest_first(tmp_path, fake_python):
  run = tmp_path / "attn16_s0"
  (run / "checkpoints").mkdir(parents=True)
  (run / "done").touch()
  for step in (10000, 2500, 5000):  # lexically 10000 would come first
    for suffix in (".index", ".data-00000-of-00001"):
      (run / "checkpoints" / f"ckpt-{step}{suffix}").touch()
  (run / "checkpoints" / "checkpoint").touch()
  result, calls = _run("score_results.sh", fake_python, tmp_path, "/nets/inception",
                       "--every_checkpoint", "--real_stats=/runs/demo/real_stats", "--",
                       "--poll_secs=1")
  assert result.returncode == 0, result.stderr
  assert all(" --config.eval_stats_dir=/runs/demo/real_stats " in c for c in calls)
  assert [c.split("--checkpoint=")[1].split()[0] for c in calls] == [
      f"{run}/checkpoints/ckpt-{step}" for step in (2500, 5000, 10000)]
  assert all(" --once " in c and c.endswith(" --poll_secs=1") for c in calls)
  _, calls = _run("score_results.sh", fake_python, tmp_path, "/nets/inception")
  assert len(calls) == 1 and "--checkpoint" not in calls[0]  # without it: the latest only
  assert calls[0].endswith(f" --config.eval_stats_dir={tmp_path}/real_stats")
  bad, calls = _run("score_results.sh", fake_python, tmp_path, "/nets/inception", "--every")
  assert bad.returncode == 2 and "got '--every'" in bad.stderr and calls == []


def test_collect_copies_each_scored_runs_results_and_its_scored_and_last_ema_sheets(tmp_path):
  runs, out = tmp_path / "runs", tmp_path / "docs" / "demo"
  for name, steps in (("attn16_s0", (250, 500, 2500)), ("noattn_s1", (250,)),
                      ("attn16_s2", (250,)), ("long_s0", (0, 2500, 5000, 7500))):
    (runs / name / "samples").mkdir(parents=True)
    for step in steps:
      for g in ("ema", "raw"):
        padded = f"{step:06d}" if name == "long_s0" else step  # the trainer pads; older runs not
        (runs / name / "samples" / f"step_{padded}_{g}.png").write_text(f"{name} {step} {g}")
  for name in ("attn16_s0", "noattn_s1"):  # attn16_s2 is not scored
    (runs / name / "eval").mkdir()
    (runs / name / "eval" / "results.jsonl").write_text(f'{{"run": "{name}"}}\n')
  # a long run scored at two of its checkpoints (not in step order, as --every_checkpoint
  # after a first scoring of the final one writes them)
  (runs / "long_s0" / "eval").mkdir()
  (runs / "long_s0" / "eval" / "results.jsonl").write_text(
      '{"bn_stats": {"batches": 20}, "step": 7500}\n{"step": 2500, "steps": 5000}\n')
  (runs / "attn16_s0" / "config.json").write_text('{"machines": []}')
  (runs / "real_stats").mkdir()
  result = subprocess.run(["bash", "tools/collect_results.sh", str(runs), str(out)], cwd=REPO,
                          text=True, capture_output=True, timeout=60)
  assert result.returncode == 0, result.stderr
  assert "Copied 3 scored run(s)" in result.stdout
  assert sorted(p.name for p in out.iterdir()) == ["attn16_s0", "long_s0", "noattn_s1"]
  assert (out / "attn16_s0" / "eval" / "results.jsonl").read_text() == '{"run": "attn16_s0"}\n'
  assert (out / "attn16_s0" / "config.json").read_text() == '{"machines": []}'  # what trained
  assert not (out / "noattn_s1" / "config.json").exists()  # an older run without one
  # the numerically last EMA sheet (2500, not the lexically last 500), not the raw one
  assert [p.name for p in (out / "attn16_s0" / "samples").iterdir()] == ["step_2500_ema.png"]
  assert (out / "noattn_s1" / "samples" / "step_250_ema.png").read_text() == "noattn_s1 250 ema"
  # a long run: the sheet of each scored step (the curve's points), none of the others
  assert sorted(p.name for p in (out / "long_s0" / "samples").iterdir()) == [
      "step_002500_ema.png", "step_007500_ema.png"]
  assert (out / "long_s0" / "samples" / "step_002500_ema.png").read_text() == "long_s0 2500 ema"
  # a later run of the trainer and the evaluation: the copy follows, the older sheet goes
  (runs / "noattn_s1" / "samples" / "step_500_ema.png").write_text("noattn_s1 500 ema")
  (runs / "noattn_s1" / "eval" / "results.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
  again = subprocess.run(["bash", "tools/collect_results.sh", str(runs), str(out)], cwd=REPO,
                         text=True, capture_output=True, timeout=60)
  assert again.returncode == 0, again.stderr
  assert [p.name for p in (out / "noattn_s1" / "samples").iterdir()] == ["step_500_ema.png"]
  assert (out / "noattn_s1" / "eval" / "results.jsonl").read_text().count("\n") == 2
  for args, message in (([str(tmp_path / "none"), str(out)], "is not a directory"),
                        ([str(runs)], "usage"), ([str(runs), str(out), "x"], "usage")):
    bad = subprocess.run(["bash", "tools/collect_results.sh", *args], cwd=REPO, text=True,
                         capture_output=True, timeout=60)
    assert bad.returncode != 0 and message in bad.stderr, bad.stderr
