"""One interface to a trained generator, from a training workdir or from an export.

`load_sampler(...)` returns a Sampler with
  z_dim, num_classes, resolution, attention_layers (G's attention layer names), source,
  bn_stats (the BNStats the images are drawn with), max_batch,
  class_names (class id -> name as the run recorded them: WORKDIR/config.json, or the export's
    sagan_export.json; None when it recorded none, e.g. an older run),
  class_ids(values)                  -> int32 ids of class names or ids (e.g. --classes;
                                        the module function class_ids: name:X, id:N)
  noise(seed, n, truncation)         -> float32 [n, z_dim] (sagan_tf.sampling.noise.seeded_noise)
  generate(z, labels)                -> float32 [B, R, R, 3] in [-1, 1]
  generate_with_attention(z, labels) -> (images, {layer name: float32 [B, N, N/4]})
and, from a workdir only (an export holds neither D nor the CBN tables as such):
  discriminator_attention(images, labels) -> {layer name: [B, N, N/4]}
  class_blend(z, class_a, class_b, alphas) -> images [len(z), len(alphas), R, R, 3]

A workdir's generator (EMA or raw) is sampled with the BN statistics of its BNStats
(sagan_tf.sampling.bn_stats: standing by default); an export is sampled with the statistics
baked into it (recorded in its metadata). Spectral-norm u is never updated. A workdir and its
export (made with the same settings) give the same images for the same inputs. Requests of more
than max_batch images fail with ValueError before any noise is drawn; a request is generated in
calls of at most call_rows rows (CALL_ROWS, and at most the max_batch an export was made with:
its sagan_export.json). The tools
(sagan-sample, sagan-interpolate, sagan-visualize-attention) take their source through
sagan_tf.cli.flags.
"""

import os

import numpy as np
import tensorflow as tf

from sagan_tf import models
from sagan_tf.choices import DEFAULT_MAX_BATCH
from sagan_tf.layers import ConditionalBatchNorm
from sagan_tf.sampling import bn_stats as bn_stats_lib
from sagan_tf.sampling import noise
from sagan_tf.store import checkpoints
from sagan_tf.store import exports
from sagan_tf.store import record

CALL_ROWS = 64  # rows per generator call (bounds memory); an export's max_batch lowers it


def _chunks(n, size):
  for start in range(0, n, size):
    yield slice(start, min(n, start + size))


def check_max_batch(max_batch):
  """Returns max_batch as an int; ValueError unless it is >= 1 (--max_batch)."""
  if int(max_batch) < 1:
    raise ValueError(f"--max_batch must be >= 1, got {max_batch}.")
  return int(max_batch)


def attention_layer_names(generator):
  """Names of G's attention layers in network order (e.g. ['attention16'])."""
  return [generator.attention[i].name for i in sorted(generator.attention)]


def _as_int(text):
  try:
    return int(text)
  except ValueError:
    return None


def class_ids(values, names, num_classes):
  """Class ids of `values` (e.g. --classes), by the recorded class names `names` (or None):
  'id:N' is id N, 'name:X' the class named X, and a bare value the class it names, else the
  id it is. A bare value that is both a valid id and the name of another class (folders `1`,
  `2`, `10`: '1' is id 1 and the name of id 0) is refused, naming both readings. Returns a list
  of ints (not range-checked: Sampler.check_labels); ValueError in one line otherwise."""
  names = [str(n) for n in names or []]
  listed = f"{', '.join(names[:12])}{', ...' if len(names) > 12 else ''}"
  ids = []
  for value in values:
    text = str(value).strip()
    kind, _, rest = text.partition(":")
    if kind in ("id", "name") and rest:
      if kind == "id" and _as_int(rest) is None:
        raise ValueError(f"Class {text!r}: after 'id:' give an integer class id.")
      if kind == "name" and rest not in names:
        raise ValueError(f"Class {text!r}: no class is named {rest!r} (the names: "
                         f"{listed or 'none recorded'}).")
      ids.append(_as_int(rest) if kind == "id" else names.index(rest))
      continue
    as_id = _as_int(text)
    if text in names:
      if as_id is not None and 0 <= as_id < len(names) and names.index(text) != as_id:
        raise ValueError(
            f"Class {text!r} is ambiguous: it is the name of class {names.index(text)} and the "
            f"id of class {as_id} (named {names[as_id]!r}); write name:{text} or id:{as_id}.")
      ids.append(names.index(text))
    elif as_id is not None:
      ids.append(as_id)
    else:
      known = (f"a class name ({listed}) or an id in [0, {num_classes})" if names else
               f"a class id in [0, {num_classes}) (the run recorded no class names)")
      comma = (" (a name with a comma: quote it, --classes='\"a, b\",c', or give its id)"
               if any("," in n for n in names) else "")
      raise ValueError(f"Unknown class {text!r}: give {known}{comma}.")
  return ids


