"""What this CPU offers for bfloat16, and what that means for mixed_bfloat16 training.

TensorFlow's CPU kernels for convolutions and matmuls come from oneDNN, which runs bfloat16 on
AMX tiles (AMX-BF16, e.g. Intel Sapphire Rapids and later) or AVX512-BF16 dot products (e.g.
Intel Cooper Lake, AMD Zen 4 and later). Without either, bfloat16 is converted to float32 around
every operation, and mixed_bfloat16 is slower than float32. Detection reads the kernel's CPU
flags (/proc/cpuinfo, Linux); elsewhere it reports "unknown".
"""

import os

# Kernel flag -> the instruction set's usual name, in the order they are printed.
BF16_FLAGS = (("amx_bf16", "AMX-BF16"), ("amx_tile", "AMX-TILE"),
              ("avx512_bf16", "AVX512-BF16"), ("avx_ne_convert", "AVX-NE-CONVERT"))
# Sets that execute bfloat16 arithmetic (AMX-TILE only loads tiles, AVX-NE-CONVERT only converts).
BF16_COMPUTE = ("AMX-BF16", "AVX512-BF16")


def parse_cpuinfo_flags(text):
  """The set of CPU flags of the first processor in /proc/cpuinfo text (x86 'flags', Arm
  'Features'); empty if there is none."""
  for line in text.splitlines():
    key, _, value = line.partition(":")
    if key.strip() in ("flags", "Features"):
      return set(value.split())
  return set()


def parse_cpuinfo_model(text):
  """The CPU model of the first processor in /proc/cpuinfo text (x86 'model name', Arm
  'Hardware' or 'CPU part'); None if there is none."""
  fields = {}
  for line in text.splitlines():
    key, _, value = line.partition(":")
    fields.setdefault(key.strip(), value.strip())
  for key in ("model name", "Hardware", "CPU part"):
    if fields.get(key):
      return fields[key]
  return None


def machine(accelerators, cpuinfo_path="/proc/cpuinfo"):
  """What trains: {"cpu": model or None, "bf16": [instruction sets] or None (unknown),
  "accelerators": [device type, ...]} (accelerators: e.g. ["GPU", "GPU"]). A seed's run differs
  between CPUs, so a run records the machines it trained on."""
  try:
    with open(cpuinfo_path) as f:
      text = f.read()
  except OSError:
    text = ""
  bf16 = bf16_instructions(cpuinfo_path)
  return {"cpu": parse_cpuinfo_model(text), "bf16": None if bf16 is None else list(bf16),
          "accelerators": list(accelerators)}


def bf16_instructions(cpuinfo_path="/proc/cpuinfo"):
  """Names of the bfloat16 instruction sets this CPU has, e.g. ("AMX-BF16", "AMX-TILE",
  "AVX512-BF16"); () if none; None if unknown (no readable cpuinfo: not Linux)."""
  try:
    with open(cpuinfo_path) as f:
      flags = parse_cpuinfo_flags(f.read())
  except OSError:
    return None
  if not flags:
    return None
  return tuple(name for flag, name in BF16_FLAGS if flag in flags)


def onednn_enabled():
  """Whether TensorFlow's oneDNN CPU kernels are on (TF_ENABLE_ONEDNN_OPTS, default on x86)."""
  value = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower()
  return value not in ("0", "false", "no", "off")


_DETECT = object()


def bf16_summary(instructions=_DETECT):
  """One line on what mixed_bfloat16 can gain on this CPU (for logs and the benchmark);
  instructions: as bf16_instructions() returns (detected when not given)."""
  if instructions is _DETECT:
    instructions = bf16_instructions()
  if instructions is None:
    return ("bfloat16 instructions: unknown (no /proc/cpuinfo); time float32 against "
            "mixed_bfloat16 with python -m sagan_tf.cli.benchmark "
            "--precisions=float32,mixed_bfloat16.")
  compute = [name for name in instructions if name in BF16_COMPUTE]
  listed = ", ".join(instructions) or "none"
  if not compute:
    return (f"bfloat16 instructions: {listed}. Without AMX-BF16 or AVX512-BF16 every bfloat16 "
            "op is emulated: mixed_bfloat16 will be slower than float32 on this CPU; train in "
            "float32 here (mixed_bfloat16 is for TPUs and bf16-capable CPUs).")
  if not onednn_enabled():
    return (f"bfloat16 instructions: {listed}, but TF_ENABLE_ONEDNN_OPTS turns oneDNN off, so "
            "TensorFlow's bfloat16 kernels do not use them; unset it for mixed_bfloat16.")
  return (f"bfloat16 instructions: {listed}: oneDNN runs bfloat16 convolutions and matmuls on "
          f"{' and '.join(compute)}; mixed_bfloat16 can be several times faster than float32.")


def warn_if_bf16_is_emulated(mixed_precision, on_accelerator, log):
  """Logs bf16_summary() through log(msg) when mixed_bfloat16 runs on CPU only (on_accelerator
  False) and this CPU cannot run bfloat16 natively (or oneDNN is off). Returns whether it did."""
  if mixed_precision != "mixed_bfloat16" or on_accelerator:
    return False
  instructions = bf16_instructions()
  native = any(n in BF16_COMPUTE for n in instructions or ()) and onednn_enabled()
  if instructions is None or native:
    return False
  log(bf16_summary(instructions))
  return True
