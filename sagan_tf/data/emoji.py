"""The emoji dataset: the 64 px PNGs of the npm packages emoji-datasource-google@16.0.0 and
emoji-datasource-twitter@16.0.0 (github.com/iamcal/emoji-data) as a class-folder dataset (the
layout sagan_tf/data/folder.py reads), one class per emoji category. Plain Python: Pillow and
numpy, no TensorFlow; reads the packages' .tgz files directly (tarfile) or unpacked directories.

  OUT/<category folder>/<set>_<image>.png  RGB 64x64 PNG: the RGBA image composited onto white
                                           (e.g. smileys_and_emotion/google_1f600.png)
  OUT/NOTICE                               the images' licences, as the packages state them
  OUT/emoji_dataset.json                   sources (package, version, sha256), classes, counts

Classes: the 9 categories of emoji.json other than "Component" (skin-tone swatches and hair
parts, not emoji of their own), numbered in sorted folder order (CATEGORIES). Both sets go in,
so each category holds every emoji twice, drawn by two artists.

Skin-tone variations (an entry's "skin_variations": 1,875 of the 3,786 images of each set,
all in "People & Body") are left out by default (skin_tones=False): they are the same drawings
recoloured, and with them "People & Body" would hold 60% of the data (2,261 of 3,781 images
per set) instead of 20% (386 of 1,906), so the classes stay balanced and the images distinct.

Output is atomic: everything is written to a temporary sibling directory that is renamed to
OUT at the end; OUT must not exist. A PNG that fails to decode (or an image emoji.json names
that the package lacks) is skipped and counted in the summary, never fatal.
"""

import dataclasses
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib

import numpy as np
from PIL import Image

VERSION = "16.0.0"  # the emoji-data release whose format and licences this module knows
SETS = ("google", "twitter")
LEFT_OUT = "Component"
# Category of emoji.json -> class folder; class ids follow the sorted folder names.
CATEGORIES = {
    "Activities": "activities",
    "Animals & Nature": "animals_and_nature",
    "Flags": "flags",
    "Food & Drink": "food_and_drink",
    "Objects": "objects",
    "People & Body": "people_and_body",
    "Smileys & Emotion": "smileys_and_emotion",
    "Symbols": "symbols",
    "Travel & Places": "travel_and_places",
}
FOLDERS = tuple(sorted(CATEGORIES.values()))  # class id -> folder
NOTICE_FILE = "NOTICE"
SUMMARY_FILE = "emoji_dataset.json"

# The packages' README.md (16.0.0), section "Image Sources", quoted.
_README_LICENCES = {
    "google": "* Android/Google/Noto images, are available under the [Apache License 2.0]"
              "(https://github.com/googlei18n/noto-emoji/blob/master/LICENSE).",
    "twitter": "* Twitter images are available under the [Creative Commons Attribution 4.0 "
               "license](https://github.com/jdecked/twemoji/blob/v15.0.2/LICENSE-GRAPHICS).",
}
_SOURCES = {  # the README's table of image sources (16.0.0)
    "google": "Noto Emoji v2.048 (https://github.com/googlefonts/noto-emoji): Apache License "
              "2.0 (https://www.apache.org/licenses/LICENSE-2.0). Noto Emoji's repository "
              "states that its flag images (third_party/region-flags) are in the public domain "
              "or otherwise exempt from copyright.",
    "twitter": "Twemoji v16.0.1 (https://github.com/jdecked/twemoji, the maintained fork of "
               "Twitter's Twemoji; Twitter, Inc and other contributors): Creative Commons "
               "Attribution 4.0 International (CC BY 4.0, "
               "https://creativecommons.org/licenses/by/4.0/).",
}


def _fetch_hint(image_set):
  return f"get it with `npm pack emoji-datasource-{image_set}@{VERSION}`"


@dataclasses.dataclass
class Package:
  """One emoji-datasource-<set> package, read into memory (its 64 px PNGs are ~20 MB)."""
  path: str
  image_set: str        # "google" or "twitter"
  sha256: str           # of the .tgz ('' for an unpacked directory)
  entries: list         # emoji.json
  license_text: str     # the package's LICENSE (MIT: the data and the packaging)
  images: dict          # image file name (emoji.json "image") -> PNG bytes


def _image_name(relative):
  """'img/google/64/1f600.png' -> ('google', '1f600.png'); None for any other file."""
  parts = relative.split("/")
  if len(parts) == 4 and parts[0] == "img" and parts[2] == "64" and parts[3].endswith(".png"):
    return parts[1], parts[3]
  return None


_WANTED = ("package.json", "emoji.json", "LICENSE")