class Sampler:
  """Common logic; subclasses implement _generate(z, labels, return_attention)."""

  z_dim = num_classes = resolution = None
  attention_layers = ()
  discriminator_attention_layers = ()
  source = ""
  has_discriminator = False
  bn_stats = None
  max_batch = DEFAULT_MAX_BATCH
  call_rows = CALL_ROWS  # rows per call of _generate
  config = None  # a workdir's config (e.g. for its dataset); None for an export
  class_names = None  # class id -> name, when the run recorded them

  def check_count(self, n):
    """Raises ValueError if a request of n images exceeds max_batch."""
    if int(n) > self.max_batch:
      raise ValueError(f"This request needs {int(n)} images; the limit is "
                       f"--max_batch={self.max_batch}. Ask for fewer, or raise --max_batch.")

  def noise(self, seed, n, truncation=0.0):
    self.check_count(n)
    if truncation < 0:
      raise ValueError(f"truncation must be >= 0 (0 = no truncation), got {truncation}.")
    return noise.seeded_noise(int(seed), int(n), self.z_dim, float(truncation)).numpy()

  def check_labels(self, labels):
    labels = np.asarray(labels, np.int64).reshape([-1])
    if self.num_classes:
      bad = labels[(labels < 0) | (labels >= self.num_classes)]
      if bad.size:
        raise ValueError(f"classes must be in [0, {self.num_classes}) for this model "
                         f"(num_classes = {self.num_classes}); got {sorted(set(bad.tolist()))}.")
    return labels.astype(np.int32)

  def class_ids(self, values):
    """Class ids of `values` (strings or ints; module function class_ids). Returns int32 ids;
    ValueError naming a value that is neither a name nor an id of this model, or both."""
    return self.check_labels(class_ids(values, self.class_names, self.num_classes))

  def _inputs(self, z, labels):
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != self.z_dim:
      raise ValueError(f"z must have shape [batch, {self.z_dim}], got {list(z.shape)}.")
    self.check_count(len(z))
    labels = self.check_labels(labels)
    if labels.shape[0] != z.shape[0]:
      raise ValueError(f"z and labels batch sizes differ: {z.shape[0]} vs {labels.shape[0]}.")
    return z, labels

  def generate(self, z, labels):
    z, labels = self._inputs(z, labels)
    if not len(z):
      return np.zeros([0, self.resolution, self.resolution, 3], np.float32)
    return np.concatenate([self._generate(z[s], labels[s], False)[0]
                           for s in _chunks(len(z), self.call_rows)])

  def generate_with_attention(self, z, labels):
    z, labels = self._inputs(z, labels)
    parts = [self._generate(z[s], labels[s], True) for s in _chunks(len(z), self.call_rows)]
    images = np.concatenate([p[0] for p in parts])
    maps = {k: np.concatenate([p[1][k] for p in parts]) for k in self.attention_layers}
    return images, maps

  def discriminator_attention(self, images, labels):
    raise NotImplementedError(
        f"{self.source} has no discriminator: D's attention needs --workdir.")

  def class_blend(self, z, class_a, class_b, alphas):
    raise NotImplementedError(
        f"Class interpolation blends G's per-class batch-norm tables, which needs the Keras "
        f"model: pass --workdir instead of an export ({self.source}).")


