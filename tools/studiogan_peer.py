r"""The PyTorch peer of issue 37: PyTorch-StudioGAN's own SAGAN G and D, trained on our data.

  /work/scratch/torchvenv/bin/python tools/studiogan_peer.py train \
      --studiogan_src=/work/scratch/studiogan/src --data_dir=/tmp/emoji \
      --out_dir=/tmp/peer/s0 --seed=0  # needs PyTorch
  /work/scratch/torchvenv/bin/python tools/studiogan_peer.py sample \
      --studiogan_src=/work/scratch/studiogan/src --checkpoint=/tmp/peer/s0/checkpoint.pt \
      --num_samples=10000 --out=/tmp/peer/s0/samples.npz  # needs PyTorch

Runs under a Python with PyTorch (torch, numpy, Pillow), never the project's venv; it imports
nothing of sagan_tf. Score its samples with the project's Inception in the project's venv:
tools/score_samples.py (the same FID and KID as sagan-evaluate).

The networks are StudioGAN's, imported from --studiogan_src (the `src` directory of
github.com/POSTECH-CVLab/PyTorch-StudioGAN; nothing of it is copied here): `Generator` and
`Discriminator` of src/models/resnet.py with its src/utils/ops.py, and `Ema` of src/utils/ema.py.
resnet.py also imports src/utils/misc.py for one class, `dummy_context_mgr`; misc.py imports
torchvision, seaborn, matplotlib and more at the top, so this tool takes that class's own
definition out of misc.py (its source, compiled alone) and gives resnet.py a `utils.misc` that
holds only it. StudioGAN's SAGAN settings (src/configs/*/SAGAN.yaml over src/config.py's
defaults): conditional BN in G ("cBN"), projection D ("PD"), spectral norm in G and D, ReLU,
orthogonal init, hinge loss, self-attention. Our emoji32 architecture at 32 px: StudioGAN's G
blocks have g_conv_dim x 4 channels and its D blocks d_conv_dim x 2, so our base width 32 is
--g_conv_dim=8 --d_conv_dim=16 (G 130,372 and D 68,418 trainable parameters with 9 classes, as
ours); attention on the 16x16 maps: after G's block 2 (--attn_g_loc=2) and D's block 1
(--attn_d_loc=1).

Training (defaults: experiments/emoji32.py's hyperparameters): batch 32, Adam lr 4e-4 (G) and
8e-4 (D), beta1 0, beta2 0.9, eps 1e-8, 1 D step per G step, G step then D step (our default
substep order; --substep_order=d_then_g is StudioGAN's), 2,500 iterations, hinge loss, EMA of G
with decay 0.995 from iteration 500 (StudioGAN's Ema: a copy of G until the iteration count
passes --ema_start_step, as ours). Every sub-step draws fresh z ~ N(0, I) and uniform fake labels;
every D sub-step takes the next real batch of a stream of per-epoch shuffles of the whole set
(as our folder pipeline: batches cross epoch boundaries). As StudioGAN's worker: G and D stay
in train mode throughout (D's spectral-norm u moves on every D call, G's step included), D runs
twice per D step (real, then fake), D's gradients are off during G's step and G's during D's.

Data: the image folder of sagan-prepare-emoji (any folder of class subfolders), read as
sagan_tf/data/folder.py reads it: class subfolders in natural order (digit runs as numbers) are
the class ids, images under each (recursively, sorted, .jpg .jpeg .png .bmp .gif, hidden files
skipped); each image as sagan_tf/data/common.py preprocesses it: the largest central square,
resized to --resolution bilinearly with antialiasing (Pillow's BILINEAR on float32 channels,
which is a triangle filter widened by the scale factor, as TensorFlow's antialiased bilinear;
tests/test_studiogan_peer.py measures the difference to our pipeline), scaled to [-1, 1].
Unreadable files are skipped and counted.

Speed: iterations/s over the iterations after the first --warmup (default 10), EMA update
included, logged every --log_every. --threads sets torch's intra-op threads (default torch's,
one per physical core); set it for a timing and compare at equal threads: on 2 cores shared with
other jobs, 2 threads ran 0.2 iterations/s at batch 4 where 1 thread ran 7.5 (OpenMP threads
waiting on each other), so only a speed measured on an otherwise idle machine compares.

Output (--out_dir): checkpoint.pt (G, EMA G, D, both Adams, the iteration, the settings, the
SHA-1 of the StudioGAN files used, the measured speed), train_log.jsonl (a line every
--log_every iterations), peer.json (the summary: iterations/s excluding the first --warmup
iterations, threads, torch version), and samples.npz (--num_samples, default 10,000; 0: none).

Samples (train's end, or `sample` from a checkpoint): the EMA generator with standing
statistics as ours (sagan_tf/sampling/bn_stats.py): on a copy, every BN's mean and variance are
replaced by the equal-weight average of its batch moments (mean, biased variance) over K
train-mode passes of B latents (--bn_stats_batches=20, --bn_stats_batch_size=64), then the copy
samples in eval mode; the copy's spectral-norm u and v are put back after the passes, so it
samples with the EMA G's normalized weights. StudioGAN's own apply_standing_statistics (in
misc.py) does not fit: it resets the statistics of the generator it is given (no copy) and runs
passes of random sizes between 1 and the maximum with BN momentum 0.1 (an exponential average
weighted to the last ~10 passes, of unbiased variances), through its sampling module and
config objects. Latents: z ~ N(0, I), labels uniform over the classes, both from
--sample_seed (standing passes from another stream of it). Written as samples.npz: 'images'
uint8 [N, R, R, 3] (round((x + 1) * 127.5), clipped, as sagan_tf.store.images.to_uint8),
'labels' int64 [N], 'iterations_per_sec' (training's, when known).
"""

