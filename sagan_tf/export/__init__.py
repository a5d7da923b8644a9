"""Export for TF Serving (python -m sagan_tf.export ...). Knows SavedModels only: what is
exported (which generator, which BN statistics, the noise) comes from sagan_tf.sampling.

Submodules (imported on demand, so `--help` of the CLI stays fast):
  exporter:   SavedModel with serving_default / generate_from_seed / generate_with_attention,
              a request-size limit (max_batch), written atomically to BASE/<version>.
  versions:   version numbering of BASE (no TensorFlow).
  warmup:     TF Serving warm-up requests.
"""

import importlib

_EXPORTS = {"SIGNATURES": "exporter", "build_archive": "exporter",
            "export_generator": "exporter", "next_version": "versions",
            "read_metadata": "exporter", "resolve_version_dir": "exporter"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
  if name in _EXPORTS:
    module = importlib.import_module(f"sagan_tf.export.{_EXPORTS[name]}")
    return getattr(module, name)
  raise AttributeError(f"module 'sagan_tf.export' has no attribute {name!r}")
