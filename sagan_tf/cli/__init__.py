"""Command-line binaries (absl): python -m sagan_tf.cli.<name>."""