import argparse
import ast
import copy
import hashlib
import importlib.util
import json
import os
import re
import sys
import time
import types

import numpy as np
from PIL import Image

try:
  import torch
  import torch.nn.functional as F
except ImportError:  # the data helpers below are usable (and tested) without PyTorch
  torch = F = None

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")  # sagan_tf/data/common.py
STUDIOGAN_FILES = ("models/resnet.py", "utils/ops.py", "utils/ema.py", "utils/misc.py")
STANDING_OFFSET = 2**40  # the standing passes' latents: torch.Generator seeded sample_seed + this


# ---------------------------------------------------------------------------------------------
# Data: sagan_tf/data/folder.py's listing and common.py's preprocessing, in numpy + Pillow.

def natural_key(name):
  """folder.natural_key: digit runs compare as numbers, other runs as strings, then the name."""
  parts = re.split(r"(\d+)", name)
  return [int(p) if i % 2 else p for i, p in enumerate(parts)], name


def _is_image(name):
  return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def list_images(directory):
  """(paths, labels, class names) as folder.list_images with num_classes > 0: class subfolders
  (not hidden) in natural order, each one's images found recursively (directories and files
  sorted), sorted by class then path."""
  if not os.path.isdir(directory):
    raise FileNotFoundError(f"--data_dir={directory} is not a directory.")
  classes = sorted((e.name for e in os.scandir(directory)
                    if e.is_dir() and not e.name.startswith(".")), key=natural_key)
  if not classes:
    raise ValueError(f"--data_dir={directory} has no class subfolders (expected "
                     "DIR/<class>/<image>, e.g. the --output of sagan-prepare-emoji).")
  paths, labels = [], []
  for class_id, name in enumerate(classes):
    found = []
    for root, dirs, files in os.walk(os.path.join(directory, name), followlinks=True):
      dirs[:] = sorted(d for d in dirs if not d.startswith("."))
      found.extend(os.path.join(root, f) for f in sorted(files) if _is_image(f))
    if not found:
      raise ValueError(f"--data_dir={directory}: class subfolder {name!r} holds no images.")
    paths += found
    labels += [class_id] * len(found)
  return paths, labels, classes


