#!/usr/bin/env python3
"""Reference numbers for tests/eval_metrics.rs (spec section 8.4).

Re-implements the formulas of the official `utils/metrics.py` (momask-codes) with numpy/scipy,
including `scipy.linalg.sqrtm` for FID, and the protocol aggregation of `eval_t2m_trans_res.py`
(mean and 1.96 * np.std / sqrt(replications), ddof 0).

The inputs are not stored: they come from an integer-only generator (SplitMix64) that the Rust
test re-implements, and every value is a small integer divided by a power of two, so it is exact
in float32 and both sides start from bit-identical embeddings. The JSON carries checksums of the
generated inputs so that a generator mismatch fails loudly.

Every metric is computed twice:
  * `*_f32`: on float32 arrays, exactly like the official evaluation (the evaluator's embeddings
    are float32; numpy keeps float32 for the distance matrix, the mean and the norms, while np.cov
    upcasts to float64);
  * `*_f64`: the same formulas on float64 copies of the same inputs (what the Rust port computes).

Run:  python3 -m venv /tmp/evalref && /tmp/evalref/bin/pip install numpy scipy mpmath
      /tmp/evalref/bin/python tests/data/eval_reference.py > tests/data/eval_reference.json
"""

import json
import sys
import warnings

import mpmath
import numpy as np
import scipy
from scipy import linalg

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def int_bits(self, bits):
        """Signed integer in [-2^(bits-1), 2^(bits-1)) from the top `bits` bits."""
        return (self.next() >> (64 - bits)) - (1 << (bits - 1))

    def ints(self, shape, bits):
        n = int(np.prod(shape))
        return np.array([self.int_bits(bits) for _ in range(n)], dtype=np.int64).reshape(shape)


def exact_f32(ints, shift):
    """ints / 2^shift, asserted exact in float32."""
    v = ints.astype(np.float64) / float(1 << shift)
    assert np.all(np.abs(ints) < (1 << 24)), "not exact in float32"
    assert np.array_equal(v.astype(np.float32).astype(np.float64), v)
    return v.astype(np.float32)


def make_inputs():
    g = SplitMix64(20240607)
    a = g.ints((64, 16), 16)
    b = g.ints((64, 16), 16)
    text = exact_f32(a, 15)  # et: uniform in [-1, 1)
    motion = exact_f32(3 * a + 5 * b, 17)  # em: correlated with et (corr ~0.51)
    c = g.ints((64, 16), 16)
    d = g.ints((64, 16), 16)
    shift = (np.arange(16) % 3) * 4096
    gen = exact_f32(2 * c + d + shift[None, :], 17)  # a "generated" set with another mean/cov
    # Ill-conditioned: rank-4 signal (8-bit factors) plus +-1 noise at 2^-21 relative scale.
    w = g.ints((4, 16), 8)
    z1 = g.ints((64, 4), 8)
    z2 = g.ints((64, 4), 8)
    n1 = g.ints((64, 16), 2)  # in [-2, 2)
    n2 = g.ints((64, 16), 2)
    ill1 = exact_f32((z1 @ w) * 64 + n1, 22)
    ill2 = exact_f32((z2 @ w) * 64 + n2, 22)
    # Rank-deficient: 10 samples of 16-d (covariance rank <= 9).
    r1 = g.ints((10, 16), 16)
    r2 = g.ints((10, 16), 16)
    rank1 = exact_f32(r1, 15)
    rank2 = exact_f32(r2 + 8192, 15)
    # Multimodality: (6 texts, 12 repetitions, 8-d).
    mm = exact_f32(g.ints((6, 12, 8), 16), 15)
    # 20 replications of a metric for the aggregation.
    reps = exact_f32(g.ints((20,), 16), 12)
    return dict(text=text, motion=motion, gen=gen, ill1=ill1, ill2=ill2, rank1=rank1, rank2=rank2,
                mm=mm, reps=reps)


# ---- The formulas of utils/metrics.py, re-implemented ----------------------------------------

def euclidean_distance_matrix(m1, m2):
    assert m1.shape[1] == m2.shape[1]
    d1 = -2 * np.dot(m1, m2.T)
    d2 = np.sum(np.square(m1), axis=1, keepdims=True)
    d3 = np.sum(np.square(m2), axis=1)
    return np.sqrt(d1 + d2 + d3)


