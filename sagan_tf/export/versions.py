"""Version directories of a TF Serving model base path (pure Python: no TensorFlow import, so
the CLI can refuse a bad --version before loading anything)."""

import os


def next_version(export_base):
  """1 + the largest numeric subdirectory of export_base (1 if none or no base)."""
  if not os.path.isdir(export_base):
    return 1
  versions = [int(n) for n in os.listdir(export_base)
              if n.isdigit() and os.path.isdir(os.path.join(export_base, n))]
  return max(versions, default=0) + 1


def version_dir(export_base, version):
  """Returns export_base/<version>; raises FileExistsError if it exists, ValueError if bad."""
  if int(version) < 1:
    raise ValueError(f"version must be an integer >= 1, got {version}.")
  path = os.path.join(export_base, str(int(version)))
  if os.path.exists(path):
    raise FileExistsError(
        f"Export version {path} already exists; refusing to overwrite it (TF Serving may be "
        f"serving it). Pass another --version (next free: {next_version(export_base)}) or "
        f"remove that directory.")
  return path
