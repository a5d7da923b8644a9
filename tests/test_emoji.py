"""The emoji dataset tool (sagan_tf/data/emoji.py, sagan-prepare-emoji) on tiny fake npm
packages built here: the 9 category folders (Component left out), RGBA composited onto white
against a float reference, counts, skin-tone variations, undecodable and missing images
skipped and counted, atomic output, one-line errors; the folder dataset reads the result."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
from PIL import Image
import pytest

from sagan_tf.data import emoji
from sagan_tf.data import folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 4
HALF = (0, 100, 200, 128)  # the half-transparent pixel at [0, 0] of every image
# On white: c * 128 / 255 + 255 * 127 / 255 = 127 + c * 0.502 -> 127, 177.2, 227.4.
HALF_ON_WHITE = (127, 177, 227)
# Two entries in Smileys & Emotion, one in each other category, a Component entry, one entry
# with two skin-tone variations, an entry without an image in the set.
CATEGORY_OF = dict(zip(emoji.FOLDERS, sorted(emoji.CATEGORIES)))
EXPECTED = {folder_: 1 for folder_ in emoji.FOLDERS}
EXPECTED["smileys_and_emotion"] = 2


def _rgba(seed):
  rng = np.random.default_rng(seed)
  image = rng.integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)
  image[0, 0] = HALF
  image[0, 1, 3] = 0      # fully transparent: white
  image[0, 2, 3] = 255    # opaque: unchanged
  return image


def _png(array, mode="RGBA"):
  buffer = io.BytesIO()
  Image.fromarray(array, mode).save(buffer, format="PNG")
  return buffer.getvalue()


def _entries(image_set):
  entries, images = [], {}
  for i, folder_ in enumerate(emoji.FOLDERS):
    entries.append({"short_name": folder_, "image": f"{0x1f300 + i:x}.png",
                    "category": CATEGORY_OF[folder_], f"has_img_{image_set}": True})
  entries.append({"short_name": "grin", "image": "1f601.png", "category": "Smileys & Emotion",
                  f"has_img_{image_set}": True})
  entries.append({"short_name": "skin-tone-2", "image": "1f3fb.png", "category": "Component",
                  f"has_img_{image_set}": True})
  entries.append({"short_name": "no_image_here", "image": "1f602.png",
                  "category": "Smileys & Emotion", f"has_img_{image_set}": False})
  # Its base image is the People & Body entry's; two skin-tone variations.
  people = next(e for e in entries if e["category"] == "People & Body")
  people["skin_variations"] = {
      tone: {"image": f"{people['image'][:-4]}-{tone.lower()}.png", f"has_img_{image_set}": True}
      for tone in ("1F3FB", "1F3FC")}
  for seed, entry in enumerate(entries):
    names = [entry["image"]] + [v["image"] for v in entry.get("skin_variations", {}).values()]
    for j, name in enumerate(names):
      images[name] = _rgba(100 * seed + j)
  del images["1f602.png"]
  return entries, images


def make_package(path, image_set="google", version=emoji.VERSION, name=None, corrupt=(),
                 drop=(), directory=False):
  """Writes a fake emoji-datasource package (.tgz, or an unpacked directory); returns
  {image name: RGBA array} of the PNGs it holds (corrupt ones excluded)."""
  entries, images = _entries(image_set)
  files = {"package.json": json.dumps({"name": name or f"emoji-datasource-{image_set}",
                                       "version": version}).encode(),
           "emoji.json": json.dumps(entries).encode(),
           "LICENSE": b"The MIT License (MIT)\n\nCopyright (c) 2013 Cal Henderson\n"}
  for image_name, array in images.items():
    if image_name in drop:
      continue
    data = b"\x89PNG\r\n\x1a\n garbage" if image_name in corrupt else _png(array)
    files[f"img/{image_set}/64/{image_name}"] = data
  if directory:
    for relative, data in files.items():
      target = os.path.join(path, "package", relative)
      os.makedirs(os.path.dirname(target), exist_ok=True)
      with open(target, "wb") as f:
        f.write(data)
  else:
    with tarfile.open(path, "w:gz") as tar:
      for relative, data in files.items():
        info = tarfile.TarInfo(f"package/{relative}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
  return {k: v for k, v in images.items() if k not in corrupt and k not in drop}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
  root = tmp_path_factory.mktemp("npm")
  paths, images = [], {}
  for image_set in emoji.SETS:
    path = str(root / f"emoji-datasource-{image_set}-{emoji.VERSION}.tgz")
    images[image_set] = make_package(path, image_set)
    paths.append(path)
  return paths, images


@pytest.fixture(scope="module")
def prepared(packages, tmp_path_factory):
  out = str(tmp_path_factory.mktemp("emoji") / "dataset")
  return out, emoji.prepare(packages[0], out)


def _on_white_reference(rgba):
  """Float reference: c * a + 255 * (1 - a), a = alpha / 255, rounded to the nearest level."""
  a = rgba[..., 3:].astype(np.float64) / 255.0
  return np.rint(rgba[..., :3] * a + 255.0 * (1.0 - a)).astype(np.uint8)


def test_categories_counts_and_component_left_out(prepared):
  out, summary = prepared
  folders = sorted(e.name for e in os.scandir(out) if e.is_dir())
  assert folders == list(emoji.FOLDERS) and len(folders) == 9
  assert "component" not in folders
  for folder_, count in EXPECTED.items():
    names = sorted(os.listdir(os.path.join(out, folder_)))
    assert len(names) == 2 * count, (folder_, names)  # both sets
    assert {n.split("_", 1)[0] for n in names} == set(emoji.SETS)
  assert summary["images"] == 2 * sum(EXPECTED.values()) == 20
  assert summary["per_set"] == {"google": 10, "twitter": 10}
  assert summary["left_out"] == dict(component=2, skin_tone_variations=4, missing=0,
                                     undecodable=0)
  assert [c[:3] for c in summary["classes"]] == [
      [i, f, CATEGORY_OF[f]] for i, f in enumerate(emoji.FOLDERS)]
  with open(os.path.join(out, emoji.SUMMARY_FILE)) as f:
    assert json.load(f)["images"] == 20
  # The folder dataset reads it with 9 classes, ids in the same order.
  paths, labels, classes = folder.list_images(out, 9)
  assert classes == list(emoji.FOLDERS) and len(paths) == 20
  assert labels.count(emoji.FOLDERS.index("smileys_and_emotion")) == 4
  assert not [e for e in os.listdir(os.path.dirname(out)) if e.startswith(".")]  # no tmp left


def test_composited_onto_white_numerically(packages, prepared):
  out, _ = prepared
  _, images = packages
  for image_set in emoji.SETS:
    for name, rgba in images[image_set].items():
      if name in ("1f3fb.png",) or "-" in name:  # Component, skin tones: not written
        continue
      category = next(f for f in emoji.FOLDERS
                      if os.path.exists(os.path.join(out, f, f"{image_set}_{name}")))
      got = np.asarray(Image.open(os.path.join(out, category, f"{image_set}_{name}")))
      assert got.shape == (SIZE, SIZE, 3) and got.dtype == np.uint8
      np.testing.assert_array_equal(got, _on_white_reference(rgba), err_msg=name)
      assert tuple(got[0, 0]) == HALF_ON_WHITE
      assert tuple(got[0, 1]) == (255, 255, 255)
      assert tuple(got[0, 2]) == tuple(rgba[0, 2, :3])


def test_composite_on_white_extremes():
  rgba = np.array([[[10, 20, 30, 0], [10, 20, 30, 255], [0, 0, 0, 1], [255, 255, 255, 254]]],
                  np.uint8)
  np.testing.assert_array_equal(emoji.composite_on_white(rgba), [[
      [255, 255, 255], [10, 20, 30], [254, 254, 254], [255, 255, 255]]])
  np.testing.assert_array_equal(emoji.composite_on_white(rgba), _on_white_reference(rgba))


def test_skin_tones_on_request_and_unpacked_directories(tmp_path):
  make_package(str(tmp_path / "pkg"), "twitter", directory=True)
  summary = emoji.prepare([str(tmp_path / "pkg")], str(tmp_path / "out"), skin_tones=True)
  assert summary["images"] == 12 and summary["left_out"]["skin_tone_variations"] == 0
  people = sorted(os.listdir(tmp_path / "out" / "people_and_body"))
  assert people == ["twitter_1f305-1f3fb.png", "twitter_1f305-1f3fc.png", "twitter_1f305.png"]


def test_undecodable_and_missing_pngs_are_skipped_and_counted(tmp_path):
  path = str(tmp_path / "g.tgz")
  make_package(path, corrupt=("1f601.png",), drop=("1f305-1f3fb.png",))
  summary = emoji.prepare([path], str(tmp_path / "out"), skin_tones=True)
  assert summary["left_out"]["undecodable"] == 1 and summary["left_out"]["missing"] == 1
  assert summary["undecodable_examples"] == ["google/1f601.png"]
  assert summary["missing_examples"] == ["google/1f305-1f3fb.png"]
  assert summary["images"] == 10  # 9 base images (of 10) and 1 skin tone (of 2)
  assert sorted(os.listdir(tmp_path / "out" / "smileys_and_emotion")) == ["google_1f306.png"]


def test_failure_leaves_no_output(tmp_path):
  path = str(tmp_path / "g.tgz")
  make_package(path, corrupt=("1f601.png",), drop=("1f300.png",))
  with pytest.raises(ValueError, match=r"categories \['activities'\].*1 undecodable, 1 missing"):
    emoji.prepare([path], str(tmp_path / "out"))  # activities left without images
  assert os.listdir(tmp_path) == ["g.tgz"]  # atomic: neither the output nor its tmp dir


def _one_line(excinfo):
  message = str(excinfo.value)
  assert "\n" not in message
  return message


def test_errors_are_one_line(tmp_path, packages):
  good = packages[0][0]
  with pytest.raises(FileNotFoundError) as e:
    emoji.prepare([str(tmp_path / "nope.tgz")], str(tmp_path / "out"))
  assert "npm pack emoji-datasource-" in _one_line(e)
  make_package(str(tmp_path / "old.tgz"), version="15.1.2")
  with pytest.raises(ValueError) as e:
    emoji.prepare([str(tmp_path / "old.tgz")], str(tmp_path / "out"))
  assert "version '15.1.2'" in _one_line(e) and "16.0.0" in _one_line(e)
  make_package(str(tmp_path / "apple.tgz"), name="emoji-datasource-apple")
  with pytest.raises(ValueError) as e:
    emoji.prepare([str(tmp_path / "apple.tgz")], str(tmp_path / "out"))
  assert "'emoji-datasource-apple'" in _one_line(e)
  with open(good, "rb") as f:
    data = f.read()
  (tmp_path / "cut.tgz").write_bytes(data[:len(data) // 2])
  with pytest.raises(ValueError) as e:
    emoji.prepare([str(tmp_path / "cut.tgz")], str(tmp_path / "out"))
  assert "not a readable .tgz" in _one_line(e)
  with pytest.raises(ValueError) as e:
    emoji.prepare([good, good], str(tmp_path / "out"))
  assert "same image set" in _one_line(e)
  (tmp_path / "taken").mkdir()
  with pytest.raises(FileExistsError) as e:
    emoji.prepare([good], str(tmp_path / "taken"))
  assert "never overwrites" in _one_line(e)
  assert sorted(os.listdir(tmp_path)) == ["apple.tgz", "cut.tgz", "old.tgz", "taken"]


def test_tgz_checksum_is_of_the_whole_file(packages, prepared):
  _, summary = prepared
  for source, path in zip(summary["sources"], packages[0]):
    with open(path, "rb") as f:
      assert source["sha256"] == hashlib.sha256(f.read()).hexdigest()


def test_binary_exits_1_with_one_line(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "sagan_tf.cli.prepare_emoji", f"--packages={tmp_path}/x.tgz",
       f"--output={tmp_path}/out"], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith(f"prepare_emoji: {tmp_path}/x.tgz does not exist"), result.stderr[-500:]