def preprocess(image, resolution):
  """A PIL image -> float32 [R, R, 3] in [-1, 1]: RGB (alpha dropped, grey replicated), the
  largest central square (top (H - S) // 2, left (W - S) // 2), each channel resized by
  Pillow's antialiased bilinear filter in float32, / 127.5 - 1, clipped."""
  x = np.asarray(image.convert("RGB"), dtype=np.float32)
  h, w = x.shape[:2]
  s = min(h, w)
  top, left = (h - s) // 2, (w - s) // 2
  x = x[top:top + s, left:left + s]
  channels = [np.asarray(Image.fromarray(np.ascontiguousarray(x[..., c]))  # float32: mode F
                         .resize((resolution, resolution), Image.BILINEAR), dtype=np.float32)
              for c in range(3)]
  return np.clip(np.stack(channels, axis=-1) / 127.5 - 1.0, -1.0, 1.0)


def load_images(directory, resolution):
  """(images float32 [N, R, R, 3] in [-1, 1], labels int64 [N], class names, skipped paths):
  every readable image of the folder, in list_images' order (a GIF's first frame)."""
  paths, labels, classes = list_images(directory)
  images, kept, skipped = [], [], []
  for path, label in zip(paths, labels):
    try:
      with Image.open(path) as image:
        image.seek(0)
        images.append(preprocess(image, resolution))
      kept.append(label)
    except (OSError, ValueError, SyntaxError):
      skipped.append(path)
  if not images:
    raise ValueError(f"--data_dir={directory}: none of its {len(paths)} image files decodes.")
  return np.stack(images), np.asarray(kept, np.int64), classes, skipped


def to_uint8(images):
  """float [-1, 1] -> uint8 as sagan_tf.store.images.to_uint8: round((x + 1) * 127.5), clipped."""
  return np.round(np.clip((np.asarray(images, np.float32) + 1.0) * 127.5, 0.0, 255.0)
                  ).astype(np.uint8)


class RealBatches:
  """The real-batch stream: the whole set shuffled each epoch (numpy, seeded), epochs
  concatenated, cut into batches (a batch may cross an epoch boundary)."""

  def __init__(self, num_examples, batch_size, seed):
    self.n, self.batch_size = int(num_examples), int(batch_size)
    self.rng = np.random.default_rng(seed)
    self.order, self.position = self.rng.permutation(self.n), 0

  def next_indices(self):
    out = []
    while len(out) < self.batch_size:
      if self.position == self.n:
        self.order, self.position = self.rng.permutation(self.n), 0
      take = min(self.batch_size - len(out), self.n - self.position)
      out.extend(self.order[self.position:self.position + take])
      self.position += take
    return np.asarray(out)


# ---------------------------------------------------------------------------------------------
# StudioGAN's classes, imported from its src/.

def _need_torch():
  if torch is None:
    raise SystemExit("Error: tools/studiogan_peer.py needs PyTorch (run it with the Python of a "
                     "venv that has torch, numpy and pillow, not the project's .venv).")


def _load_module(name, path):
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  return module


def _dummy_context_mgr(misc_path):
  """StudioGAN's own `dummy_context_mgr` class: its definition in misc.py, compiled alone (the
  rest of misc.py imports packages the networks do not use)."""
  with open(misc_path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), misc_path)
  found = [node for node in tree.body
           if isinstance(node, ast.ClassDef) and node.name == "dummy_context_mgr"]
  if not found:
    raise SystemExit(f"Error: {misc_path} defines no class dummy_context_mgr: is --studiogan_src "
                     "the src directory of PyTorch-StudioGAN?")
  namespace = {}
  exec(compile(ast.Module(body=found, type_ignores=[]), misc_path, "exec"), namespace)  # pylint: disable=exec-used
  return namespace["dummy_context_mgr"]