class KerasSampler(Sampler):
  """A sampler over Keras models: a generator sampled with BN settings, optional D."""

  def __init__(self, generator, discriminator=None, source="keras model", bn_stats=None,
               max_batch=DEFAULT_MAX_BATCH):
    """generator: a Generator (never modified); bn_stats: BNStats (default: standing, K 20,
    B 64, truncation 0)."""
    self.bn_stats = bn_stats or bn_stats_lib.BNStats()
    self.sampling = bn_stats_lib.prepare(generator, self.bn_stats)
    self.generator, self.discriminator = self.sampling.model, discriminator
    self.max_batch = check_max_batch(max_batch)
    self.z_dim = int(generator.z_dim)
    self.num_classes = int(generator.num_classes)
    self.resolution = int(generator.resolution)
    self.attention_layers = tuple(attention_layer_names(generator))
    self.discriminator_attention_layers = (
        tuple(discriminator.attention[i].name for i in sorted(discriminator.attention))
        if discriminator is not None else ())
    self.has_discriminator = discriminator is not None
    self.source = f"{source}, {self.bn_stats.describe()}"

  @classmethod
  def from_workdir(cls, config, workdir, checkpoint=None, use_ema=True, bn_stats=None,
                   max_batch=DEFAULT_MAX_BATCH):
    restored = checkpoints.restore_models(config, workdir, checkpoint)
    g = restored["ema_generator" if use_ema else "generator"]
    which = "EMA generator" if use_ema else "generator"
    sampler = cls(g, restored["discriminator"], bn_stats=bn_stats, max_batch=max_batch,
                  source=f"{which} of {restored['path']} (step {restored['step']})")
    sampler.config = config
    sampler.class_names = record.class_names(workdir)
    return sampler

  def _generate(self, z, labels, return_attention, generator=None):
    g = generator or self.generator
    out = g(tf.constant(z), tf.constant(labels) if g.num_classes else None,
            training=self.sampling.training, update_u=False, return_attention=return_attention)
    if return_attention:
      return out[0].numpy(), {k: v.numpy() for k, v in out[1].items()}
    return out.numpy(), {}

  def discriminator_attention(self, images, labels):
    if self.discriminator is None:
      return super().discriminator_attention(images, labels)
    images = np.asarray(images, np.float32)
    labels = self.check_labels(labels)
    d = self.discriminator
    _, maps = d(tf.constant(images), tf.constant(labels) if d.num_classes else None,
                training=False, update_u=False, return_attention=True)
    return {k: v.numpy() for k, v in maps.items()}

  def class_blend(self, z, class_a, class_b, alphas):
    """Renders each z with G's conditional-BN gamma/beta blended between two classes.

    Labels enter G only by looking up per-class gamma and beta in each conditional batch norm,
    so "class a of the way from A to B" is defined here as G with every CBN table row replaced
    by (1 - a) * table[A] + a * table[B] (everything else unchanged). a = 0 and a = 1 give
    exactly G's images for class A and class B.

    Implementation: a copy of the sampled G (with its BN statistics: see bn_stats) with
    num_classes = len(alphas), whose class k holds the blend at alphas[k]; every other weight
    (including BN statistics and spectral-norm u) is copied unchanged.

    Returns float32 [len(z), len(alphas), R, R, 3].
    """
    if not self.num_classes:
      raise ValueError("Class interpolation needs a class-conditional model (num_classes > 0).")
    self.check_labels([class_a, class_b])
    alphas = np.asarray(alphas, np.float32).reshape([-1])
    g = self.generator
    self.check_count(len(z) * len(alphas))
    clone = models.clone(g, num_classes=len(alphas))
    tables = {w.path for layer in g._flatten_layers()
              if isinstance(layer, ConditionalBatchNorm) and layer.num_classes
              for w in (layer.gamma, layer.beta)}
    for src, dst in zip(g.weights, clone.weights):
      if src.path != dst.path:
        raise RuntimeError(f"Generator copy differs from the original: {src.path} vs {dst.path}")
      value = src.numpy()
      if src.path in tables:
        a = alphas[:, None]
        value = (1 - a) * value[class_a] + a * value[class_b]
      dst.assign(value)
    z = np.asarray(z, np.float32)
    zz = np.repeat(z, len(alphas), axis=0)
    labels = np.tile(np.arange(len(alphas), dtype=np.int32), len(z))
    images = np.concatenate([self._generate(zz[s], labels[s], False, clone)[0]
                             for s in _chunks(len(zz), self.call_rows)])
    return images.reshape([len(z), len(alphas)] + list(images.shape[1:]))


