"""Per-resolution architecture tables of G and D, and attention placement by resolution
(plain Python: config.validate checks a config against them before TensorFlow loads).

Channel widths are multiples of a base width `ch`. For 64, 128 and 256 the tables are the
authors' / BigGAN's ImageNet ResNets (ch = 64 in the paper). For 32 they are SNGAN's CIFAR ResNet,
where every block has `ch` channels (ch = 256 for G and 128 for D in SNGAN/SAGAN CIFAR practice).
"""

import dataclasses

# Generator: channel multiplier of the initial 4x4 map, then one multiplier per up-block; each
# up-block doubles the resolution (block i outputs 4 * 2**(i+1) pixels a side).
G_TABLES = {
    32: (1, (1, 1, 1)),
    64: (16, (16, 8, 4, 2)),
    128: (16, (16, 8, 4, 2, 1)),
    256: (16, (16, 8, 8, 4, 2, 1)),
}

# Discriminator: (channel multiplier, halves the resolution?) per block; the first block is the
# "optimized" block (no pre-activation) and always halves the resolution.
D_TABLES = {
    32: ((1, True), (1, True), (1, False), (1, False)),
    64: ((1, True), (2, True), (4, True), (8, True), (16, False)),
    128: ((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
    256: ((1, True), (2, True), (4, True), (8, True), (8, True), (16, True), (16, False)),
}

SUPPORTED_RESOLUTIONS = tuple(sorted(G_TABLES))


@dataclasses.dataclass(frozen=True)
class BlockSpec:
  """One residual block: output channels, output resolution, and attention after it."""
  out_channels: int
  resolution: int
  attention: bool
  downsample: bool = True


def _check_resolution(resolution):
  if resolution not in G_TABLES:
    raise ValueError(f"Unsupported resolution {resolution}; supported resolutions are "
                     f"{list(SUPPORTED_RESOLUTIONS)}.")


def _check_attention(which, attention_resolutions, allowed):
  bad = sorted(set(int(r) for r in attention_resolutions) - set(allowed))
  if bad:
    raise ValueError(
        f"{which} attention resolution(s) {bad} are not feature-map resolutions of this "
        f"architecture; allowed: {sorted(set(allowed))} (or none).")


def _check_attention_width(which, specs):
  for spec in specs:
    if spec.attention and spec.out_channels % 8:
      raise ValueError(
          f"{which} attention at {spec.resolution}x{spec.resolution} needs a channel count "
          f"divisible by 8 (query/key have C/8 channels), but that block has "
          f"{spec.out_channels}: raise the base width ch.")


def generator_blocks(resolution, ch, attention_resolutions=()):
  """Returns (initial channels at 4x4, [BlockSpec]) for the generator."""
  _check_resolution(resolution)
  initial, mults = G_TABLES[resolution]
  res = [4 * 2 ** (i + 1) for i in range(len(mults))]
  _check_attention("Generator", attention_resolutions, res)
  attn = set(int(r) for r in attention_resolutions)
  specs = [BlockSpec(m * ch, r, r in attn) for m, r in zip(mults, res)]
  _check_attention_width("Generator", specs)
  return initial * ch, specs


def discriminator_blocks(resolution, ch, attention_resolutions=()):
  """Returns [BlockSpec] for the discriminator; attention follows the first block of a size."""
  _check_resolution(resolution)
  specs, res, seen = [], resolution, set()
  attn = set(int(r) for r in attention_resolutions)
  allowed = []
  for mult, down in D_TABLES[resolution]:
    res = res // 2 if down else res
    allowed.append(res)
    specs.append(BlockSpec(mult * ch, res, res in attn and res not in seen, down))
    seen.add(res)
  _check_attention("Discriminator", attention_resolutions, allowed)
  _check_attention_width("Discriminator", specs)
  return specs
