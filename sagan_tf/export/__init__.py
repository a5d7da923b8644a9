"""Export for TF Serving (the binary: sagan-export, sagan_tf/cli/export.py). Knows SavedModels
only: what is exported (which generator, which BN statistics, the noise) comes from
sagan_tf.sampling; the directory layout and metadata from sagan_tf.store.exports.

  exporter:   SavedModel with serving_default / generate_from_seed / generate_with_attention,
              a request-size limit (max_batch), written atomically to BASE/<version>.
  warmup:     TF Serving warm-up requests.
"""

from sagan_tf.export.exporter import build_archive, export_generator, SIGNATURES

__all__ = ["build_archive", "export_generator", "SIGNATURES"]
