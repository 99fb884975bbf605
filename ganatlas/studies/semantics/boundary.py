"""InterFaceGAN boundaries: top/bottom selection, the split, a linear SVM, accuracies.

Two protocols (``semantics.protocol``):

- ``interfacegan``: the paper's procedure. Valid scores sorted from highest to lowest; the first
  K rows are the positives, the last K the negatives; each class is shuffled on its own by
  ``np.random.RandomState(seed).shuffle`` (positives first) and its first ``int(K * (1 -
  val_fraction))`` rows train; ``SVC(kernel='linear')``; z rescaled to norm sqrt(d) (done by the
  caller, see ``rescale_to_sqrt_dim``).
- ``ganatlas``: both classes stacked and cut by one ``default_rng(seed)`` permutation; scikit-learn
  ``LinearSVC`` (5-800x faster on thousands of samples).

Accuracies, under either protocol:

- ``acc_val``: the held-out rows of the selected extremes;
- ``acc_remaining`` (InterFaceGAN's rule): the valid samples *between* the top and bottom K,
  labelled positive unless their score is below the midpoint of the highest and lowest valid
  score. On skewed scores one side can be empty (e.g. every middle sample below the midpoint):
  ``remaining_pos`` / ``remaining_neg`` count both labels, and ``acc_remaining_balanced`` (mean
  per-label recall) is NaN when one label has no sample;
- ``acc_all`` (ganatlas's rule): every valid sample except the training rows, labelled positive
  when its score is above the median valid score.

``repeats`` reruns the split with seeds ``seed .. seed + repeats - 1`` for the spread of the
accuracies and of the normal (``cos_min``: the lowest cosine of a repeat's normal with the first).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROTOCOLS = ("ganatlas", "interfacegan")
#: K as a share of the valid samples when ``select.fraction`` is null. InterFaceGAN's 2 % was set
#: for 500,000 samples (10,000 per side); at ganatlas's default 2,000 samples it is 40 per side in
#: 512 dimensions, where any 40 + 40 points are linearly separable and the normal is mostly noise,
#: so ganatlas takes the top and bottom quarter.
DEFAULT_FRACTION = {"ganatlas": 0.25, "interfacegan": 0.02}
#: The SVM of each protocol (``svm.solver: protocol``).
DEFAULT_SOLVER = {"ganatlas": "linearsvc", "interfacegan": "svc"}


def rescale_to_sqrt_dim(z: np.ndarray) -> np.ndarray:
    """``z: [N, d]`` rows rescaled to norm sqrt(d), as InterFaceGAN's Z-space preprocessing does."""
    z = np.asarray(z)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("cannot rescale an all-zero latent to norm sqrt(d)")
    return (z / norm * np.sqrt(z.shape[1])).astype(z.dtype)