def file_hashes(src):
  """{relative path: SHA-1} of the StudioGAN files used (the record of which code ran)."""
  out = {}
  for rel in STUDIOGAN_FILES:
    with open(os.path.join(src, rel), "rb") as f:
      out[rel] = hashlib.sha1(f.read()).hexdigest()
  return out


def load_studiogan(src):
  """types.SimpleNamespace(ops, resnet, Ema) from StudioGAN's src directory."""
  _need_torch()
  src = os.path.abspath(src)
  missing = [rel for rel in STUDIOGAN_FILES if not os.path.isfile(os.path.join(src, rel))]
  if missing:
    raise SystemExit(f"Error: --studiogan_src={src} lacks {', '.join(missing)}: pass the src "
                     "directory of PyTorch-StudioGAN (git archive HEAD src | tar -x -C DIR gives "
                     "DIR/src).")
  for name in ("utils", "models"):  # packages whose modules come from src/ only
    package = types.ModuleType(name)
    package.__path__ = [os.path.join(src, name)]
    sys.modules[name] = package
  misc = types.ModuleType("utils.misc")
  misc.dummy_context_mgr = _dummy_context_mgr(os.path.join(src, "utils", "misc.py"))
  sys.modules["utils.misc"] = misc
  sys.modules["utils"].misc = misc
  ops = _load_module("utils.ops", os.path.join(src, "utils", "ops.py"))
  sys.modules["utils"].ops = ops
  ema = _load_module("utils.ema", os.path.join(src, "utils", "ema.py"))
  resnet = _load_module("models.resnet", os.path.join(src, "models", "resnet.py"))
  return types.SimpleNamespace(ops=ops, resnet=resnet, Ema=ema.Ema)


def modules(sg):
  """StudioGAN's MODULES for SAGAN (src/config.py's define_modules with apply_g_sn, apply_d_sn,
  g_cond_mtd 'cBN', ReLU activations)."""
  ops = sg.ops
  return types.SimpleNamespace(
      g_conv2d=ops.snconv2d, g_deconv2d=ops.sndeconv2d, g_linear=ops.snlinear,
      g_embedding=ops.sn_embedding, d_conv2d=ops.snconv2d, d_deconv2d=ops.sndeconv2d,
      d_linear=ops.snlinear, d_embedding=ops.sn_embedding, g_bn=ops.ConditionalBatchNorm2d,
      d_bn=ops.batchnorm_2d, g_act_fn=torch.nn.ReLU(inplace=True),
      d_act_fn=torch.nn.ReLU(inplace=True))


def build_models(sg, settings, num_classes):
  """StudioGAN's (Generator, Discriminator) of its SAGAN config at our sizes (`settings`: the
  architecture keys of the arguments)."""
  s = settings
  model = types.SimpleNamespace(info_type="N/A", g_info_injection="N/A")
  mods = modules(sg)
  g = sg.resnet.Generator(z_dim=s["z_dim"], g_shared_dim="N/A", img_size=s["resolution"],
                          g_conv_dim=s["g_conv_dim"], apply_attn=bool(s["attn_g_loc"]),
                          attn_g_loc=list(s["attn_g_loc"]), g_cond_mtd="cBN",
                          num_classes=num_classes, g_init="ortho", g_depth="N/A",
                          mixed_precision=False, MODULES=mods, MODEL=model)
  d = sg.resnet.Discriminator(img_size=s["resolution"], d_conv_dim=s["d_conv_dim"],
                              apply_d_sn=True, apply_attn=bool(s["attn_d_loc"]),
                              attn_d_loc=list(s["attn_d_loc"]), d_cond_mtd="PD",
                              aux_cls_type="W/O", d_embed_dim="N/A", normalize_d_embed=False,
                              num_classes=num_classes, d_init="ortho", d_depth="N/A",
                              mixed_precision=False, MODULES=mods, MODEL=model)
  return g, d


