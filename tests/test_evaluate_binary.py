"""The evaluation binary's bad input and Ctrl-C, run as a subprocess: one line on stderr, the
documented exit code (1 an error, 130 interrupted), nothing written. Errors that need no
TensorFlow come before it loads: those runs get a `tensorflow` that fails on import."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

import fake_classifiers
import tiny_sagan

REPO = tiny_sagan.REPO
EVALUATE = [sys.executable, "-m", "sagan_tf.cli.evaluate"]


@pytest.fixture(scope="module")
def features_only(tmp_path_factory):
  """16-d 'pool_3' only, the imported Inception network's interface."""
  return fake_classifiers.save(tmp_path_factory.mktemp("fake") / "features_only")


@pytest.fixture
def workdir(tmp_path_factory, tmp_path):
  """A copy of the tiny workdir (ckpt-7 and config.json)."""
  return shutil.copytree(tiny_sagan.shared(tmp_path_factory)["workdir"], tmp_path / "w")


def _files(root):
  return sorted(os.path.relpath(os.path.join(d, f), root)
                for d, _, files in os.walk(root) for f in files)


@pytest.mark.parametrize("args, message", [
    (["--bn_stats_batches=0"], "Error: --bn_stats_batches=0: standing BN statistics average K "
     "passes of B latents, so --bn_stats_batches and --bn_stats_batch_size must be >= 1."),
    (["--bn_stats_batch_size=0"], "Error: --bn_stats_batch_size=0: standing BN statistics"),
    (["--classifier_path=W/no_such_dir"], "Error: --classifier_path=W/no_such_dir does not "
     "exist: pass a SavedModel directory"),
    (["--class_classifier_path=W/checkpoints"], "Error: --class_classifier_path=W/checkpoints "
     "is not a SavedModel directory (no saved_model.pb)"),
])
def test_flag_errors_are_one_line_before_tensorflow(workdir, tmp_path, args, message):
  (tmp_path / "no_tf" / "tensorflow").mkdir(parents=True)
  (tmp_path / "no_tf" / "tensorflow" / "__init__.py").write_text(
      "raise ImportError('TensorFlow loaded before the flags were checked')\n")
  before = _files(workdir)
  args = [a.replace("W/", f"{workdir}/") for a in args]
  env = dict(tiny_sagan.clean_env(), PYTHONPATH=os.pathsep.join([str(tmp_path / "no_tf"), REPO]))
  result = subprocess.run(EVALUATE + [f"--workdir={workdir}", "--once"] + args, cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
  assert result.returncode == 1, result.stderr[-2000:]
  assert result.stderr.splitlines() == [message.replace("W/", f"{workdir}/")] or (
      len(result.stderr.splitlines()) == 1
      and result.stderr.startswith(message.replace("W/", f"{workdir}/"))), result.stderr
  assert _files(workdir) == before


def _errors(stderr):
  return [line for line in stderr.splitlines() if line.startswith("Error: ")]


def test_errors_after_tensorflow_loads_are_one_line(tmp_path_factory, features_only):
  """N below the main network's feature dimension; --checkpoint=best before any best; a
  --checkpoint path that does not exist (the message lists the kept ones)."""
  root = tmp_path_factory.mktemp("after_tf")
  tiny = tiny_sagan.shared(tmp_path_factory)["workdir"]
  small, best, missing = (shutil.copytree(tiny, root / name)
                          for name in ("small", "best", "missing"))
  jobs = [tiny_sagan.Job(EVALUATE + [f"--workdir={small}", "--once", "--num_samples=8",
                                     f"--classifier_path={features_only}"]),
          tiny_sagan.Job(EVALUATE + [f"--workdir={best}", "--checkpoint=best",
                                     f"--classifier_path={features_only}"]),
          tiny_sagan.Job(EVALUATE + [f"--workdir={missing}",
                                     f"--checkpoint={missing}/checkpoints/ckpt-5",
                                     f"--classifier_path={features_only}"])]
  expected = [
      "Error: generated samples: N=8 <= 16, the classifier's feature dimension: the covariance",
      f"Error: --checkpoint=best: no best checkpoint in {best}/best yet; the evaluation job "
      "keeps the best-scoring one there",
      f"Error: --checkpoint={missing}/checkpoints/ckpt-5: no such checkpoint (no "
      f"{missing}/checkpoints/ckpt-5.index); {missing} holds ckpt-7 in"]
  for job, w, message in zip(jobs, (small, best, missing), expected):
    rc, _, err = job.result()
    assert rc == 1, err[-3000:]
    errors = _errors(err)
    assert len(errors) == 1 and errors[0].startswith(message), err[-3000:]
    assert "Traceback" not in err
    assert _files(w) == _files(tiny)  # nothing written
  assert "--config.eval_allow_small_n=true" in _errors(jobs[0].result()[2])[0]


def test_ctrl_c_during_evaluation_exits_130_and_writes_nothing(workdir, features_only):
  proc = subprocess.Popen(
      EVALUATE + [f"--workdir={workdir}", "--once", "--num_samples=5000",
                  f"--classifier_path={features_only}"],
      cwd=REPO, env=tiny_sagan.clean_env(), stderr=subprocess.PIPE, text=True)
  lines = []
  try:
    for line in proc.stderr:  # interrupt while the real images are being classified (after
      lines.append(line)      # the first progress line: the pass is under way)
      if "real images: " in line:
        proc.send_signal(signal.SIGINT)
        break
    rest = proc.communicate(timeout=300)[1]
  finally:
    proc.kill()
  err = "".join(lines) + rest
  assert proc.returncode == 130, err[-3000:]
  assert "Traceback" not in err and "KeyboardInterrupt" not in err
  interrupted = [line for line in err.splitlines() if line.startswith("Interrupted: ")]
  assert interrupted == [f"Interrupted: nothing of the checkpoint in progress was written "
                         f"(finished ones are in {workdir}/eval/results.jsonl); exit code 130."]
  assert _files(workdir) == ["checkpoints/checkpoint", "checkpoints/ckpt-7.data-00000-of-00001",
                             "checkpoints/ckpt-7.index", "config.json"]
