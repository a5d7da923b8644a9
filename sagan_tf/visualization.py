"""Sample sheets, interpolations and attention-map figures (numpy + Pillow) from a Sampler, for
the tools and the training summaries. Cells are laid out by sagan_tf.store.images.make_grid.

Layout conventions (so callers and tests can predict pixel sizes):
  sample sheet (draw_sheet; sagan-sample and the training image steps): one row per class, its
    label (class_label: the id, then the name when the run recorded one and label_font can
    draw it) drawn with label_font in a column of SheetLayout.label_width pixels at the left,
    then the row's samples, each upscaled without smoothing (nearest) by an integer `scale`,
    by default the smallest giving a sheet at least SHEET_MIN_WIDTH pixels wide. With
    P = R * scale: height = rows * P + (rows + 1) * pad,
    width = label_width + cols * P + (cols + 1) * pad; sample (r, k) has its top-left corner
    at SheetLayout.cell(r, k).
  attention_figure: one row per attention layer shown; a row is a title strip of TITLE_HEIGHT
    pixels above [the image with the query points marked] + [one overlay per query point], each
    panel P = R * scale pixels square:
    height = rows * (TITLE_HEIGHT + P) + (rows + 1) * pad,
    width = (1 + points) * P + (2 + points) * pad.
"""

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sagan_tf.data import build_dataset
from sagan_tf.sampling import noise
from sagan_tf.store.images import grid_size, make_grid, to_uint8, upscale

TITLE_HEIGHT = 14
SHEET_MAX_ROWS = 16  # classes (rows) a sample sheet shows by default: 0 .. SHEET_MAX_ROWS - 1
SHEET_MIN_WIDTH = 512  # pixels: the default upscaling makes a sheet at least this wide
LABEL_MARGIN = 4  # pixels left and right of a sheet's row labels
# The row labels' font: DejaVu Sans (Debian's fonts-dejavu-core; Pillow finds it in the system's
# font directories) has Latin, Greek, Cyrillic and many symbols; without it, Pillow's default
# font (ASCII). LABEL_FONT_SIZE is the default font's size.
LABEL_FONT, LABEL_FONT_SIZE = "DejaVuSans.ttf", 10
_NO_GLYPH = "\U0010FFFF"  # a noncharacter: no font has it, so it draws the font's missing-glyph box
POINT_COLORS = ((255, 40, 40), (40, 255, 40), (60, 160, 255), (255, 230, 0), (255, 60, 255),
                (0, 255, 255), (255, 140, 0), (255, 255, 255))


# ---------------------------------------------------------------------------------------------
# Sample sheets and interpolations.


def sheet_classes(num_classes):
  """The rows of a sample sheet by default: classes 0 .. min(num_classes, SHEET_MAX_ROWS) - 1;
  [0] for an unconditional model (num_classes = 0: one row)."""
  return list(range(min(int(num_classes), SHEET_MAX_ROWS))) or [0]


@functools.lru_cache(maxsize=None)
def label_font():
  """The font of sample sheets' row labels: LABEL_FONT if installed, else Pillow's default."""
  try:
    return ImageFont.truetype(LABEL_FONT, LABEL_FONT_SIZE)
  except OSError:
    return ImageFont.load_default()


def _glyph(font, char):
  mask = font.getmask(char)
  return mask.size, bytes(mask)


def can_draw(text, font):
  """True when `font` has a glyph for every character of `text` (Pillow draws a box, the
  font's missing glyph, for any other)."""
  missing = _glyph(font, _NO_GLYPH)
  return all(_glyph(font, char) != missing for char in set(text))


def class_label(class_id, names=None, font=None):
  """A row label: '3' or, when the run recorded class names, '3 diamond' (the name alone is
  not shown when it is the id). With `font` (the one the label is drawn with), a name with a
  character it cannot draw is left out: the id alone, not boxes."""
  name = names[class_id] if names and 0 <= class_id < len(names) else None
  if name in (None, "", str(class_id)) or (font is not None and not can_draw(name, font)):
    return str(class_id)
  return f"{class_id} {name}"


