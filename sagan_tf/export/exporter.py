"""Exports a generator as a TF Serving SavedModel (BASE/<version>/), written atomically.

Signatures (all in inference mode: the BN statistics held by the exported generator, which the
CLI makes a sampling copy with standing statistics by default (sagan_tf.sampling.bn_stats);
spectral-norm u never updated; at most max_batch rows per request):

  serving_default
    inputs   z       float32 [batch, z_dim]
             labels  int32   [batch]      in [0, num_classes); ignored when num_classes = 0
    outputs  images        float32 [batch, R, R, 3] in [-1, 1]
             images_uint8  uint8   [batch, R, R, 3] = round((images + 1) * 127.5)

  generate_from_seed
    inputs   seed        int64   []        one integer per request
             labels      int32   [batch]   the batch size is len(labels)
             truncation  float32 []        0 = N(0, 1); t > 0 = N(0, 1) truncated to (-t, t)
    outputs  images, images_uint8 as above, and z float32 [batch, z_dim] (the noise used).
    Row i's z depends only on (seed, i, truncation) (sagan_tf.sampling.noise.seeded_noise), so
    the output is deterministic across calls and processes, and image i does not depend on
    the other rows of the request.

  generate_with_attention
    inputs   z, labels as serving_default
    outputs  images, images_uint8, and one output per attention layer of G, named like
             attention16: float32 [batch, H*W, H*W/4] (row = query at the layer's HxW
             resolution in row-major order, column = key on the 2x2 max-pooled grid).

Bad inputs fail with InvalidArgumentError naming the problem: labels outside
[0, num_classes), z whose width is not z_dim, z and labels of different batch sizes, an empty
batch, a batch larger than max_batch (checked before the noise or any activation is
allocated), negative or non-finite truncation.

BASE/<version>/assets.extra/ holds sagan_export.json (sagan_tf.store.exports: model facts the
tools read) and, with warm-up, tf_serving_warmup_requests.
"""

import errno
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from sagan_tf.choices import DEFAULT_MAX_BATCH
from sagan_tf.export import warmup as warmup_lib
from sagan_tf.sampling import noise
from sagan_tf.sampling.sampler import attention_layer_names, check_max_batch
from sagan_tf.store import exports
from sagan_tf.store.images import to_uint8

SIGNATURES = ("serving_default", "generate_from_seed", "generate_with_attention")


class DiskFullError(OSError):
  """Writing an export ran out of disk space (its partial version was removed)."""


def _disk_full(error):
  """True for the errors of a full disk (or quota): TensorFlow's and Python's file writes."""
  return (isinstance(error, tf.errors.ResourceExhaustedError)
          or getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT))


def _limit(max_batch):
  return (f"a request may have at most max_batch = {max_batch} rows (set when exporting: "
          f"--max_batch); got:")


def _checked_batch(labels, max_batch):
  """len(labels) as an int32 scalar that exists only after the batch limit is checked (the
  noise is built from it, so nothing request-sized is allocated before the check)."""
  n = tf.shape(labels)[0]
  check = tf.debugging.Assert(n <= max_batch, [_limit(max_batch), n])
  with tf.control_dependencies([check]):
    return tf.identity(n)


def _checked_inputs(z, labels, z_dim, num_classes, max_batch):
  """Adds runtime checks (InvalidArgumentError with a clear message); returns (z, labels)."""
  z_shape, labels_shape = tf.shape(z), tf.shape(labels)
  checks = [
      tf.debugging.Assert(z_shape[0] <= max_batch, [_limit(max_batch), z_shape[0]]),
      tf.debugging.Assert(
          tf.logical_and(tf.equal(tf.size(z_shape), 2), tf.equal(z_shape[-1], z_dim)),
          [f"z must have shape [batch, {z_dim}] (z_dim = {z_dim}); got shape:", z_shape]),
      tf.debugging.Assert(
          tf.equal(z_shape[0], labels_shape[0]),
          ["z and labels must have the same batch size; got z batch, labels batch:",
           z_shape[0], labels_shape[0]]),
      tf.debugging.Assert(labels_shape[0] > 0, ["the batch must not be empty (batch >= 1)."]),
  ]
  if num_classes:
    checks.append(tf.debugging.Assert(
        tf.reduce_all((labels >= 0) & (labels < num_classes)),
        [f"labels must be in [0, {num_classes}) (num_classes = {num_classes}); got:", labels],
        summarize=32))
  with tf.control_dependencies(checks):
    return tf.identity(z), tf.identity(labels)


def _check_truncation(truncation):
  check = tf.debugging.Assert(
      tf.math.is_finite(truncation) & (truncation >= 0.0),
      ["truncation must be a finite number >= 0 (0 = no truncation); got:", truncation])
  with tf.control_dependencies([check]):
    return tf.identity(truncation)