def _read_tgz(path):
  """({relative path: bytes} of the wanted members, sha256 of the file). The gzip stream is
  checked to its end-of-stream marker (tarfile alone stops quietly at a truncation)."""
  digest, inflate, tar_bytes = hashlib.sha256(), zlib.decompressobj(wbits=31), io.BytesIO()
  try:
    with open(path, "rb") as f:
      for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
        tar_bytes.write(inflate.decompress(chunk))
    if not inflate.eof:
      raise EOFError("the gzip stream ends early")
    files = {}
    tar_bytes.seek(0)
    with tarfile.open(fileobj=tar_bytes, mode="r:") as tar:
      for member in tar:
        relative = member.name.split("/", 1)[-1]  # npm packs everything under package/
        if member.isfile() and (relative in _WANTED or _image_name(relative)):
          files[relative] = tar.extractfile(member).read()
  except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
    raise ValueError(f"{path} is not a readable .tgz ({type(e).__name__}: {e}); a truncated "
                     f"download? Get it again with `npm pack emoji-datasource-<set>@{VERSION}`."
                     ) from None
  return files, digest.hexdigest()


def _read_directory(path):
  root = os.path.join(path, "package")
  root = root if os.path.isfile(os.path.join(root, "package.json")) else path
  files = {}
  for name in _WANTED:
    if os.path.isfile(os.path.join(root, name)):
      with open(os.path.join(root, name), "rb") as f:
        files[name] = f.read()
  img = os.path.join(root, "img")
  for image_set in sorted(os.listdir(img)) if os.path.isdir(img) else []:
    folder = os.path.join(img, image_set, "64")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
      if name.endswith(".png"):
        with open(os.path.join(folder, name), "rb") as f:
          files[f"img/{image_set}/64/{name}"] = f.read()
  return files


def _json(files, name, path):
  if name not in files:
    raise ValueError(f"{path} has no {name}: not an emoji-datasource package; "
                     f"{_fetch_hint('<google|twitter>')}.")
  try:
    return json.loads(files[name])
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f"{path}: its {name} is not valid JSON ({e}).") from None


def read_package(path):
  """Reads an emoji-datasource-<google|twitter>@16.0.0 .tgz (npm pack) or unpacked directory.

  Raises FileNotFoundError (missing path) or ValueError (unreadable archive, another package or
  version, no emoji.json), each one line naming the file and the fix.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} does not exist; {_fetch_hint('<google|twitter>')} "
                            "(a .tgz) or pass an unpacked package directory.")
  if os.path.isdir(path):
    files, sha256 = _read_directory(path), ""
  else:
    files, sha256 = _read_tgz(path)
  meta = _json(files, "package.json", path)
  name, version = meta.get("name", ""), meta.get("version", "")
  image_set = name[len("emoji-datasource-"):] if name.startswith("emoji-datasource-") else ""
  if image_set not in SETS:
    raise ValueError(f"{path} is the package {name!r}, not one of "
                     f"{[f'emoji-datasource-{s}' for s in SETS]}; {_fetch_hint('<google|twitter>')}.")
  if version != VERSION:
    raise ValueError(f"{path} is {name} version {version!r}; this tool reads version {VERSION} "
                     f"(its categories and licences): {_fetch_hint(image_set)}.")
  entries = _json(files, "emoji.json", path)
  if not isinstance(entries, list):
    raise ValueError(f"{path}: its emoji.json is not a list of emoji entries.")
  images = {}
  for relative, data in files.items():
    found = _image_name(relative)
    if found and found[0] == image_set:
      images[found[1]] = data
  return Package(path=path, image_set=image_set, sha256=sha256, entries=entries,
                 license_text=files.get("LICENSE", b"").decode("utf-8", "replace"),
                 images=images)


def composite_on_white(rgba):
  """uint8 [H, W, 4] -> uint8 [H, W, 3]: c * a + 255 * (1 - a), a = alpha / 255, rounded to
  the nearest level (exact integer arithmetic: no ties, 255 is odd)."""
  rgba = rgba.astype(np.int32)
  alpha = rgba[..., 3:]
  return ((rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _decode(data):
  """PNG bytes -> uint8 RGB [H, W, 3] on white, or None when Pillow cannot decode it."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      rgba = np.asarray(image.convert("RGBA"))
  except (OSError, SyntaxError, ValueError, EOFError, zlib.error,
          Image.DecompressionBombError):
    return None
  return composite_on_white(rgba)


def _images_of(package, skin_tones):
  """[(category, image name)] the package's emoji.json lists for its set; (Component count,
  skin-tone variations left out)."""
  flag = f"has_img_{package.image_set}"
  found, component, skins = [], 0, 0
  for entry in package.entries:
    category = entry.get("category")
    variations = [v for v in (entry.get("skin_variations") or {}).values() if v.get(flag)]
    if category == LEFT_OUT:
      component += int(bool(entry.get(flag))) + len(variations)
      continue
    if category not in CATEGORIES:
      raise ValueError(f"{package.path}: emoji.json entry {entry.get('short_name')!r} has the "
                       f"category {category!r}, not one of {sorted(CATEGORIES)} or {LEFT_OUT!r} "
                       f"(emoji-data {VERSION}).")
    if entry.get(flag):
      found.append((category, entry.get("image", "")))
    if skin_tones:
      found.extend((category, v["image"]) for v in variations)
    else:
      skins += len(variations)
  return found, component, skins