class SheetLayout:
  """Geometry of a sample sheet (module docstring): rows x cols samples of R px, one label each
  row; scale None picks the smallest integer upscaling giving >= SHEET_MIN_WIDTH px."""

  def __init__(self, rows, cols, resolution, labels, scale=None, pad=2):
    self.rows, self.cols, self.pad = int(rows), int(cols), int(pad)
    self.labels = [str(s) for s in labels]
    if len(self.labels) != self.rows:
      raise ValueError(f"A sheet of {rows} rows needs {rows} labels, got {len(self.labels)}.")
    self.font = label_font()
    widest = max(self.font.getlength(s) for s in self.labels)
    self.label_width = int(np.ceil(widest)) + 2 * LABEL_MARGIN if widest else 0
    if scale is None:
      room = SHEET_MIN_WIDTH - self.label_width - (self.cols + 1) * self.pad
      scale = max(1, -(-room // (self.cols * int(resolution))))
    self.scale = int(scale)
    self.side = int(resolution) * self.scale
    self.height, self.width = grid_size(self.rows, self.cols, self.side, self.side, self.pad)
    self.width += self.label_width

  def cell(self, row, col):
    """(y, x) of the top-left pixel of sample `col` of row `row`."""
    return (self.pad + row * (self.side + self.pad),
            self.label_width + self.pad + col * (self.side + self.pad))


def draw_sheet(cells, labels, scale=None, pad=2):
  """cells uint8 [rows, cols, R, R, 3], labels: one string per row -> (uint8 [height, width,
  3] sheet on white, its SheetLayout)."""
  cells = np.asarray(cells, np.uint8)
  layout = SheetLayout(cells.shape[0], cells.shape[1], cells.shape[2], labels, scale, pad)
  grid = make_grid(upscale(cells, layout.scale), pad=layout.pad)
  column = Image.new("RGB", (layout.label_width, layout.height), (255, 255, 255))
  draw = ImageDraw.Draw(column)
  for row, text in enumerate(layout.labels):
    if text:
      top, bottom = layout.font.getbbox(text)[1::2]
      y = layout.cell(row, 0)[0] + (layout.side - top - bottom) // 2
      draw.text((LABEL_MARGIN, y), text, fill=(0, 0, 0), font=layout.font)
  return np.concatenate([np.asarray(column), grid], axis=1), layout


def sample_grid(sampler, classes, per_class, seed=0, truncation=0.0, shared_z=False, scale=None,
                pad=2):
  """A sample sheet (draw_sheet): one row per class of `classes`, labelled with
  class_label(class, sampler.class_names), per_class samples each. Returns a uint8 image.

  Sample (r, k) uses z row r * per_class + k of seeded_noise(seed, ...), or with shared_z row k
  (the same z in every class row, to compare classes on one latent).
  """
  classes = [int(c) for c in classes]
  n = len(classes) * per_class
  z = sampler.noise(seed, per_class if shared_z else n, truncation)
  if shared_z:
    z = np.tile(z, [len(classes), 1])
  labels = np.repeat(np.asarray(classes, np.int32), per_class)
  images = to_uint8(sampler.generate(z, labels)).numpy()
  cells = images.reshape([len(classes), per_class] + list(images.shape[1:]))
  row_labels = [class_label(c, sampler.class_names, label_font()) if sampler.num_classes else ""
                for c in classes]
  return draw_sheet(cells, row_labels, scale=scale, pad=pad)[0]


def interpolation_fractions(steps):
  if steps < 2:
    raise ValueError(f"steps must be >= 2, got {steps}.")
  return np.linspace(0.0, 1.0, steps)


def latent_interpolation(sampler, labels, steps, seed=0, truncation=0.0, method="slerp",
                         scale=1, pad=2):
  """Row r: G(z, labels[r]) for z moving from z_{2r} to z_{2r+1} (seeded noise), fixed class.

  method: 'slerp' (spherical, keeps |z| typical of a Gaussian) or 'linear'.
  Returns a uint8 image of len(labels) rows x steps columns.
  """
  interp = {"slerp": noise.slerp, "linear": noise.lerp}.get(method)
  if interp is None:
    raise ValueError(f"method must be 'slerp' or 'linear', got {method!r}.")
  t = interpolation_fractions(steps)
  ends = sampler.noise(seed, 2 * len(labels), truncation)
  z = np.concatenate([interp(ends[2 * r], ends[2 * r + 1], t) for r in range(len(labels))])
  images = to_uint8(sampler.generate(z, np.repeat(np.asarray(labels, np.int32), steps))).numpy()
  cells = images.reshape([len(labels), steps] + list(images.shape[1:]))
  return make_grid(upscale(cells, scale), pad=pad)


def class_interpolation(sampler, class_a, class_b, rows, steps, seed=0, truncation=0.0,
                        scale=1, pad=2):
  """Row r: one fixed z (seeded noise row r), columns from class A to class B with G's
  conditional-BN gamma/beta blended (sampler.class_blend; needs the Keras model).

  Returns a uint8 image of rows x steps cells; the first column is exactly class A, the last
  exactly class B.
  """
  z = sampler.noise(seed, rows, truncation)
  images = to_uint8(
      sampler.class_blend(z, class_a, class_b, interpolation_fractions(steps))).numpy()
  return make_grid(upscale(images, scale), pad=pad)


# ---------------------------------------------------------------------------------------------
# Attention maps.


def query_index(y, x, resolution, height, width):
  """Row of a [H*W, H*W/4] attention map for image pixel (y, x) of an R x R image."""
  return (y * height // resolution) * width + (x * width // resolution)


def default_points(resolution, num=4):
  """`num` query points (y, x) spread over the image (fractions of the side)."""
  fractions = [(0.5, 0.5), (0.3, 0.3), (0.3, 0.7), (0.7, 0.3), (0.7, 0.7), (0.5, 0.15),
               (0.5, 0.85), (0.15, 0.5)]
  if not 1 <= num <= len(fractions):
    raise ValueError(f"num points must be in [1, {len(fractions)}], got {num}.")
  return [(int(fy * resolution), int(fx * resolution)) for fy, fx in fractions[:num]]


def parse_points(text, resolution):
  """'y,x;y,x' (image pixels) -> [(y, x)]; raises ValueError if malformed or outside."""
  points = []
  for item in filter(None, (s.strip() for s in text.split(";"))):
    try:
      y, x = (int(v) for v in item.split(","))
    except ValueError as e:
      raise ValueError(f"Bad point {item!r}: use 'y,x;y,x' in image pixels.") from e
    if not (0 <= y < resolution and 0 <= x < resolution):
      raise ValueError(f"Point {item!r} is outside the {resolution}x{resolution} image.")
    points.append((y, x))
  if not points or len(points) > len(POINT_COLORS):
    raise ValueError(f"Give 1 to {len(POINT_COLORS)} points, got {len(points)}.")
  return points


def colormap(values):
  """values in [0, 1] -> uint8 RGB with a jet-like map (blue, cyan, yellow, red)."""
  v = np.clip(np.asarray(values, np.float32), 0.0, 1.0)[..., None]
  stops = np.array([0.0, 0.35, 0.65, 1.0], np.float32)
  colors = np.array([[0, 0, 160], [0, 220, 255], [255, 230, 0], [220, 0, 0]], np.float32)
  out = np.zeros(v.shape[:-1] + (3,), np.float32)
  for ch in range(3):
    out[..., ch] = np.interp(v[..., 0], stops, colors[:, ch])
  return np.round(out).astype(np.uint8)


def attention_overlay(image, row, size, alpha=0.6):
  """Overlays one attention-map row (length H*W/4 over the pooled grid) on an image.

  image: uint8 [size, size, 3]; the map is reshaped to [H/2, W/2], scaled to its maximum,
  upsampled bilinearly to size x size, coloured and alpha-blended over the image.
  """
  side = int(round(np.sqrt(row.shape[0])))
  grid = np.asarray(row, np.float32).reshape([side, side])
  grid = grid / max(float(grid.max()), 1e-12)
  up = Image.fromarray(grid.astype(np.float32)).resize((size, size), Image.BILINEAR)
  heat = colormap(np.asarray(up))
  return np.round((1 - alpha) * image.astype(np.float32) + alpha * heat).astype(np.uint8)


def _mark(draw, y, x, color, radius):
  draw.ellipse([x - radius - 1, y - radius - 1, x + radius + 1, y + radius + 1],
               outline=(0, 0, 0), width=1)
  draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=color, width=2)
  draw.point((x, y), fill=color)


def attention_figure_size(num_rows, num_points, resolution, scale, pad=4):
  """(height, width) of attention_figure's output."""
  p = resolution * scale
  return (num_rows * (TITLE_HEIGHT + p) + (num_rows + 1) * pad,
          (1 + num_points) * p + (2 + num_points) * pad)


def attention_figure(rows, points, scale=4, pad=4):
  """Draws the paper-style figure.

  Args:
    rows: list of (title, image uint8 [R, R, 3], attention map [H*W, H*W/4]) for one image and
      one attention layer each.
    points: query points [(y, x)] in image pixels.
    scale: integer upscaling of each panel (panel side P = R * scale).
    pad: pixels between panels.

  Returns:
    uint8 [height, width, 3] (attention_figure_size): per row, the image with the points
    marked, then for each point its attention map upsampled to the image and overlaid.
  """
  if not rows:
    raise ValueError("No attention layers to draw.")
  r = rows[0][1].shape[0]
  p = r * scale
  height, width = attention_figure_size(len(rows), len(points), r, scale, pad)
  canvas = Image.new("RGB", (width, height), (255, 255, 255))
  draw = ImageDraw.Draw(canvas)
  font = ImageFont.load_default()
  radius = max(2, p // 32)
  for i, (title, image, maps) in enumerate(rows):
    top = pad + i * (TITLE_HEIGHT + p + pad)
    draw.text((pad, top), title, fill=(0, 0, 0), font=font)
    y0 = top + TITLE_HEIGHT
    big = upscale(np.asarray(image, np.uint8), scale)
    side = int(round(np.sqrt(maps.shape[0])))  # the layer's query grid is side x side
    marked = Image.fromarray(big)
    mdraw = ImageDraw.Draw(marked)
    centre = lambda v: v * scale + scale // 2
    for k, (y, x) in enumerate(points):
      _mark(mdraw, centre(y), centre(x), POINT_COLORS[k], radius)
    canvas.paste(marked, (pad, y0))
    for k, (y, x) in enumerate(points):
      overlay = Image.fromarray(attention_overlay(big, maps[query_index(y, x, r, side, side)], p))
      _mark(ImageDraw.Draw(overlay), centre(y), centre(x), POINT_COLORS[k], radius)
      canvas.paste(overlay, (pad + (k + 1) * (p + pad), y0))
  return np.asarray(canvas)


def attention_rows(sampler, label=0, seed=0, truncation=0.0, d_image="real", config=None):
  """Collects the (title, image, map) rows for attention_figure.

  G: one generated image (seeded noise row 0, class `label`) and each of G's attention layers.
  D (only when the sampler has a discriminator and d_image != 'none'): each of D's attention
  layers on a real image (d_image='real': the first example of
  sagan_tf.data.build_dataset(config, 1), falling back to the generated image, with a note in
  the title, if the dataset cannot be built) or on the generated image (d_image='generated').
  """
  if d_image not in ("real", "generated", "none"):
    raise ValueError(f"d_image must be 'real', 'generated' or 'none', got {d_image!r}.")
  label = int(sampler.check_labels([label])[0])
  z = sampler.noise(seed, 1, truncation)
  images, maps = sampler.generate_with_attention(z, [label])
  rows = []
  for name in sampler.attention_layers:
    rows.append((f"Generator {name} (generated image, class {label})",
                 to_uint8(images[0]).numpy(), maps[name][0]))
  if sampler.has_discriminator and d_image != "none":
    d_images, d_labels, what = images, np.array([label], np.int32), "generated image"
    if d_image == "real":
      try:
        real_images, real_labels = next(iter(build_dataset(config, 1)))
        d_images, d_labels, what = real_images.numpy(), real_labels.numpy(), "real image"
      except Exception as e:  # pylint: disable=broad-except
        what = f"generated image; no real data: {type(e).__name__}"
    d_maps = sampler.discriminator_attention(d_images, d_labels)
    for name in sampler.discriminator_attention_layers:
      rows.append((f"Discriminator {name} ({what}, class {int(d_labels[0])})",
                   to_uint8(d_images[0]).numpy(), d_maps[name][0]))
  return rows
