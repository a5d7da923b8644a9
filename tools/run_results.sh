#!/usr/bin/env bash
# Trains the runs behind docs/results.md, one after another (one CPU-heavy job at a time); a
# finished run is skipped (the trainer resumes a workdir and stops at num_train_steps).
# Usage: bash tools/run_results.sh RUNS_DIR [SEED ...]
# Run from a checkout: `python -m sagan_tf.cli.train` imports the package of the current directory.
set -euo pipefail
runs=${1:?usage: run_results.sh RUNS_DIR [SEED ...]}
shift
seeds=("${@:-0 1 2 3 4}")
py=${PYTHON:-.venv/bin/python}
train() {  # train NAME SEED [--config.KEY=VALUE ...]
  local name=$1 seed=$2
  shift 2
  local workdir="$runs/${name}_s$seed"
  if [[ -f "$workdir/done" ]]; then return; fi
  while pgrep -f -- "--workdir=$workdir " > /dev/null; do sleep 20; done
  nice -n "${NICE:-0}" "$py" -m sagan_tf.cli.train --config=experiments/cpu_demo.py \
      --workdir="$workdir" --config.seed="$seed" --config.data_seed="$seed" \
      --config.checkpoint_every_steps=1250 "$@" >> "$runs/${name}_s$seed.log" 2>&1
  touch "$workdir/done"
}
for seed in ${seeds[@]}; do train attn16 "$seed"; done
for seed in ${seeds[@]}; do train noattn "$seed" --config.g_attention='()' --config.d_attention='()'; done
