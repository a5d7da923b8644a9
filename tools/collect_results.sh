#!/usr/bin/env bash
# Copies what docs/results.md publishes of each scored run of tools/run_results.sh into OUT_DIR
# (a folder of the repository, docs/results/<suite>/, so the numbers outlive the machine):
# RUNS_DIR/<setting>_s<seed>/eval/results.jsonl, the run's EMA sample sheets of the last step
# and of every scored step (samples/step_<N>_ema.png: the long runs' curve, a sheet a point) and
# its config.json (the config and the machines it trained on: a seed's run differs between
# CPUs), at the same relative paths, so tools/summarize_runs.py reads OUT_DIR as it reads
# RUNS_DIR. A run without results.jsonl is left out; a copy already in OUT_DIR is replaced
# (results.jsonl only grows).
# Usage: bash tools/collect_results.sh RUNS_DIR OUT_DIR
set -euo pipefail
usage="usage: collect_results.sh RUNS_DIR OUT_DIR"
runs=${1:?$usage}
out=${2:?$usage}
if (($# != 2)); then echo "$usage" >&2; exit 2; fi
if [[ ! -d $runs ]]; then
  echo "$runs is not a directory: give the RUNS_DIR of tools/run_results.sh" >&2
  exit 2
fi
shopt -s nullglob
copied=0
for workdir in "$runs"/*_s*/; do
  workdir=${workdir%/}
  name=${workdir##*/}
  [[ $name =~ _s[0-9]+$ && -f $workdir/eval/results.jsonl ]] || continue
  mkdir -p "$out/$name/eval" "$out/$name/samples"
  cp "$workdir/eval/results.jsonl" "$out/$name/eval/results.jsonl"
  if [[ -f $workdir/config.json ]]; then cp "$workdir/config.json" "$out/$name/config.json"; fi
  sheets=("$workdir"/samples/step_*_ema.png)
  if ((${#sheets[@]})); then
    # "<step> <path>" lines, the step as a number (the trainer pads it to 6 digits)
    numbered=$(printf '%s\n' "${sheets[@]}" | sed -E 's/.*step_0*([0-9]+)_ema\.png$/\1 &/' \
               | sort -n)
    wanted=$(grep -oE '"step": *[0-9]+' "$workdir/eval/results.jsonl" | grep -oE '[0-9]+$' || true)
    wanted+=$'\n'$(tail -1 <<< "$numbered" | cut -d' ' -f1)
    rm -f "$out/$name"/samples/step_*_ema.png
    while read -r step path; do
      if grep -qx "$step" <<< "$wanted"; then cp "$path" "$out/$name/samples/"; fi
    done <<< "$numbered"
  fi
  copied=$((copied + 1))
done
echo "Copied $copied scored run(s) from $runs to $out."
