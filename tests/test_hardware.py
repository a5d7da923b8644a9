"""bfloat16 detection: the cpuinfo parser, the advice, and agreement with TensorFlow's own CPUID
check on this machine; the machine a run records."""

import os
import re
import subprocess
import sys

import pytest

from sagan_tf import hardware

X86_AMX = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8 avx512_fp16
"""
X86_AVX512_BF16 = "processor : 0\nflags : fpu avx2 avx512f avx512_bf16\n"
X86_NONE = "processor : 0\nflags : fpu sse2 avx2 fma avx512f\n"
ARM = "processor : 0\nFeatures : fp asimd bf16 sve\n"


def _write(tmp_path, text):
  path = tmp_path / "cpuinfo"
  path.write_text(text)
  return str(path)


@pytest.mark.parametrize("text, want", [
    (X86_AMX, ("AMX-BF16", "AMX-TILE", "AVX512-BF16")),
    (X86_AVX512_BF16, ("AVX512-BF16",)),
    (X86_NONE, ()),
    (ARM, ()),  # Arm's bf16 flag is not an x86 set; oneDNN on Arm is not covered here
])
def test_instructions_from_cpuinfo(tmp_path, text, want):
  assert hardware.bf16_instructions(_write(tmp_path, text)) == want


def test_unknown_without_cpuinfo(tmp_path):
  assert hardware.bf16_instructions(str(tmp_path / "missing")) is None
  assert hardware.bf16_instructions(_write(tmp_path, "nothing here\n")) is None
  assert "unknown" in hardware.bf16_summary(None)


def test_machine_names_the_cpu_and_its_bf16_sets(tmp_path):
  two = X86_AMX + X86_AMX.replace("8480+", "other")  # the first processor's model counts
  assert hardware.machine(["GPU"], _write(tmp_path, two)) == {
      "cpu": "Intel(R) Xeon(R) Platinum 8480+", "bf16": ["AMX-BF16", "AMX-TILE", "AVX512-BF16"],
      "accelerators": ["GPU"]}
  arm = ARM + "Hardware : Neoverse-V1\n"
  assert hardware.machine([], _write(tmp_path, arm))["cpu"] == "Neoverse-V1"
  assert hardware.machine([], _write(tmp_path, X86_NONE)) == {
      "cpu": None, "bf16": [], "accelerators": []}
  assert hardware.machine([], str(tmp_path / "missing")) == {
      "cpu": None, "bf16": None, "accelerators": []}


def test_summary_says_what_to_do(monkeypatch):
  monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
  assert "slower than float32" in hardware.bf16_summary(())
  assert "slower than float32" in hardware.bf16_summary(("AVX-NE-CONVERT",))
  amx = hardware.bf16_summary(("AMX-BF16", "AMX-TILE", "AVX512-BF16"))
  assert "AMX-BF16 and AVX512-BF16" in amx and "faster" in amx
  monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
  assert "TF_ENABLE_ONEDNN_OPTS" in hardware.bf16_summary(("AVX512-BF16",))


@pytest.mark.parametrize("instructions, mixed_precision, accelerator, warns", [
    ((), "mixed_bfloat16", False, True),
    ((), "mixed_bfloat16", True, False),   # TPU / GPU: bf16 is native there
    ((), "", False, False),
    (("AVX512-BF16",), "mixed_bfloat16", False, False),
    (None, "mixed_bfloat16", False, False),  # unknown: no claim
])
def test_warning_only_where_bf16_is_emulated(monkeypatch, instructions, mixed_precision,
                                             accelerator, warns):
  monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
  monkeypatch.setattr(hardware, "bf16_instructions", lambda: instructions)
  logged = []
  assert hardware.warn_if_bf16_is_emulated(mixed_precision, accelerator, logged.append) == warns
  assert len(logged) == int(warns)


def test_detection_agrees_with_tensorflows_cpuid_check():
  # TensorFlow reads CPUID itself and logs the instruction sets its binary was not built for
  # ("To enable the following instructions: ... AVX512_BF16 ... AMX_BF16 ..."); the pip build
  # targets AVX, so every bf16 set the CPU has is listed. Our answer comes from the kernel's
  # /proc/cpuinfo flags: an independent source.
  ours = hardware.bf16_instructions()
  if ours is None:
    pytest.skip("no /proc/cpuinfo on this machine")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0")
  out = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env,
                       capture_output=True, text=True, timeout=120)
  match = re.search(r"following instructions: ([A-Z0-9_ ]+)", out.stderr)
  if not match:
    pytest.skip("this TensorFlow build does not log unused CPU instructions")
  tf_sets = {name.replace("_", "-") for name in match.group(1).split()}
  compared = {"AMX-BF16", "AMX-TILE", "AVX512-BF16"}
  assert tf_sets & compared == set(ours) & compared
