"""Real-data classifier outputs, computed once per network and cached on disk.

Each network (the main one, the optional class network) has its own cache file: an .npz in
config.eval_stats_dir (default WORKDIR/eval/real_stats) named
real_<dataset>_<split>_<R>px_n<N>_<hash>.npz, where <hash> is a SHA-1 of the cache key:
  dataset identity (dataset, split, resolution, num_classes, and tfds_name / data_dir for
  external data; the synthetic data's held-out stream is the same for every data_seed), N
  requested, and the classifier identity
  (path or handle, number of logits, feature dimension, and for a local SavedModel the
  saved_model.pb mtime and size, so a retrained stand-in invalidates the cache).
The key is stored in the file too and checked on load. It holds the outputs the network has,
pool_3 [N, D] and / or logits [N, K], as float32 (50,000 x 2,048 Inception features take about
400 MB), labels and, for the synthetic data, the per-image symmetry error. The networks whose
file is missing are computed together, in one pass over the real data. Files are written to a
temporary name and renamed, so an interrupted run never leaves a truncated cache.
"""

import dataclasses
import hashlib
import json
import os

from absl import logging
import numpy as np

from sagan_tf import data
from sagan_tf.evaluation import features
from sagan_tf.evaluation.classifier import LOGITS, POOL

CACHE_VERSION = 2  # 2: the synthetic real set no longer depends on data_seed


@dataclasses.dataclass
class RealStats:
  outputs: dict  # 'pool_3' [N, D] and / or 'logits' [N, K], float32
  labels: np.ndarray
  symmetry: object  # np.ndarray or None
  key: dict
  path: str
  loaded_from_cache: bool

  @property
  def num_examples(self):
    return int(self.labels.shape[0])

  @property
  def pool_3(self):
    return self.outputs.get(POOL)

  @property
  def logits(self):
    return self.outputs.get(LOGITS)

  def as_dict(self):
    return dict(self.outputs, labels=self.labels, symmetry=self.symmetry)


def cache_key(config, num_examples, classifier):
  """The dict that identifies a cache file (see the module docstring)."""
  data_id = dict(dataset=config.dataset, split=config.eval_split,
                 resolution=int(config.resolution), num_classes=int(config.num_classes))
  if config.dataset != "synthetic":
    data_id["data_dir"] = config.data_dir
    if config.dataset == "tfds":
      data_id["tfds_name"] = config.tfds_name
  return dict(version=CACHE_VERSION, data=data_id, num_examples=int(num_examples),
              classifier=classifier.cache_identity())


def cache_path(stats_dir, key):
  digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
  d = key["data"]
  name = f"real_{d['dataset']}_{d['split']}_{d['resolution']}px_n{key['num_examples']}_{digest}"
  return os.path.join(stats_dir, name.replace("/", "_") + ".npz")


def _load(path, key):
  with np.load(path, allow_pickle=False) as f:
    stored = json.loads(str(f["key"]))
    if stored != json.loads(json.dumps(key)):
      raise ValueError(f"cache key mismatch: {stored} != {key}")
    outputs = {k: f[k] for k in (POOL, LOGITS) if k in f.files}
    sym = f["symmetry"] if "symmetry" in f.files else None
    return outputs, f["labels"], sym


def _save(path, key, outputs):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = f"{path}.tmp-{os.getpid()}.npz"
  arrays = {k: outputs[k] for k in (POOL, LOGITS) if k in outputs}
  arrays.update(labels=outputs["labels"], key=np.array(json.dumps(key, sort_keys=True)))
  if outputs["symmetry"] is not None:
    arrays["symmetry"] = outputs["symmetry"]
  try:
    with open(tmp, "wb") as f:
      np.savez(f, **arrays)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def load_or_compute(config, classifiers, num_examples, stats_dir, batch_size):
  """Returns {name: RealStats} for N real examples (config.eval_split) through each network
  of `classifiers` ({name: Classifier}), each from its cache if present; the others are
  computed in one pass over the data and cached.

  The classifiers must have been probed (classifier.probe) so their output sizes are known.
  """
  stats, missing = {}, {}
  for name, classifier in classifiers.items():
    key = cache_key(config, num_examples, classifier)
    path = cache_path(stats_dir, key)
    if os.path.exists(path):
      try:
        outputs, labels, sym = _load(path, key)
        logging.info("Loaded cached real-data statistics (%d examples) from %s", len(labels),
                     path)
        stats[name] = RealStats(outputs, labels, sym, key, path, loaded_from_cache=True)
        continue
      except Exception as e:  # pylint: disable=broad-except
        logging.warning("Ignoring unreadable real-statistics cache %s (%s); recomputing.",
                        path, e)
    missing[name] = (key, path)
  if missing:
    source = data.eval_data_name(config)
    size = data.eval_data_size(config)
    expected = min(num_examples, size) if size else num_examples
    logging.info("Computing real-data statistics: %d examples of %s -> %s", expected, source,
                 ", ".join(path for _, path in missing.values()))
    ds = data.build_eval_dataset(config, batch_size, num_examples, split=config.eval_split)
    computed = features.collect_outputs(
        ((images.numpy(), labels.numpy()) for images, labels in ds),
        {name: classifiers[name] for name in missing}, expected, "real images",
        with_symmetry=config.dataset == "synthetic")
    n = len(next(iter(computed.values()))["labels"])
    if n < num_examples:
      logging.warning("%s has only %d examples (%d requested): the real statistics use all "
                      "%d.", source[0].upper() + source[1:], n, num_examples, n)
    for name, (key, path) in missing.items():
      out = computed[name]
      _save(path, key, out)
      stats[name] = RealStats({k: out[k] for k in (POOL, LOGITS) if k in out}, out["labels"],
                              out["symmetry"], key, path, loaded_from_cache=False)
  return {name: stats[name] for name in classifiers}