class ExportSampler(Sampler):
  """A sampler over an exported SavedModel (no project code needed to load it)."""

  def __init__(self, path, model=None, bn_stats=None, max_batch=DEFAULT_MAX_BATCH):
    """path: BASE (latest version) or BASE/<version>; model: that SavedModel if loaded.

    bn_stats: None (use what the export baked) or the BNStats the caller asks for: a request
    that differs from the baked statistics is refused (an export cannot re-estimate them).
    """
    self.path = exports.resolve_version_dir(path)
    self.metadata = exports.read_metadata(self.path)
    baked = self.metadata.get("bn_stats")
    if bn_stats is not None and baked is not None and bn_stats.identity() != baked:
      raise ValueError(
          f"The export {self.path} was made with BN statistics {baked}; the flags ask for "
          f"{bn_stats.identity()}. Drop the --bn_stats* flags to use the export's, or export "
          f"again with the settings you want (sagan-export --bn_stats=...).")
    self.bn_stats = bn_stats_lib.BNStats(**{k: v for k, v in baked.items() if k != "seed" and
                                            v is not None}) if baked else None
    self.max_batch = check_max_batch(max_batch)
    # The export's signatures refuse requests of more rows than the max_batch it was made with.
    self.call_rows = min(CALL_ROWS, int(self.metadata.get("max_batch", CALL_ROWS)))
    self.model = model if model is not None else tf.saved_model.load(self.path)
    self.signatures = self.model.signatures
    default = self.signatures["serving_default"]
    self.z_dim = int(default.structured_input_signature[1]["z"].shape[-1])
    self.resolution = int(default.structured_outputs["images"].shape[1])
    self.num_classes = int(self.metadata.get("num_classes", 0))
    self.class_names = self.metadata.get("class_names") or None
    if "generate_with_attention" in self.signatures:
      outputs = self.signatures["generate_with_attention"].structured_outputs
      self.attention_layers = tuple(sorted(k for k in outputs if k.startswith("attention")))
    self.source = f"export {self.path}" + (
        f", {self.bn_stats.describe()}" if self.bn_stats else "")

  def _generate(self, z, labels, return_attention):
    name = "generate_with_attention" if return_attention else "serving_default"
    out = self.signatures[name](z=tf.constant(z), labels=tf.constant(labels))
    maps = {k: out[k].numpy() for k in self.attention_layers} if return_attention else {}
    return out["images"].numpy(), maps


def load_sampler(config=None, workdir=None, export_dir=None, checkpoint=None, use_ema=True,
                 bn_stats=None, max_batch=DEFAULT_MAX_BATCH):
  """Returns a KerasSampler (workdir + its config) or an ExportSampler (export_dir).

  bn_stats: BNStats; for a workdir None means standing with the defaults, for an export None
  means the statistics the export baked (ExportSampler).
  """
  if bool(workdir) == bool(export_dir):
    raise ValueError("Pass exactly one of --workdir or --export_dir.")
  max_batch = check_max_batch(max_batch)
  if export_dir:
    return ExportSampler(export_dir, bn_stats=bn_stats, max_batch=max_batch)
  if not os.path.isdir(workdir):
    raise FileNotFoundError(f"--workdir={workdir} does not exist.")
  if config is None:
    raise ValueError(f"--workdir={workdir} needs the config it was trained with.")
  return KerasSampler.from_workdir(config, workdir, checkpoint or None, use_ema,
                                   bn_stats=bn_stats, max_batch=max_batch)