def _notice(packages):
  lines = [
      f"Emoji images of the npm packages {', '.join(_spec(p) for p in packages)}",
      "(https://github.com/iamcal/emoji-data), written by sagan-prepare-emoji (sagan_tf).",
      "Changes made: each 64x64 RGBA PNG composited onto a white background and stored as an",
      "RGB PNG, in one folder per emoji category; file names <set>_<image of emoji.json>.",
      "",
      "Licences of the images, as the packages' README.md states them (\"Image Sources\"):",
  ]
  lines += [f"  {_README_LICENCES[p.image_set]}" for p in packages]
  lines.append("")
  for p in packages:
    lines.append(f"{p.image_set}_*.png: {_SOURCES[p.image_set]}")
  lines += ["", "emoji.json (the categories) and the packaging, the packages' LICENSE:", ""]
  lines.append(packages[0].license_text.strip() or "(no LICENSE file in the package)")
  return "\n".join(lines) + "\n"


def _spec(package):
  return f"emoji-datasource-{package.image_set}@{VERSION}"


def prepare(paths, output, skin_tones=False, log=None):
  """Writes the class-folder dataset of the given packages to `output` (see module docstring).

  Args:
    paths: .tgz files or unpacked directories, one per image set (google, twitter).
    output: the dataset directory to create; it must not exist.
    skin_tones: also write the skin-tone variations (default: left out).
    log: optional callable(str) for progress lines.

  Returns a summary dict (also written to output/emoji_dataset.json): classes [[id, folder,
  category, images]], images, per_set {set: images}, left_out {component, skin_tone_variations,
  missing, undecodable} and the first undecodable / missing image names.
  Raises FileNotFoundError / ValueError / FileExistsError with one line naming the problem.
  """
  log = log or (lambda _: None)
  if not paths:
    raise ValueError(f"no packages given: pass the .tgz files of "
                     f"{', '.join(f'emoji-datasource-{s}@{VERSION}' for s in SETS)}.")
  output = os.path.abspath(output)
  if os.path.lexists(output):
    raise FileExistsError(f"{output} exists: remove it or choose another output directory "
                          "(this tool never overwrites).")
  packages = []
  for path in paths:
    packages.append(read_package(path))
    log(f"read {path}: {_spec(packages[-1])}, {len(packages[-1].images):,} PNGs at 64 px")
  sets = [p.image_set for p in packages]
  if len(set(sets)) != len(sets):
    raise ValueError(f"two packages of the same image set {sets}: pass one per set.")
  parent = os.path.dirname(output)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.tmp-", dir=parent)
  try:
    summary = _write(packages, tmp, skin_tones, log)
    os.rename(tmp, output)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return summary


def _write(packages, root, skin_tones, log):
  for folder in FOLDERS:
    os.makedirs(os.path.join(root, folder))
  counts = {folder: 0 for folder in FOLDERS}
  per_set = {}
  left_out = dict(component=0, skin_tone_variations=0, missing=0, undecodable=0)
  missing, undecodable = [], []
  for package in packages:
    found, component, skins = _images_of(package, skin_tones)
    left_out["component"] += component
    left_out["skin_tone_variations"] += skins
    written = 0
    for category, name in found:
      label = f"{package.image_set}/{name}"
      data = package.images.get(name)
      rgb = None if data is None else _decode(data)
      if rgb is None:
        (missing if data is None else undecodable).append(label)
        continue
      folder = CATEGORIES[category]
      Image.fromarray(rgb).save(os.path.join(root, folder, f"{package.image_set}_{name}"))
      counts[folder] += 1
      written += 1
    per_set[package.image_set] = written
    log(f"{package.image_set}: wrote {written:,} images")
  left_out.update(missing=len(missing), undecodable=len(undecodable))
  empty = [folder for folder in FOLDERS if not counts[folder]]
  if empty:
    raise ValueError(f"no image of the categories {empty} could be written ({len(undecodable)} "
                     f"undecodable, {len(missing)} missing from the packages): every one of the "
                     f"{len(FOLDERS)} classes needs images; are the packages damaged?")
  names = {folder: category for category, folder in CATEGORIES.items()}
  summary = dict(
      sources=[dict(package=f"emoji-datasource-{p.image_set}", version=VERSION,
                    path=os.path.abspath(p.path), sha256=p.sha256) for p in packages],
      classes=[[i, folder, names[folder], counts[folder]] for i, folder in enumerate(FOLDERS)],
      images=sum(counts.values()), per_set=per_set, skin_tones=bool(skin_tones),
      left_out=left_out, missing_examples=missing[:10], undecodable_examples=undecodable[:10])
  with open(os.path.join(root, SUMMARY_FILE), "w") as f:
    json.dump(summary, f, indent=1)
  with open(os.path.join(root, NOTICE_FILE), "w") as f:
    f.write(_notice(packages))
  return summary
