"""The export layout: version directories of a TF Serving model base path and the metadata
file beside each SavedModel. Plain Python (no TensorFlow): the export binary refuses a bad
--version before anything loads.

  BASE/<version>/saved_model.pb, variables/    the SavedModel (sagan_tf.export.exporter)
  BASE/<version>/assets.extra/sagan_export.json  facts the tools read (z_dim, num_classes,
                                                 resolution, attention layers, max_batch, and
                                                 from the CLI: checkpoint, config, bn_stats,
                                                 class_names)
TF Serving ignores other files in assets.extra.
"""

import json
import os

METADATA_FILE = "sagan_export.json"
ASSETS_EXTRA = "assets.extra"


def next_version(export_base):
  """1 + the largest numeric subdirectory of export_base (1 if none or no base)."""
  if not os.path.isdir(export_base):
    return 1
  versions = [int(n) for n in os.listdir(export_base)
              if n.isdigit() and os.path.isdir(os.path.join(export_base, n))]
  return max(versions, default=0) + 1


def _check_base(export_base):
  """Raises NotADirectoryError if export_base, or the nearest ancestor that exists, is a file."""
  path = os.path.abspath(export_base)
  while not os.path.lexists(path):
    path = os.path.dirname(path)
  if not os.path.isdir(path):
    where = "is" if path == os.path.abspath(export_base) else f"is inside {path}, which is"
    raise NotADirectoryError(f"--export_dir={export_base} {where} a file, not a directory: "
                             f"pass a directory (the export base; it is created if missing).")


def version_dir(export_base, version):
  """Returns export_base/<version>; raises FileExistsError if it exists, ValueError if bad,
  NotADirectoryError if export_base is (or is inside) a file."""
  if int(version) < 1:
    raise ValueError(f"version must be an integer >= 1, got {version}.")
  _check_base(export_base)
  path = os.path.join(export_base, str(int(version)))
  if os.path.exists(path):
    raise FileExistsError(
        f"Export version {path} already exists; refusing to overwrite it (TF Serving may be "
        f"serving it). Pass another --version (next free: {next_version(export_base)}) or "
        f"remove that directory.")
  return path


def resolve_version_dir(path):
  """Returns the SavedModel directory for `path`: path itself if it holds saved_model.pb,
  else its largest numeric version subdirectory that does. Raises FileNotFoundError."""
  if os.path.isfile(os.path.join(path, "saved_model.pb")):
    return path
  versions = []
  if os.path.isdir(path):
    versions = sorted((int(n) for n in os.listdir(path) if n.isdigit() and os.path.isfile(
        os.path.join(path, n, "saved_model.pb"))), reverse=True)
  if not versions:
    raise FileNotFoundError(
        f"No SavedModel in {path!r}: pass an export version directory (BASE/<version>) or a "
        f"base directory holding numeric versions (sagan-export ...).")
  return os.path.join(path, str(versions[0]))


def metadata_path(version_path):
  """BASE/<version>/assets.extra/sagan_export.json."""
  return os.path.join(version_path, ASSETS_EXTRA, METADATA_FILE)


def read_metadata(version_path):
  """Returns the dict in assets.extra/sagan_export.json ({} if absent)."""
  path = metadata_path(version_path)
  if not os.path.isfile(path):
    return {}
  with open(path) as f:
    return json.load(f)


def write_metadata(version_path, info):
  """Writes `info` (JSON-able; other values as str) as the version's sagan_export.json."""
  path = metadata_path(version_path)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    json.dump(info, f, indent=2, sort_keys=True, default=str)
