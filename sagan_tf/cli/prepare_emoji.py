"""Writes the emoji dataset: the 64 px PNGs of the npm packages emoji-datasource-google@16.0.0
and emoji-datasource-twitter@16.0.0 as a class-folder dataset, one class per emoji category
(9; "Component" left out), composited onto white (sagan_tf/data/emoji.py says what goes in).

  npm pack emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0
  sagan-prepare-emoji --packages=emoji-datasource-google-16.0.0.tgz,\
emoji-datasource-twitter-16.0.0.tgz --output=/data/emoji [--skin_tones]

Reads the .tgz files directly (no npm needed here) or unpacked package directories. Writes
OUTPUT/<category>/<set>_<code points>.png, OUTPUT/NOTICE (the licences: Google's images Apache
2.0, Twitter's CC BY 4.0) and OUTPUT/emoji_dataset.json (counts), atomically: OUTPUT must not
exist. Train with --config=experiments/emoji32.py --config.data_dir=OUTPUT.
Exit code 0, or 1 with one line on stderr (a missing or damaged package, another package or
version, OUTPUT exists).
"""

import time

from absl import app
from absl import flags

from sagan_tf.cli import flags as cli_flags

_PACKAGES = flags.DEFINE_list(
    "packages", None, "The .tgz files (npm pack) or unpacked directories of "
    "emoji-datasource-google@16.0.0 and emoji-datasource-twitter@16.0.0, comma-separated.")
_OUTPUT = flags.DEFINE_string("output", None, "The dataset directory to create (must not exist).")
_SKIN_TONES = flags.DEFINE_bool(
    "skin_tones", False, "Also write the skin-tone variations (5 recolourings of most People & "
    "Body emoji; default: left out, so the classes stay balanced).")
flags.mark_flags_as_required(["packages", "output"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  start = time.perf_counter()
  # deferred: sagan_tf.data loads TensorFlow (its package __init__), after the flags are parsed.
  from sagan_tf.data import emoji  # deferred: keeps --help free of TensorFlow
  try:
    summary = emoji.prepare(_PACKAGES.value, _OUTPUT.value, skin_tones=_SKIN_TONES.value,
                            log=print)
  except (ValueError, FileNotFoundError, FileExistsError) as e:
    raise SystemExit(f"prepare_emoji: {e}") from None
  left = summary["left_out"]
  for class_id, folder, category, count in summary["classes"]:
    print(f"  class {class_id}: {folder:<20} {count:>5,}  ({category})")
  per_set = ", ".join(f"{s} {n:,}" for s, n in summary["per_set"].items())
  print(f"Wrote {summary['images']:,} images ({per_set}) in {len(summary['classes'])} classes to "
        f"{_OUTPUT.value} in {time.perf_counter() - start:.1f} s. Left out: {left['component']} "
        f"Component, {left['skin_tone_variations']:,} skin-tone variations"
        f"{'' if _SKIN_TONES.value else ' (--skin_tones adds them)'}.")
  for kind in ("undecodable", "missing"):
    if left[kind]:
      print(f"Skipped {left[kind]} {kind} PNG(s), e.g. "
            f"{', '.join(summary[kind + '_examples'][:3])}.")
  print(f"Train with: --config=experiments/emoji32.py --config.data_dir={_OUTPUT.value}")


def run(argv=None):
  cli_flags.run(main, argv)


if __name__ == "__main__":
  run()