def build_archive(generator, signatures=SIGNATURES, max_batch=DEFAULT_MAX_BATCH):
  """Returns a keras.export.ExportArchive with the three signatures of this module.

  generator: the Generator to serve, called in inference mode (with its own BN statistics: pass
  a sampling copy, sagan_tf.sampling.bn_stats.prepare(...).model, for standing statistics).
  max_batch: the largest request (rows) the signatures accept.

  archive.sagan_endpoints maps each signature name to its tf.function (callable with keyword
  inputs, exactly what the SavedModel serves). `signatures` selects a subset (it must include
  serving_default).

  The generator is not `track()`ed: the archive saves the variables its endpoints use, and
  tracking a Keras model whose call takes (z, labels) makes Keras trace a one-input default
  signature that fails.
  """
  z_dim, num_classes = int(generator.z_dim), int(generator.num_classes)
  max_batch = check_max_batch(max_batch)

  def run(z, labels, return_attention=False):
    z, labels = _checked_inputs(z, labels, z_dim, num_classes, max_batch)
    out = generator(z, labels if num_classes else None, training=False, update_u=False,
                    return_attention=return_attention)
    images, maps = out if return_attention else (out, {})
    result = {"images": images, "images_uint8": to_uint8(images)}
    result.update(maps)
    return result

  def serving_default(z, labels):
    return run(z, labels)

  def generate_from_seed(seed, labels, truncation):
    truncation = _check_truncation(truncation)
    z = noise.seeded_noise(seed, _checked_batch(labels, max_batch), z_dim, truncation)
    result = run(z, labels)
    result["z"] = z
    return result

  def generate_with_attention(z, labels):
    return run(z, labels, return_attention=True)

  z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
  labels_spec = tf.TensorSpec([None], tf.int32, name="labels")
  specs = {
      "serving_default": (serving_default, [z_spec, labels_spec]),
      "generate_from_seed": (generate_from_seed, [
          tf.TensorSpec([], tf.int64, name="seed"), labels_spec,
          tf.TensorSpec([], tf.float32, name="truncation")]),
      "generate_with_attention": (generate_with_attention, [z_spec, labels_spec]),
  }
  unknown = set(signatures) - set(specs)
  if unknown or "serving_default" not in signatures:
    raise ValueError(f"signatures must include serving_default and be among {SIGNATURES}, "
                     f"got {tuple(signatures)}.")
  archive = keras.export.ExportArchive()
  archive.sagan_endpoints = {  # the traced functions, callable before writing
      name: archive.add_endpoint(name, *specs[name]) for name in signatures}
  return archive


def generator_metadata(generator, max_batch=DEFAULT_MAX_BATCH):
  """Facts about the exported model that clients and the tools need."""
  return {
      "max_batch": int(max_batch),
      "format": "sagan_tf generator export",
      "z_dim": int(generator.z_dim),
      "num_classes": int(generator.num_classes),
      "resolution": int(generator.resolution),
      # {layer name: [H, W] of its query grid} (layers are named attention<resolution>)
      "attention_layers": {name: [int(name[len("attention"):])] * 2
                           if name[len("attention"):].isdigit() else None
                           for name in attention_layer_names(generator)},
      "signatures": list(SIGNATURES),
      "generator_config": {k: (list(v) if isinstance(v, tuple) else v)
                           for k, v in generator.get_config().items()},
  }


def export_generator(generator, export_base, version=None, metadata=None, warmup=False,
                     model_name="sagan", max_batch=DEFAULT_MAX_BATCH):
  """Writes the SavedModel of `generator` to export_base/<version> atomically.

  The model is built in a hidden temporary directory inside export_base (same filesystem; TF
  Serving ignores non-numeric names), then renamed to export_base/<version>, so a server
  polling export_base never sees a half-written version.

  Args:
    generator: a built sagan_tf Generator, served with its own BN statistics (the CLI passes
      a sampling copy with standing statistics; sagan_tf.sampling.bn_stats).
    export_base: the model base path TF Serving watches.
    version: integer >= 1; default 1 + the largest existing numeric version (or 1).
    metadata: extra JSON-serializable facts merged into assets.extra/sagan_export.json.
    warmup: also write assets.extra/tf_serving_warmup_requests.
    model_name: the model name used in the warm-up requests.
    max_batch: the largest request (rows) the signatures accept; recorded in the metadata.

  Returns:
    The path of the new version directory.

  Raises:
    FileExistsError if export_base/<version> exists; NotADirectoryError if export_base is a
    file; DiskFullError (one line; the partial version removed) if the disk is full.
  """
  export_base = os.path.abspath(export_base)
  version = exports.next_version(export_base) if version is None else int(version)
  final = exports.version_dir(export_base, version)
  os.makedirs(export_base, exist_ok=True)
  info = generator_metadata(generator, max_batch)
  info.update(metadata or {})
  info["version"] = version
  tmp = tempfile.mkdtemp(prefix=f".tmp-export-{version}-", dir=export_base)
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; servers may run as another user
    build_archive(generator, max_batch=max_batch).write_out(tmp, verbose=False)
    exports.write_metadata(tmp, info)
    if warmup:
      warmup_lib.write_warmup_requests(
          os.path.join(tmp, exports.ASSETS_EXTRA, warmup_lib.WARMUP_FILE),
          model_name=model_name, z_dim=info["z_dim"], num_classes=info["num_classes"])
    exports.version_dir(export_base, version)  # re-check just before the rename
    os.rename(tmp, final)
  except BaseException as e:
    shutil.rmtree(tmp, ignore_errors=True)
    if _disk_full(e):
      raise DiskFullError(
          f"No space left in {export_base} while writing export version {version}: the partial "
          f"export was removed and nothing else changed. Free space there (or pass another "
          f"--export_dir) and run the same command.") from e
    raise
  return final
