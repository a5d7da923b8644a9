"""Training: strategy selection, the distributed GAN step, EMA, checkpoints, summaries."""
