"""The binaries (console scripts sagan-<name>, or python -m sagan_tf.cli.<name>) and the flags
they share (flags.py). A binary holds wiring, not logic: it parses flags, checks what needs no
TensorFlow, then imports the library (the one deferred import of the package, marked
`# deferred:` so --help and flag errors stay fast) and calls it.

  train                 sagan-train                 training (sagan_tf.training)
  evaluate              sagan-evaluate              IS / FID / KID / accuracy (sagan_tf.evaluation)
  export                sagan-export                SavedModel for TF Serving (sagan_tf.export)
  sample                sagan-sample                a PNG grid of samples by class
  interpolate           sagan-interpolate           latent and class interpolations
  visualize_attention   sagan-visualize-attention   attention maps as in the paper's figures
  train_classifier      sagan-train-classifier      the stand-in classifier for evaluation
  prepare_tfrecords     sagan-prepare-tfrecords     pre-resized TFRecord shards
  benchmark             sagan-benchmark             iteration speed and memory tables
"""