def count_trainable(model):
  """Parameters the optimizer trains (all of them: training toggles requires_grad only to
  skip the other network's gradients)."""
  return int(sum(p.numel() for p in model.parameters()))


def _set_grad(model, on):
  for p in model.parameters():
    p.requires_grad_(on)


# ---------------------------------------------------------------------------------------------
# Sampling: standing statistics as ours, on a copy.

def _bn_modules(model):
  return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]  # pylint: disable=protected-access


def _latents(n, z_dim, num_classes, generator):
  z = torch.randn(n, z_dim, generator=generator)
  return z, torch.randint(0, num_classes, (n,), generator=generator)


def standing_copy(generator, num_classes, batches=20, batch_size=64, seed=0):
  """A copy of `generator` (not modified) whose BNs hold the equal-weight average of their
  batch moments (mean, biased variance) over `batches` train-mode passes of `batch_size`
  latents (z ~ N(0, I), uniform labels; torch.Generator seeded with seed + STANDING_OFFSET),
  in eval mode; spectral-norm u and v as in `generator`."""
  model = copy.deepcopy(generator)
  sn_state = {k: v.clone() for k, v in model.state_dict().items()
              if k.endswith(("_u", "_v"))}
  bns = _bn_modules(model)
  sums = {id(m): [0.0, 0.0] for m in bns}

  def record(module, inputs):
    x = inputs[0].detach().double()
    s = sums[id(module)]
    s[0] = s[0] + x.mean(dim=(0, 2, 3))
    s[1] = s[1] + x.var(dim=(0, 2, 3), unbiased=False)

  hooks = [m.register_forward_pre_hook(record) for m in bns]
  rng = torch.Generator().manual_seed(int(seed) + STANDING_OFFSET)
  try:
    model.train()
    with torch.no_grad():
      for _ in range(int(batches)):
        z, y = _latents(int(batch_size), model.z_dim, num_classes, rng)
        model(z, y)
  finally:
    for hook in hooks:
      hook.remove()
  with torch.no_grad():
    for m in bns:
      mean, var = sums[id(m)]
      m.running_mean.copy_((mean / batches).to(m.running_mean.dtype))
      m.running_var.copy_((var / batches).to(m.running_var.dtype))
    state = model.state_dict()
    for k, v in sn_state.items():
      state[k].copy_(v)
  return model.eval()


def generate(generator, num_classes, num_samples, seed=0, batches=20, batch_size=64,
             chunk=100):
  """(uint8 images [N, R, R, 3], labels int64 [N]) of `generator` with standing statistics
  (standing_copy); z ~ N(0, I) and uniform labels from torch.Generator seeded with `seed`."""
  model = standing_copy(generator, num_classes, batches, batch_size, seed)
  rng = torch.Generator().manual_seed(int(seed))
  images, labels = [], []
  with torch.no_grad():
    done = 0
    while done < num_samples:
      b = min(chunk, num_samples - done)
      z, y = _latents(b, model.z_dim, num_classes, rng)
      images.append(to_uint8(model(z, y, eval=True).permute(0, 2, 3, 1).numpy()))
      labels.append(y.numpy().astype(np.int64))
      done += b
  return np.concatenate(images), np.concatenate(labels)


def write_samples(path, images, labels, iterations_per_sec=None):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp-{os.getpid()}.npz"
  extra = {} if iterations_per_sec is None else {"iterations_per_sec": np.float64(
      iterations_per_sec)}
  np.savez(tmp, images=images, labels=labels, **extra)
  os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Training.

ARCHITECTURE_KEYS = ("resolution", "z_dim", "g_conv_dim", "d_conv_dim", "attn_g_loc",
                     "attn_d_loc")


