"""Export for TF Serving (python -m sagan_tf.export ...) and sampling from workdirs or exports.

Submodules (imported on demand, so `--help` of the CLI and tools stays fast):
  exporter:   SavedModel with serving_default / generate_from_seed / generate_with_attention,
              written atomically to BASE/<version>.
  noise:      deterministic seeded (optionally truncated) latent noise.
  sampler:    one interface to a generator from a workdir or an export (used by tools/).
  tool_flags: the --config/--workdir/--export_dir/... flags shared by the tools.
  versions:   version numbering of BASE (no TensorFlow).
  warmup:     TF Serving warm-up requests.
"""

import importlib

_EXPORTS = {"SIGNATURES": "exporter", "build_archive": "exporter",
            "export_generator": "exporter", "next_version": "versions",
            "read_metadata": "exporter", "resolve_version_dir": "exporter",
            "seeded_noise": "noise", "load_sampler": "sampler"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
  if name in _EXPORTS:
    module = importlib.import_module(f"sagan_tf.export.{_EXPORTS[name]}")
    return getattr(module, name)
  raise AttributeError(f"module 'sagan_tf.export' has no attribute {name!r}")
