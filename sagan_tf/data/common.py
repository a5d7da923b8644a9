"""Shared pieces of the file-based pipelines: the authors' preprocessing, labels, seeds.

Preprocessing (the authors' ImageNet input pipeline): take
the largest central square of the image, resize it bilinearly (with antialiasing, which matters
when shrinking large photos) to resolution x resolution, scale to [-1, 1] float32. No flips.
"""

import hashlib

import tensorflow as tf

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def to_rgb(image):
  """uint8 [H, W, C] with a static C of 1, 2, 3 or 4 -> [H, W, 3] (alpha dropped)."""
  channels = image.shape[-1]
  if channels == 3:
    return image
  if channels in (1, 2):
    return tf.image.grayscale_to_rgb(image[..., :1])
  if channels == 4:
    return image[..., :3]
  raise ValueError(f"Images must have 1, 2, 3 or 4 channels (static shape), got {image.shape}.")


def center_crop_resize(image, resolution):
  """The largest central square of uint8 [H, W, C], resized to float32 [R, R, 3] in [-1, 1].

  When H and W differ, the crop starts at row (H - S) // 2 and column (W - S) // 2 with
  S = min(H, W). Bilinear resizing with antialiasing; an S x S image with S = R is unchanged,
  so such an image comes out exactly as image / 127.5 - 1.
  """
  image = to_rgb(image)
  shape = tf.shape(image)
  h, w = shape[0], shape[1]
  size = tf.minimum(h, w)
  top, left = (h - size) // 2, (w - size) // 2
  image = image[top:top + size, left:left + size]
  image = tf.image.resize(tf.cast(image, tf.float32), [resolution, resolution],
                          method="bilinear", antialias=True)
  image = tf.clip_by_value(image / 127.5 - 1.0, -1.0, 1.0)
  return tf.ensure_shape(image, [resolution, resolution, 3])


def decode_image(encoded):
  """Encoded JPEG / PNG / BMP / GIF bytes -> uint8 [H, W, 3] (a GIF's first frame)."""
  return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def check_labels(label, num_classes, source):
  """int32 labels: all zeros for num_classes = 0, else checked to lie in [0, num_classes)."""
  if not num_classes:
    return tf.zeros_like(label, dtype=tf.int32)
  label = tf.cast(label, tf.int32)
  ok = tf.logical_and(label >= 0, label < num_classes)
  check = tf.debugging.Assert(
      tf.reduce_all(ok),
      [f"{source}: a label lies outside [0, num_classes={num_classes}); set num_classes to "
       "the number of classes of the data (or 0 for unconditional training). Label:", label])
  with tf.control_dependencies([check]):
    return tf.identity(label)


def derive_seed(*parts):
  """A non-negative int63 seed from integers (e.g. data_seed, start_index), stable across runs."""
  digest = hashlib.sha256(":".join(str(int(p)) for p in parts).encode()).digest()
  return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def shuffle_if(ds, buffer_size, seed):
  """Shuffles with reshuffling every epoch when buffer_size > 1; unchanged otherwise."""
  if buffer_size and buffer_size > 1:
    ds = ds.shuffle(int(buffer_size), seed=seed, reshuffle_each_iteration=True)
  return ds