def select_extremes(
    scores: np.ndarray, k: int | None = None, fraction: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``scores: [N]``) of the K highest and K lowest finite scores.

    K is ``k`` or ``int(fraction * n_finite)``, capped at half the finite scores. Ties keep
    index order (stable sort), so the selection is deterministic. Returns (positive, negative),
    each ``[K]`` int64, positives highest first, negatives lowest first (InterFaceGAN's negatives
    are the reverse: the last K rows of its descending sort).
    """
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(scores))
    n = len(valid)
    kk = int(k) if k is not None else int(float(fraction) * n)
    kk = min(kk, n // 2)
    if kk < 1:
        raise ValueError(
            f"cannot select top/bottom samples: {n} finite scores give K={kk} (k={k}, fraction={fraction})"
        )
    order = valid[np.argsort(scores[valid], kind="stable")]
    return order[::-1][:kk].copy(), order[:kk].copy()


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-seed permutation of ``range(n)`` cut into (train, val); val has round(n * frac)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def split_per_class(k: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """InterFaceGAN's split of ``2K`` stacked rows (K positives, then K negatives): (train, val).

    Each class is shuffled separately by one ``np.random.RandomState(seed)`` (positives first)
    and its first ``int(K * (1 - val_fraction))`` rows train. Row order is InterFaceGAN's:
    positive train, negative train; positive val, negative val.
    """
    rs = np.random.RandomState(seed)
    pos, neg = np.arange(k), np.arange(k)
    rs.shuffle(pos)
    rs.shuffle(neg)
    t = int(k * (1 - val_fraction))
    return (
        np.concatenate([pos[:t], k + neg[:t]]),
        np.concatenate([pos[t:], k + neg[t:]]),
    )


def fit_linear_svm(
    x: np.ndarray, y: np.ndarray, c: float = 1.0, max_iter: int = 20000, solver: str = "linearsvc"
):
    """A fitted scikit-learn linear SVM on ``x: [M, D]``, ``y: [M]`` in {0, 1}.

    ``linearsvc``: LinearSVC with a fixed ``random_state`` (liblinear's dual solver shuffles the
    samples, and without a seed it draws one from NumPy's global generator, so the same data gave
    boundaries that differed by ~1e-5 from run to run). ``svc``: ``SVC(kernel='linear', C=c)``,
    InterFaceGAN's solver (libsvm, deterministic; ``max_iter`` unused, as in InterFaceGAN).
    """
    from sklearn.svm import SVC, LinearSVC

    if solver == "svc":
        return SVC(kernel="linear", C=c).fit(x, y)
    if solver != "linearsvc":
        raise ValueError(f"semantics.svm.solver must be linearsvc or svc, got {solver!r}")
    clf = LinearSVC(C=c, max_iter=max_iter, dual=bool(x.shape[0] <= x.shape[1]), random_state=0)
    return clf.fit(x, y)


@dataclass
class BoundaryResult:
    """A trained boundary: ``normal: [1, D]`` unit float32 (InterFaceGAN layout) and its numbers."""

    normal: np.ndarray
    intercept: float  # of the unit normal: decision = latent @ normal.T + intercept
    protocol: str
    solver: str
    acc_train: float
    acc_val: float
    acc_remaining: float  # InterFaceGAN's rule: middle samples against the score midpoint
    acc_remaining_balanced: float  # mean per-label recall; NaN when a label has no sample
    acc_all: float  # ganatlas's rule: valid samples except the training rows, against the median
    remaining_pos: int
    remaining_neg: int
    n_samples: int  # all samples given
    n_valid: int  # with a finite score
    k: int
    n_train: int
    n_val: int
    n_remaining: int
    midpoint: float  # (highest + lowest valid score) / 2: the remaining rule's threshold
    threshold: float  # median valid score: the all-sample rule's threshold
    repeats: int  # split seeds seed .. seed + repeats - 1
    acc_val_mean: float
    acc_val_std: float
    acc_val_min: float
    acc_val_max: float
    acc_remaining_std: float
    acc_all_std: float
    cos_min: float  # lowest cosine of a repeat's normal with this one (1.0 for one repeat)


def _fit_split(
    x: np.ndarray, scores: np.ndarray, pos: np.ndarray, neg: np.ndarray,
    protocol: str, solver: str, val_fraction: float, seed: int, c: float, max_iter: int,
) -> dict:  # fmt: skip
    """One split + fit: the unit normal and the accuracies of :class:`BoundaryResult`."""
    k = len(pos)
    if protocol == "interfacegan":
        rows = np.concatenate([pos, neg[::-1]])  # InterFaceGAN's last K rows of the descending sort
        tr, va = split_per_class(k, val_fraction, seed)
    else:
        rows = np.concatenate([pos, neg])
        tr, va = split_indices(2 * k, val_fraction, seed)
    y = np.concatenate([np.ones(k, int), np.zeros(k, int)])
    clf = fit_linear_svm(x[rows[tr]], y[tr], c, max_iter, solver)
    coef = clf.coef_.reshape(-1)
    norm = float(np.linalg.norm(coef))
    if norm == 0:
        raise ValueError("the SVM found no direction (all-zero normal)")
    valid = np.isfinite(scores)
    # InterFaceGAN's remaining rule: the middle samples against the midpoint of the extremes.
    middle = np.ones(len(scores), bool)
    middle[~valid] = False
    middle[pos] = middle[neg] = False
    midpoint = float((np.nanmax(scores) + np.nanmin(scores)) / 2)
    lab_mid = (scores[middle] >= midpoint).astype(int)
    pred_mid = clf.predict(x[middle]) if middle.any() else np.zeros(0, int)
    hit = pred_mid == lab_mid
    recalls = [float(hit[lab_mid == v].mean()) for v in (0, 1) if (lab_mid == v).any()]
    # ganatlas's rule: every valid sample but the training rows, against the median.
    held = valid.copy()
    held[rows[tr]] = False
    thr = float(np.median(scores[valid]))
    lab_all = (scores[held] > thr).astype(int)
    nan = float("nan")
    return {
        "normal": coef / norm,
        "intercept": float(clf.intercept_[0]) / norm,
        "acc_train": float(np.mean(clf.predict(x[rows[tr]]) == y[tr])),
        "acc_val": float(np.mean(clf.predict(x[rows[va]]) == y[va])) if len(va) else nan,
        "acc_remaining": float(hit.mean()) if len(hit) else nan,
        "acc_remaining_balanced": float(np.mean(recalls)) if len(recalls) == 2 else nan,
        "acc_all": float(np.mean(clf.predict(x[held]) == lab_all)) if held.any() else nan,
        "remaining_pos": int(lab_mid.sum()),
        "remaining_neg": int(len(lab_mid) - lab_mid.sum()),
        "n_train": len(tr),
        "n_val": len(va),
        "n_remaining": int(middle.sum()),
        "midpoint": midpoint,
        "threshold": thr,
    }


def train_boundary(
    latents: np.ndarray,
    scores: np.ndarray,
    k: int | None = None,
    fraction: float | None = None,
    val_fraction: float = 0.3,
    seed: int = 0,
    c: float = 1.0,
    max_iter: int = 20000,
    protocol: str = "ganatlas",
    solver: str | None = None,
    repeats: int = 1,
) -> BoundaryResult:
    """Train the boundary of one attribute: ``latents: [N, D]``, ``scores: [N]`` (NaN = no face).

    ``fraction`` None takes the protocol's default (:data:`DEFAULT_FRACTION`), ``solver`` None
    the protocol's SVM (:data:`DEFAULT_SOLVER`). The normal is the fit with split ``seed``; the
    ``*_std`` / ``*_min`` / ``*_max`` fields and ``cos_min`` come from ``repeats`` split seeds.
    Latents are used as given: the caller rescales z for the ``interfacegan`` protocol.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"semantics.protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if repeats < 1:
        raise ValueError(f"semantics.split_repeats must be >= 1, got {repeats}")
    solver = solver or DEFAULT_SOLVER[protocol]
    if k is None and fraction is None:
        fraction = DEFAULT_FRACTION[protocol]
    x = np.asarray(latents, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or len(x) != len(scores):
        raise ValueError(f"latents must be [N, D] with N = {len(scores)} scores, got {x.shape}")
    pos, neg = select_extremes(scores, k, fraction)
    if int(len(pos) * (1 - val_fraction)) < 1:
        raise ValueError(
            f"K={len(pos)} per side (k={k}, fraction={fraction} of {int(np.isfinite(scores).sum())} "
            f"valid scores) leaves no training sample after the {val_fraction:g} validation "
            "share: raise semantics.samples, semantics.select.k or semantics.select.fraction"
        )
    fits = [
        _fit_split(x, scores, pos, neg, protocol, solver, val_fraction, seed + r, c, max_iter)
        for r in range(repeats)
    ]
    first = fits[0]

    def spread(key: str, fn) -> float:
        vals = np.array([f[key] for f in fits], float)
        vals = vals[np.isfinite(vals)]
        return float(fn(vals)) if len(vals) else float("nan")

    return BoundaryResult(
        **{k_: v for k_, v in first.items() if k_ != "normal"},
        normal=first["normal"].astype(np.float32).reshape(1, -1),
        protocol=protocol,
        solver=solver,
        n_samples=len(scores),
        n_valid=int(np.isfinite(scores).sum()),
        k=len(pos),
        repeats=repeats,
        acc_val_mean=spread("acc_val", np.mean),
        acc_val_std=spread("acc_val", np.std),
        acc_val_min=spread("acc_val", np.min),
        acc_val_max=spread("acc_val", np.max),
        acc_remaining_std=spread("acc_remaining", np.std),
        acc_all_std=spread("acc_all", np.std),
        cos_min=float(min(f["normal"] @ first["normal"] for f in fits)),
    )


def save_boundary(result: BoundaryResult, npy: str | Path, meta_json: str | Path, **meta) -> dict:
    """Write ``normal [1, D]`` float32 to ``npy`` and its metadata (plus ``meta``) to JSON."""
    npy, meta_json = Path(npy), Path(meta_json)
    npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, result.normal.astype(np.float32))
    info = {k: v for k, v in asdict(result).items() if k != "normal"}
    info = {**meta, **info, "dim": int(result.normal.shape[1])}
    meta_json.write_text(json.dumps(info, indent=2) + "\n")
    return info


def load_boundary(npy: str | Path) -> np.ndarray:
    """A boundary file's unit normal as ``[D]`` float64 (accepts [1, D] and [D])."""
    n = np.load(npy).astype(np.float64).reshape(-1)
    return n / np.linalg.norm(n)


def cosine_matrix(normals: dict[str, np.ndarray]) -> pd.DataFrame:
    """Cosine similarity between every pair of boundaries (``{name: [D] or [1, D]}``)."""
    names = list(normals)
    m = np.stack([np.asarray(normals[a], np.float64).reshape(-1) for a in names])
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    return pd.DataFrame(m @ m.T, index=names, columns=names)


def score_correlation(df: pd.DataFrame, attributes: list[str]) -> pd.DataFrame:
    """Pearson correlation of attribute scores over samples (pairwise finite values)."""
    return df[attributes].astype(float).corr()
