"""IS, FID and KID vs independent numpy/scipy references, FID vs TF-GAN's function,
class accuracy, and the sample-size policy."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from sagan_tf.evaluation import metrics
from sagan_tf.evaluation import tfgan


# ----------------------------------------------------------------------------------------------
# numpy references (float64)


def np_fid(a, b):
  mu1, mu2 = a.mean(0), b.mean(0)
  c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)  # unbiased (N - 1)
  covmean = scipy.linalg.sqrtm(c1 @ c2)
  covmean = np.real(covmean)
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2.0 * covmean))


def np_inception_score(logits):
  logits = logits - logits.max(1, keepdims=True)
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  py = p.mean(0)
  kl = np.sum(p * (np.log(p) - np.log(py)), axis=1)
  return float(np.exp(kl.mean()))


def np_kid(x, y):
  """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018)."""
  d = x.shape[1]
  k = lambda a, b: (a @ b.T / d + 1.0) ** 3
  kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
  m, n = len(x), len(y)
  return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
               + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2.0 * kxy.mean())


@pytest.fixture(scope="module")
def acts():
  rng = np.random.default_rng(0)
  mix = rng.normal(size=(12, 12))
  a = rng.normal(size=(300, 12)) @ mix
  b = rng.normal(size=(250, 12)) @ (mix + 0.3 * rng.normal(size=(12, 12))) + 0.5
  return a, b


def test_fid_matches_scipy(acts):
  a, b = acts
  ours, ref = metrics.frechet_distance(a, b), np_fid(a, b)
  assert ref > 1.0
  assert abs(ours - ref) / ref < 1e-6, (ours, ref)
  # Symmetric, and zero for identical sets (up to sqrtm round-off).
  assert abs(metrics.frechet_distance(b, a) - ref) / ref < 1e-6
  assert abs(metrics.frechet_distance(a, a)) < 1e-6 * ref


def _relu_features(n1, n2, seed):
  rng = np.random.default_rng(seed)
  mix = rng.normal(size=(256, 256)) / 16
  a = np.maximum(rng.normal(size=(n1, 256)) @ mix, 0.0)  # ReLU features, like pool_3
  b = np.maximum(rng.normal(size=(n2, 256)) @ mix + 0.1, 0.0)
  return a, b


# Rank-deficient covariances (N < D: the N x N path), one deficient and one full (40 and 400),
# and full rank (the D x D path).
@pytest.mark.parametrize("n1, n2", [(40, 47), (40, 400), (400, 407)])
def test_fid_equals_tf_gans_function(n1, n2):
  """The numpy computation is TF-GAN's: equal to its function to round-off, including where
  most eigenvalues are 0 (its small-value rule)."""
  a, b = _relu_features(n1, n2, n1 + n2)
  ref = float(tfgan.frechet_classifier_distance_from_activations(
      tf.constant(a), tf.constant(b)))
  assert ref > 1.0
  assert abs(metrics.frechet_distance(a, b) - ref) / ref < 1e-9, (n1, n2, ref)
  assert abs(metrics.frechet_distance(b, a) - ref) / ref < 1e-9, (n1, n2, ref)


@pytest.mark.parametrize("n1, n2", [(40, 47), (40, 400), (256, 256)])
def test_small_sample_trace_equals_the_covariance_computation(n1, n2):
  """The N x N path's trace term equals the D x D eigendecompositions' on the same sets."""
  a, b = _relu_features(n1, n2, 7 * n1 + n2)
  x1 = (a - a.mean(0)) / np.sqrt(n1 - 1)
  x2 = (b - b.mean(0)) / np.sqrt(n2 - 1)
  full = metrics._trace_root_of_product(np.cov(a, rowvar=False), np.cov(b, rowvar=False))
  assert full > 1.0
  assert abs(metrics._trace_root_from_samples(x1, x2) - full) / full < 1e-9


def test_fid_uses_unbiased_covariance(acts):
  """A biased (N) covariance would give a different value for small N."""
  a, b = acts[0][:20], acts[1][:20]
  mu1, mu2 = a.mean(0), b.mean(0)
  c1, c2 = np.cov(a, rowvar=False, bias=True), np.cov(b, rowvar=False, bias=True)
  biased = float(np.sum((mu1 - mu2) ** 2)
                 + np.trace(c1 + c2 - 2 * np.real(scipy.linalg.sqrtm(c1 @ c2))))
  ours = metrics.frechet_distance(a, b)
  assert abs(ours - np_fid(a, b)) / np_fid(a, b) < 1e-6
  assert abs(ours - biased) / biased > 1e-3


def test_inception_score_matches_numpy():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(400, 7)) * 3.0
  ours, ref = metrics.inception_score(logits), np_inception_score(logits)
  assert abs(ours - ref) / ref < 1e-9, (ours, ref)
  assert 1.0 < ref < 7.0
  # Identical predictions: IS = 1; confident, evenly spread: IS = number of classes.
  assert metrics.inception_score(np.tile(logits[:1], (50, 1))) == pytest.approx(1.0, abs=1e-9)
  one_hot = np.eye(7)[np.arange(70) % 7] * 60.0
  assert metrics.inception_score(one_hot) == pytest.approx(7.0, rel=1e-6)


def test_kid_matches_unbiased_mmd(acts):
  a, b = acts
  kid, std = metrics.kernel_distance(a, b)  # 300 and 250 samples <= 1024: one block
  ref = np_kid(a, b)
  assert abs(kid - ref) / abs(ref) < 1e-9, (kid, ref)
  assert std is None  # one block: no standard error
  kid2, std2 = metrics.kernel_distance(a, b, max_block_size=100)  # 3 blocks: an estimate
  assert std2 is not None and std2 > 0
  assert kid2 != pytest.approx(ref, rel=1e-9)


def test_class_accuracy_and_compute_metrics():
  rng = np.random.default_rng(2)
  labels = rng.integers(0, 4, 100)
  logits = np.eye(4)[labels] * 5.0
  logits[:25] = np.eye(4)[(labels[:25] + 1) % 4] * 5.0  # 25 wrong
  assert metrics.class_accuracy(logits, labels) == pytest.approx(0.75)
  real = dict(pool_3=rng.normal(size=(100, 5)), logits=np.eye(4)[labels] * 5.0, labels=labels,
              symmetry=np.zeros(100))
  gen = dict(pool_3=rng.normal(size=(100, 5)) + 1.0, logits=logits, labels=labels,
             symmetry=np.full(100, 0.25))
  m = metrics.compute_metrics({"standin": real}, {"standin": gen}, num_classes=4, main="standin")
  assert m["standin/class_accuracy"] == pytest.approx(0.75)
  assert m["standin/real_class_accuracy"] == pytest.approx(1.0)
  assert m["symmetry_error"] == pytest.approx(0.25)
  assert m["real_symmetry_error"] == pytest.approx(0.0)
  assert m["standin/fid"] == pytest.approx(np_fid(real["pool_3"], gen["pool_3"]), rel=1e-6)
  # Logits that are not the dataset's classes (e.g. Inception's 1008): no class accuracy.
  m = metrics.compute_metrics({"x": real}, {"x": gen}, num_classes=10, main="x")
  assert "x/class_accuracy" not in m and "x/real_class_accuracy" not in m
  assert "x/inception_score" in m


def test_two_networks_each_give_their_metrics():
  """Main network: pool_3 only (the imported Inception) -> FID and KID, no IS; the class
  network: logits only -> class accuracy and IS in its units, no FID."""
  rng = np.random.default_rng(3)
  labels = rng.integers(0, 4, 60)
  wrong = np.eye(4)[(labels + 1) % 4]
  gen_logits = np.where(np.arange(60)[:, None] < 15, wrong, np.eye(4)[labels]) * 4.0  # 15 wrong
  real = {"inception": dict(pool_3=rng.normal(size=(60, 3)), labels=labels),
          "standin": dict(logits=np.eye(4)[labels] * 4.0, labels=labels)}
  gen = {"inception": dict(pool_3=rng.normal(size=(60, 3)) + 0.5, labels=labels),
         "standin": dict(logits=gen_logits, labels=labels)}
  m = metrics.compute_metrics(real, gen, num_classes=4, main="inception")
  assert set(m) == {"inception/fid", "inception/kid", "inception/kid_std",
                    "standin/class_accuracy", "standin/real_class_accuracy",
                    "standin/inception_score", "standin/real_inception_score"}
  assert m["inception/fid"] == pytest.approx(
      np_fid(real["inception"]["pool_3"], gen["inception"]["pool_3"]), rel=1e-6)
  assert m["standin/class_accuracy"] == pytest.approx(0.75)
  p = np.exp(gen_logits) / np.exp(gen_logits).sum(1, keepdims=True)
  ref_is = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(p.mean(0))), axis=1)))
  assert m["standin/inception_score"] == pytest.approx(ref_is, rel=1e-6)


def test_sample_size_policy():
  with pytest.raises(ValueError, match="at least 2"):
    metrics.check_num_samples(1, None)
  with pytest.raises(ValueError, match="feature dimension.*eval_allow_small_n"):
    metrics.check_num_samples(2048, 2048)
  metrics.check_num_samples(2049, 2048)
  metrics.check_num_samples(100, 2048, allow_small_n=True)
  with pytest.raises(ValueError, match="at least 2"):
    metrics.check_num_samples(1, 2048, allow_small_n=True)