def calculate_top_k(mat, top_k):
    size = mat.shape[0]
    gt_mat = np.expand_dims(np.arange(size), 1).repeat(size, 1)
    bool_mat = mat == gt_mat
    correct = np.zeros(size, dtype=bool)
    cols = []
    for i in range(top_k):
        correct = correct | bool_mat[:, i]
        cols.append(correct[:, None])
    return np.concatenate(cols, axis=1)


def calculate_r_precision(e1, e2, top_k):
    dist = euclidean_distance_matrix(e1, e2)
    order = np.argsort(dist, axis=1)
    return calculate_top_k(order, top_k).sum(axis=0)


def activation_statistics(act):
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    offset_used = False
    if not np.isfinite(covmean).all():
        offset_used = True
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    imag = 0.0
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component %g" % np.max(np.abs(covmean.imag)))
        imag = float(np.max(np.abs(covmean.imag)))
        covmean = covmean.real
    fid = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
    return float(fid), offset_used, imag


def diversity_from_indices(act, first, second):
    return float(linalg.norm(act[first] - act[second], axis=1).mean())


def multimodality_from_indices(act, first, second):
    return float(linalg.norm(act[:, first] - act[:, second], axis=2).mean())


def fid_high_precision(x1, x2, dps=60):
    """FID at `dps` decimal digits (mpmath) from the same inputs: ground truth for both the Rust
    port and scipy. tr sqrtm(S1 S2) = sum of sqrt of the eigenvalues of B^T S2 B, S1 = B B^T."""
    mpmath.mp.dps = dps

    def stats(x):
        n, d = x.shape
        rows = [[mpmath.mpf(float(v)) for v in r] for r in x]
        mu = [mpmath.fsum(r[j] for r in rows) / n for j in range(d)]
        cov = mpmath.matrix(d, d)
        for i in range(d):
            for j in range(d):
                cov[i, j] = mpmath.fsum((r[i] - mu[i]) * (r[j] - mu[j]) for r in rows) / (n - 1)
        return mu, cov

    mu1, s1 = stats(x1)
    mu2, s2 = stats(x2)
    d = s1.rows
    lam, v = mpmath.eigsy(s1)
    b = mpmath.matrix(d, d)
    for j in range(d):
        root = mpmath.sqrt(max(lam[j], 0))
        for i in range(d):
            b[i, j] = v[i, j] * root
    m = b.T * s2 * b
    mu_eig = mpmath.eigsy(m, eigvals_only=True)
    tr = mpmath.fsum(mpmath.sqrt(max(e, 0)) for e in mu_eig)
    diff2 = mpmath.fsum((a - c) ** 2 for a, c in zip(mu1, mu2))
    fid = diff2 + sum(s1[i, i] for i in range(d)) + sum(s2[i, i] for i in range(d)) - 2 * tr
    return float(fid), float(tr)


# ---- Cases -------------------------------------------------------------------------------------

def checksum(x):
    x64 = x.astype(np.float64)
    return {"shape": list(x.shape), "sum": float(x64.sum()), "sum_sq": float((x64 * x64).sum()),
            "first": float(x64.flat[0]), "last": float(x64.flat[-1])}


def r_precision_case(text, motion, dtype, batch=32):
    counts = np.zeros(3, dtype=np.int64)
    matching = 0.0
    per_batch = []
    for s in range(0, text.shape[0], batch):
        et = text[s:s + batch].astype(dtype)
        em = motion[s:s + batch].astype(dtype)
        c = calculate_r_precision(et, em, 3)
        m = euclidean_distance_matrix(et, em).trace()
        counts += c
        matching += float(m)
        per_batch.append({"counts": [int(v) for v in c], "matching_sum": float(m)})
    n = text.shape[0]
    return {"counts": [int(v) for v in counts], "top_k": [float(v) / n for v in counts],
            "matching": matching / n, "per_batch": per_batch}


