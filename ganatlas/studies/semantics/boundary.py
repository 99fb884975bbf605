"""InterFaceGAN boundaries: top/bottom selection, fixed-seed split, linear SVM, accuracies.

Accuracies: ``acc_val`` on the held-out 30% of the selected extremes; ``acc_all`` on every valid
sample (NaN scores dropped) labelled positive where its score is above the median score.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd


def select_extremes(
    scores: np.ndarray, k: int | None = None, fraction: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``scores: [N]``) of the K highest and K lowest finite scores.

    K is ``k`` (capped at half the finite scores) or ``int(fraction * n_finite)``. Ties keep
    index order (stable sort), so the selection is deterministic. Returns (positive, negative),
    each ``[K]`` int64.
    """
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(scores))
    n = len(valid)
    kk = min(int(k), n // 2) if k is not None else int(float(fraction) * n)
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


def fit_linear_svm(x: np.ndarray, y: np.ndarray, c: float = 1.0, max_iter: int = 20000):
    """A fitted scikit-learn LinearSVC on ``x: [M, D]``, ``y: [M]`` in {0, 1}.

    ``random_state`` is fixed: liblinear's dual solver shuffles the samples, and without a seed it
    draws one from NumPy's global generator, so the same data gave boundaries that differed by
    ~1e-5 from run to run.
    """
    from sklearn.svm import LinearSVC

    clf = LinearSVC(C=c, max_iter=max_iter, dual=bool(x.shape[0] <= x.shape[1]), random_state=0)
    return clf.fit(x, y)


@dataclass
class BoundaryResult:
    """A trained boundary: ``normal: [1, D]`` unit float32 (InterFaceGAN layout) and its numbers."""

    normal: np.ndarray
    intercept: float  # of the unit normal: decision = latent @ normal.T + intercept
    acc_val: float
    acc_all: float
    acc_train: float
    n_samples: int  # all samples given
    n_valid: int  # with a finite score
    k: int
    n_train: int
    n_val: int
    threshold: float  # score threshold of the all-sample labels (median)


def train_boundary(
    latents: np.ndarray,
    scores: np.ndarray,
    k: int | None = None,
    fraction: float | None = 0.25,
    val_fraction: float = 0.3,
    seed: int = 0,
    c: float = 1.0,
    max_iter: int = 20000,
) -> BoundaryResult:
    """Train the boundary of one attribute: ``latents: [N, D]``, ``scores: [N]`` (NaN = no face).

    The selected samples are stacked positives (highest score first) then negatives (lowest
    first); ``split_indices(2K, val_fraction, seed)`` cuts these rows into train and validation.
    The SVM is fitted on the training rows only.
    """
    latents = np.asarray(latents, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = select_extremes(scores, k, fraction)
    x = np.concatenate([latents[pos], latents[neg]])
    y = np.concatenate([np.ones(len(pos), int), np.zeros(len(neg), int)])
    tr, va = split_indices(len(x), val_fraction, seed)
    clf = fit_linear_svm(x[tr], y[tr], c, max_iter)
    coef = clf.coef_.reshape(-1)
    norm = float(np.linalg.norm(coef))
    if norm == 0:
        raise ValueError("the SVM found no direction (all-zero normal)")
    valid = np.isfinite(scores)
    thr = float(np.median(scores[valid]))
    lab_all = (scores[valid] > thr).astype(int)
    pred_all = clf.predict(latents[valid])
    return BoundaryResult(
        normal=(coef / norm).astype(np.float32).reshape(1, -1),
        intercept=float(clf.intercept_[0]) / norm,
        acc_val=float(np.mean(clf.predict(x[va]) == y[va])) if len(va) else float("nan"),
        acc_all=float(np.mean(pred_all == lab_all)),
        acc_train=float(np.mean(clf.predict(x[tr]) == y[tr])),
        n_samples=len(scores),
        n_valid=int(valid.sum()),
        k=len(pos),
        n_train=len(tr),
        n_val=len(va),
        threshold=thr,
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