def _hinge_d(real, fake):  # StudioGAN's d_hinge (utils/losses.py), ours (sagan_tf/losses.py)
  return torch.mean(F.relu(1.0 - real)) + torch.mean(F.relu(1.0 + fake))


def _hinge_g(fake):
  return -torch.mean(fake)


def _save(path, state):
  tmp = f"{path}.tmp-{os.getpid()}"
  torch.save(state, tmp)
  os.replace(tmp, path)


def train(args):
  _need_torch()
  sg = load_studiogan(args.studiogan_src)
  if args.threads:
    torch.set_num_threads(args.threads)
  os.makedirs(args.out_dir, exist_ok=True)
  ckpt_path = os.path.join(args.out_dir, "checkpoint.pt")
  if os.path.exists(ckpt_path):
    raise SystemExit(f"Error: {ckpt_path} exists: give a new --out_dir (samples from it: the "
                     "`sample` command).")
  t0 = time.perf_counter()
  images, labels, classes, skipped = load_images(args.data_dir, args.resolution)
  num_classes = len(classes)
  print(f"Data: {len(images)} images, {num_classes} classes ({', '.join(classes)}), "
        f"{len(skipped)} unreadable skipped; read in {time.perf_counter() - t0:.1f} s.",
        flush=True)
  real_images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
  real_labels = torch.from_numpy(labels)
  torch.manual_seed(args.seed)
  settings = {k: getattr(args, k) for k in ARCHITECTURE_KEYS}
  g, d = build_models(sg, settings, num_classes)
  g_ema = copy.deepcopy(g)
  ema = sg.Ema(source=g, target=g_ema, decay=args.ema_decay, start_iter=args.ema_start_step + 1)
  print(f"StudioGAN G {count_trainable(g):,} and D {count_trainable(d):,} trainable parameters "
        f"(g_conv_dim {args.g_conv_dim}, d_conv_dim {args.d_conv_dim}); torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads.", flush=True)
  g_opt = torch.optim.Adam(g.parameters(), lr=args.g_lr, betas=(args.beta1, args.beta2),
                           eps=args.adam_eps)
  d_opt = torch.optim.Adam(d.parameters(), lr=args.d_lr, betas=(args.beta1, args.beta2),
                           eps=args.adam_eps)
  stream = RealBatches(len(images), args.batch_size, args.seed)
  bs, z_dim = args.batch_size, args.z_dim
  g.train()
  d.train()

  def g_step():
    _set_grad(d, False)
    _set_grad(g, True)
    z = torch.randn(bs, z_dim)
    y = torch.randint(0, num_classes, (bs,))
    loss = _hinge_g(d(g(z, y), y)["adv_output"])
    g_opt.zero_grad(set_to_none=True)
    loss.backward()
    g_opt.step()
    return loss.item()

  def d_step():
    _set_grad(g, False)
    _set_grad(d, True)
    idx = torch.from_numpy(stream.next_indices())
    z = torch.randn(bs, z_dim)
    y = torch.randint(0, num_classes, (bs,))
    with torch.no_grad():
      fake = g(z, y)
    real_out = d(real_images[idx], real_labels[idx])["adv_output"]
    fake_out = d(fake, y)["adv_output"]
    loss = _hinge_d(real_out, fake_out)
    d_opt.zero_grad(set_to_none=True)
    loss.backward()
    d_opt.step()
    return loss.item(), real_out.mean().item(), fake_out.mean().item()

  log_path = os.path.join(args.out_dir, "train_log.jsonl")
  speed, last_time, last_step = None, time.perf_counter(), 0
  warm_time = last_time  # --warmup=0: timed from the start
  with open(log_path, "a", encoding="utf-8") as log:
    for step in range(1, args.num_steps + 1):
      if args.substep_order == "g_then_d":
        g_loss = g_step()
      for _ in range(args.d_steps):
        d_loss, d_real, d_fake = d_step()
      if args.substep_order == "d_then_g":
        g_loss = g_step()
      ema.update(step)
      now = time.perf_counter()
      if step == args.warmup:
        warm_time = now
      if step > args.warmup:
        speed = (step - args.warmup) / (now - warm_time)
      if step % args.log_every == 0 or step == args.num_steps:
        line = dict(step=step, d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake,
                    iterations_per_sec=(step - last_step) / (now - last_time),
                    iterations_per_sec_after_warmup=speed)
        log.write(json.dumps(line) + "\n")
        log.flush()
        print(f"step {step}: d_loss {d_loss:.4f} g_loss {g_loss:.4f} d_real {d_real:.3f} "
              f"d_fake {d_fake:.3f}; {line['iterations_per_sec']:.2f} it/s"
              + (f" ({speed:.2f} it/s after the first {args.warmup})" if speed else ""),
              flush=True)
        last_time, last_step = now, step
      if (args.checkpoint_every and step % args.checkpoint_every == 0
          and step != args.num_steps):
        _save(ckpt_path, _state(args, g, g_ema, d, g_opt, d_opt, step, classes, speed))
  _save(ckpt_path, _state(args, g, g_ema, d, g_opt, d_opt, args.num_steps, classes, speed))
  summary = dict(iterations_per_sec=speed, warmup=args.warmup, num_steps=args.num_steps,
                 batch_size=bs, threads=torch.get_num_threads(), torch=torch.__version__,
                 g_params=count_trainable(g), d_params=count_trainable(d),
                 num_images=len(images), num_classes=num_classes, skipped=len(skipped),
                 studiogan_src=os.path.abspath(args.studiogan_src),
                 studiogan_files=file_hashes(args.studiogan_src), args=vars(args),
                 checkpoint=ckpt_path)
  with open(os.path.join(args.out_dir, "peer.json"), "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=1)
  print(f"Trained {args.num_steps} iterations; "
        + (f"{speed:.3f} iterations/s after the first {args.warmup}. " if speed else
           f"too few iterations to time after the first {args.warmup}. ")
        + f"Checkpoint {ckpt_path}.", flush=True)
  if args.num_samples:
    out = os.path.join(args.out_dir, "samples.npz")
    _sample_to(out, g_ema, num_classes, args, speed)


def _state(args, g, g_ema, d, g_opt, d_opt, step, classes, speed):
  return dict(generator=g.state_dict(), ema_generator=g_ema.state_dict(),
              discriminator=d.state_dict(), g_optimizer=g_opt.state_dict(),
              d_optimizer=d_opt.state_dict(), step=step, classes=classes,
              settings={k: getattr(args, k) for k in ARCHITECTURE_KEYS},
              args=vars(args), iterations_per_sec=speed,
              studiogan_files=file_hashes(args.studiogan_src))


def _sample_to(out, g_ema, num_classes, args, speed):
  t0 = time.perf_counter()
  images, labels = generate(g_ema, num_classes, args.num_samples, seed=args.sample_seed,
                            batches=args.bn_stats_batches, batch_size=args.bn_stats_batch_size)
  write_samples(out, images, labels, speed)
  print(f"Wrote {len(images)} samples of the EMA generator (standing statistics, "
        f"{args.bn_stats_batches} passes of {args.bn_stats_batch_size}) to {out} in "
        f"{time.perf_counter() - t0:.1f} s.", flush=True)


def sample(args):
  _need_torch()
  sg = load_studiogan(args.studiogan_src)
  if args.threads:
    torch.set_num_threads(args.threads)
  state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
  if state["studiogan_files"] != file_hashes(args.studiogan_src):
    print("Warning: the StudioGAN files differ from those the checkpoint was trained with.",
          file=sys.stderr)
  num_classes = len(state["classes"])
  g, _ = build_models(sg, state["settings"], num_classes)
  g.load_state_dict(state["ema_generator"] if args.use_ema else state["generator"])
  print(f"Checkpoint {args.checkpoint}: step {state['step']}, {num_classes} classes, "
        f"{'EMA' if args.use_ema else 'raw'} generator.", flush=True)
  _sample_to(args.out, g, num_classes, args, state.get("iterations_per_sec"))


def _locations(text):
  return [int(v) for v in text.split(",") if v.strip()] if text else []


def parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = p.add_subparsers(dest="command", required=True)
  t = sub.add_parser("train", help="train StudioGAN's G and D; checkpoint; samples")
  s = sub.add_parser("sample", help="samples of a checkpoint's (EMA) generator")
  for q in (t, s):
    q.add_argument("--studiogan_src", required=True, help="PyTorch-StudioGAN's src directory")
    q.add_argument("--num_samples", type=int, default=10_000, help="samples to write (train: "
                   "0 = none)")
    q.add_argument("--sample_seed", type=int, default=0, help="seed of the samples' latents")
    q.add_argument("--bn_stats_batches", type=int, default=20, help="standing passes K")
    q.add_argument("--bn_stats_batch_size", type=int, default=64, help="latents per pass B")
    q.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
  t.add_argument("--data_dir", required=True, help="image folder with class subfolders")
  t.add_argument("--out_dir", required=True)
  t.add_argument("--seed", type=int, default=0)
  t.add_argument("--num_steps", type=int, default=2500)
  t.add_argument("--batch_size", type=int, default=32)
  t.add_argument("--g_lr", type=float, default=4e-4)
  t.add_argument("--d_lr", type=float, default=8e-4)
  t.add_argument("--beta1", type=float, default=0.0)
  t.add_argument("--beta2", type=float, default=0.9)
  t.add_argument("--adam_eps", type=float, default=1e-8)
  t.add_argument("--d_steps", type=int, default=1)
  t.add_argument("--substep_order", choices=("g_then_d", "d_then_g"), default="g_then_d")
  t.add_argument("--ema_decay", type=float, default=0.995)
  t.add_argument("--ema_start_step", type=int, default=500,
                 help="EMA G is a copy of G until this many iterations are done")
  t.add_argument("--resolution", type=int, default=32)
  t.add_argument("--z_dim", type=int, default=128)
  t.add_argument("--g_conv_dim", type=int, default=8, help="StudioGAN's; 8 = our width 32 at 32 px")
  t.add_argument("--d_conv_dim", type=int, default=16, help="StudioGAN's; 16 = our width 32 at 32 px")
  t.add_argument("--attn_g_loc", type=_locations, default=[2], help="after these G blocks "
                 "(1-based, comma-separated; '' = none); 2 = the 16x16 map at 32 px")
  t.add_argument("--attn_d_loc", type=_locations, default=[1], help="after these D blocks; "
                 "1 = the 16x16 map at 32 px")
  t.add_argument("--warmup", type=int, default=10,
                 help="first iterations left out of the iterations/s")
  t.add_argument("--log_every", type=int, default=50)
  t.add_argument("--checkpoint_every", type=int, default=0, help="0: at the end only")
  s.add_argument("--checkpoint", required=True)
  s.add_argument("--out", required=True, help="the .npz to write")
  s.add_argument("--use_ema", type=lambda v: v.lower() in ("1", "true", "yes"), default=True)
  args = p.parse_args(argv)
  for name in ("num_samples", "bn_stats_batches", "bn_stats_batch_size"):
    minimum = 0 if name == "num_samples" and args.command == "train" else 1
    if getattr(args, name) < minimum:
      p.error(f"--{name} must be >= {minimum}")
  if args.command == "train":
    for name in ("num_steps", "batch_size", "d_steps", "log_every"):
      if getattr(args, name) < 1:
        p.error(f"--{name} must be >= 1")
    if args.warmup < 0:
      p.error("--warmup must be >= 0")
  return args


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  (train if args.command == "train" else sample)(args)
  return 0


if __name__ == "__main__":
  sys.exit(main())
