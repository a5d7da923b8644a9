#!/usr/bin/env bash
# Trains the seeded runs behind docs/results.md, one after another (one CPU-heavy job at a time),
# seed by seed (every setting of seed 0, then of seed 1, ...: partial results are paired), into
# RUNS_DIR/<setting>_s<seed>. A finished run is skipped; an interrupted one resumes from its
# last checkpoint (the config's checkpoint_every_steps) when the script runs again.
#   demo   experiments/cpu_demo.py, the built-in data: attn16 (the config: attention on the
#          16x16 maps of G and D) and noattn (none)
#   emoji  experiments/emoji32.py on $EMOJI_DIR (the --output of sagan-prepare-emoji): attn16,
#          noattn, and attn16_da (attn16 with DiffAugment colour, translation, cutout)
#   demo_long, emoji_long  attn16 of demo or emoji trained 6x longer (15,000 iterations), a
#          checkpoint every 2,500 kept (for tools/score_results.sh --every_checkpoint): what the
#          model reaches with more time
# Each run: --config.seed=SEED --config.data_seed=SEED, then the FLAGs after `--` (e.g. sizes).
# --settings=a,b runs only those of the suite's settings (in the suite's order; default all).
# Usage: bash tools/run_results.sh RUNS_DIR SUITE [--seeds=0,1,2,3,4] [--settings=...]
#        [-- FLAG ...]
# Run from a checkout: `python -m sagan_tf.cli.train` imports the package of the current directory.
set -euo pipefail
usage="usage: run_results.sh RUNS_DIR demo|emoji|demo_long|emoji_long [--seeds=0,1,...] [--settings=a,b] [-- FLAG ...]"
runs=${1:?$usage}
suite=${2:?$usage}
shift 2
seed_list=0,1,2,3,4
setting_list=
while (($#)) && [[ $1 != -- ]]; do
  case $1 in
    --seeds=?*) seed_list=${1#--seeds=} ;;  # the last one counts
    --settings=?*) setting_list=${1#--settings=} ;;  # the last one counts
    *) echo "$usage (got '$1')" >&2; exit 2 ;;
  esac
  shift
done
if (($#)); then shift; fi
extra=("$@")
IFS=, read -r -a seeds <<< "$seed_list"
for seed in "${seeds[@]}"; do
  if [[ ! $seed =~ ^[0-9]+$ ]]; then
    echo "--seeds=$seed_list: seeds are integers >= 0, e.g. --seeds=0,1,2" >&2
    exit 2
  fi
done
py=${PYTHON:-.venv/bin/python}
no_attention=(--config.g_attention='()' --config.d_attention='()')
long=(--config.num_train_steps=15000 --config.checkpoint_every_steps=2500
      --config.keep_checkpoints=6)
case $suite in
  demo|demo_long)
    config=(--config=experiments/cpu_demo.py)
    settings=(attn16 noattn) ;;
  emoji|emoji_long)
    config=(--config=experiments/emoji32.py
            --config.data_dir="${EMOJI_DIR:?set EMOJI_DIR to the --output of sagan-prepare-emoji}")
    settings=(attn16 noattn attn16_da) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
if [[ $suite == *_long ]]; then
  config+=("${long[@]}")
  settings=(attn16)
fi
if [[ -n $setting_list ]]; then
  IFS=, read -r -a chosen <<< "$setting_list"
  for name in "${chosen[@]}"; do
    if [[ " ${settings[*]} " != *" $name "* ]]; then
      echo "--settings=$setting_list: $name is not a setting of $suite; choose of" \
           "$(IFS=,; echo "${settings[*]}")" >&2
      exit 2
    fi
  done
  kept=()
  for name in "${settings[@]}"; do
    if [[ ",$setting_list," == *",$name,"* ]]; then kept+=("$name"); fi
  done
  settings=("${kept[@]}")
fi
flags_of() {  # the setting's own flags
  case $1 in
    attn16) ;;
    noattn) printf '%s\n' "${no_attention[@]}" ;;
    attn16_da) echo --config.diffaugment=color,translation,cutout ;;
  esac
}
mkdir -p "$runs"
for seed in "${seeds[@]}"; do
  for name in "${settings[@]}"; do
    workdir="$runs/${name}_s$seed"
    if [[ -f "$workdir/done" ]]; then continue; fi
    mapfile -t own < <(flags_of "$name")
    nice -n "${NICE:-0}" "$py" -m sagan_tf.cli.train "${config[@]}" --workdir="$workdir" \
        --config.seed="$seed" --config.data_seed="$seed" "${own[@]}" "${extra[@]}" \
        >> "$runs/${name}_s$seed.log" 2>&1
    touch "$workdir/done"
  done
done
