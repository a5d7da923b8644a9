"""The install users do: `pip install <checkout>` (what `pip install git+URL` runs) builds the
wheel, installs it with the dependencies setup.py declares (constrained by requirements.txt's
pins, so nothing new is downloaded where CI's cache has them) into a fresh virtual environment,
and its console scripts train and sample from outside the checkout. CI's own environment is
installed from requirements.txt and `pip install -e .`: only this test checks setup.py's
dependencies."""

import glob
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--config.g_ch=8", "--config.d_ch=8", "--config.global_batch_size=4",
        "--config.num_train_steps=2", "--config.steps_per_loop=1",
        "--config.checkpoint_every_steps=2", "--config.image_every_steps=2",
        "--config.num_image_samples=2", "--config.standing_stats_batches=1",
        "--config.standing_stats_batch_size=4"]


def _run(args, cwd, env, timeout=900):
  result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
  assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
  return result


@pytest.mark.slow
def test_wheel_installs_with_its_dependencies_then_trains_and_samples(tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop("PYTHONPATH", None)
  # The source as a user's checkout has it (the build writes nothing into this one).
  source = tmp_path / "source"
  shutil.copytree(os.path.join(REPO, "sagan_tf"), source / "sagan_tf",
                  ignore=shutil.ignore_patterns("__pycache__"))
  shutil.copy(os.path.join(REPO, "setup.py"), source)
  _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "-w", tmp_path / "dist", source], tmp_path, env)
  wheel, = glob.glob(str(tmp_path / "dist" / "sagan_tf-*.whl"))
  venv = tmp_path / "venv"
  _run([sys.executable, "-m", "venv", venv], tmp_path, env)
  _run([venv / "bin" / "pip", "install", "--quiet", wheel, "-c",
        os.path.join(REPO, "requirements.txt")], tmp_path, env)
  _run([venv / "bin" / "pip", "check"], tmp_path, env)
  outside = tmp_path / "elsewhere"
  outside.mkdir()
  where = _run([venv / "bin" / "python", "-c", "import sagan_tf; print(sagan_tf.__file__)"],
               outside, env).stdout
  assert where.startswith(str(venv)), where  # the installed package, not a checkout
  # The README's training command with tiny sizes, its config file given by path.
  _run([venv / "bin" / "sagan-train", f"--config={REPO}/experiments/cpu_demo.py",
        "--workdir=w", *TINY], outside, env)
  assert os.path.exists(outside / "w" / "checkpoints" / "ckpt-2.index")
  _run([venv / "bin" / "sagan-sample", "--workdir=w", "--classes=0,1", "--per_class=2",
        "--bn_stats=moving", "--out=s.png"], outside, env)
  assert (outside / "s.png").stat().st_size > 0