def fid_case(x1, x2, dtype):
    mu1, s1 = activation_statistics(x1.astype(dtype))
    mu2, s2 = activation_statistics(x2.astype(dtype))
    fid, offset_used, imag = frechet_distance(mu1, s1, mu2, s2)
    return {"fid": fid, "offset_used": offset_used, "max_imag": imag}


def main():
    x = make_inputs()
    out = {
        "generator": "SplitMix64(20240607); see make_inputs()",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "mpmath": mpmath.__version__,
        "inputs": {k: checksum(v) for k, v in x.items()},
    }

    # Distance matrix (first batch): a row, a column and the diagonal, in float64.
    ed = euclidean_distance_matrix(x["text"][:32].astype(np.float64), x["motion"][:32].astype(np.float64))
    out["distance"] = {"row0": ed[0].tolist(), "col5": ed[:, 5].tolist(), "diag": np.diagonal(ed).tolist()}

    out["r_precision_f32"] = r_precision_case(x["text"], x["motion"], np.float32)
    out["r_precision_f64"] = r_precision_case(x["text"], x["motion"], np.float64)

    # Activation statistics (float64 path), the GT set (= motion).
    mu, cov = activation_statistics(x["motion"].astype(np.float64))
    out["stats_motion"] = {"mean": mu.tolist(), "cov_diag": np.diagonal(cov).tolist(),
                           "cov_row3": cov[3].tolist(), "eigvalsh": np.linalg.eigvalsh(cov).tolist()}

    fid_cases = {
        "motion_vs_gen": ("motion", "gen"),
        "gen_vs_motion": ("gen", "motion"),
        "motion_vs_text": ("motion", "text"),
        "motion_vs_motion": ("motion", "motion"),
        "ill_vs_ill": ("ill1", "ill2"),
        "motion_vs_ill": ("motion", "ill1"),
        "rank_vs_rank": ("rank1", "rank2"),
    }
    out["fid"] = {}
    for name, (p, q) in fid_cases.items():
        mu1, s1 = activation_statistics(x[p].astype(np.float64))
        mu2, s2 = activation_statistics(x[q].astype(np.float64))
        ev = np.linalg.eigvals(s1 @ s2)
        exact_fid, exact_tr = fid_high_precision(x[p].astype(np.float64), x[q].astype(np.float64))
        out["fid"][name] = {
            "a": p, "b": q,
            "f32": fid_case(x[p], x[q], np.float32),
            "f64": fid_case(x[p], x[q], np.float64),
            # Independent check of tr sqrtm(S1 S2): sum of sqrt of the (real, >= 0) eigenvalues.
            "tr_sqrt_eig": float(np.sum(np.sqrt(np.clip(ev.real, 0, None)))),
            # Ground truth at 60 digits (mpmath).
            "exact": {"fid": exact_fid, "tr_sqrtm": exact_tr},
            "cond1": float(np.linalg.cond(s1)),
            "cond2": float(np.linalg.cond(s2)),
        }

    # Diversity / multimodality with the reference's sampler (np.random.choice without replacement);
    # the indices are stored because the Rust port uses its own RNG.
    np.random.seed(1234)
    first = np.random.choice(64, 20, replace=False)
    second = np.random.choice(64, 20, replace=False)
    out["diversity"] = {
        "first": first.tolist(), "second": second.tolist(),
        "gen_f32": diversity_from_indices(x["gen"], first, second),
        "gen_f64": diversity_from_indices(x["gen"].astype(np.float64), first, second),
        # The exact expectation over uniform index pairs: mean over all ordered (i, j), i == j included.
        "gen_all_pairs_f64": float(np.mean(np.linalg.norm(
            x["gen"].astype(np.float64)[:, None] - x["gen"].astype(np.float64)[None], axis=2))),
    }
    mf = np.random.choice(12, 10, replace=False)
    ms = np.random.choice(12, 10, replace=False)
    out["multimodality"] = {
        "first": mf.tolist(), "second": ms.tolist(),
        "f32": multimodality_from_indices(x["mm"], mf, ms),
        "f64": multimodality_from_indices(x["mm"].astype(np.float64), mf, ms),
    }

    reps = x["reps"].astype(np.float64)
    out["aggregate"] = {"mean": float(np.mean(reps)), "conf": float(np.std(reps) * 1.96 / np.sqrt(len(reps)))}

    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
