#!/usr/bin/env bash
# Scores the finished runs of tools/run_results.sh, one after another: each workdir's final
# checkpoint with the main network (MAIN: the imported Inception network or a stand-in) and,
# when CLASS is given, the stand-in for class accuracy, N samples; real-data outputs cached once
# in RUNS_DIR/real_stats for every run. A run already scored at these settings is skipped (the
# evaluation job skips what results.jsonl holds). The FLAGs after `--` go to every evaluation.
# Usage: bash tools/score_results.sh RUNS_DIR MAIN [CLASS] [N] [-- FLAG ...]  (CLASS '': none)
set -euo pipefail
usage="usage: score_results.sh RUNS_DIR MAIN [CLASS] [N] [-- FLAG ...]"
positional=()
while (($#)) && [[ $1 != -- ]]; do positional+=("$1"); shift; done
if (($#)); then shift; fi
runs=${positional[0]:?$usage}
main=${positional[1]:?$usage}
class=${positional[2]:-}
n=${positional[3]:-10000}
py=${PYTHON:-.venv/bin/python}
for workdir in "$runs"/*_s*/; do
  workdir=${workdir%/}
  [[ -f "$workdir/done" ]] || continue
  nice -n "${NICE:-0}" "$py" -m sagan_tf.cli.evaluate --workdir="$workdir" --once \
      --classifier_path="$main" ${class:+--class_classifier_path="$class"} --num_samples="$n" \
      --config.eval_stats_dir="$runs/real_stats" "$@" >> "$workdir.score.log" 2>&1
done
