#!/usr/bin/env bash
# Scores the finished runs of tools/run_results.sh, one after another: each workdir's final
# checkpoint (--every_checkpoint: each checkpoint it keeps, oldest first, for a curve over
# training) with the main network (MAIN: the imported Inception network or a stand-in) and,
# when CLASS is given, the stand-in for class accuracy, N samples; real-data outputs cached once
# in RUNS_DIR/real_stats (--real_stats=DIR: in DIR, e.g. another suite's of the same data) for
# every run. A run already scored at these settings is skipped (the
# evaluation job skips what results.jsonl holds). The FLAGs after `--` go to every evaluation.
# Usage: bash tools/score_results.sh RUNS_DIR MAIN [CLASS] [N] [--every_checkpoint]
#        [--real_stats=DIR] [-- FLAG ...]  (CLASS '': none)
set -euo pipefail
usage="usage: score_results.sh RUNS_DIR MAIN [CLASS] [N] [--every_checkpoint] [--real_stats=DIR]"
usage+=" [-- FLAG ...]"
positional=()
every=
real_stats=
while (($#)) && [[ $1 != -- ]]; do
  case $1 in
    --every_checkpoint) every=1 ;;
    --real_stats=?*) real_stats=${1#--real_stats=} ;;
    --*) echo "$usage (got '$1')" >&2; exit 2 ;;
    *) positional+=("$1") ;;
  esac
  shift
done
if (($#)); then shift; fi
runs=${positional[0]:?$usage}
main=${positional[1]:?$usage}
class=${positional[2]:-}
n=${positional[3]:-10000}
real_stats=${real_stats:-$runs/real_stats}
py=${PYTHON:-.venv/bin/python}
for workdir in "$runs"/*_s*/; do
  workdir=${workdir%/}
  [[ -f "$workdir/done" ]] || continue
  checkpoints=("")  # the latest
  if [[ -n $every ]]; then  # WORKDIR/checkpoints/ckpt-N.index, by N
    mapfile -t checkpoints < <(ls "$workdir/checkpoints" | sed -n 's/^\(ckpt-[0-9]*\)\.index$/\1/p' |
                               sort -t- -k2,2n | sed "s|^|$workdir/checkpoints/|")
  fi
  for checkpoint in "${checkpoints[@]}"; do
    nice -n "${NICE:-0}" "$py" -m sagan_tf.cli.evaluate --workdir="$workdir" --once \
        ${checkpoint:+--checkpoint="$checkpoint"} --classifier_path="$main" \
        ${class:+--class_classifier_path="$class"} --num_samples="$n" \
        --config.eval_stats_dir="$real_stats" "$@" >> "$workdir.score.log" 2>&1
  done
done
