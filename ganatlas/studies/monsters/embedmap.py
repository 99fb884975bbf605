"""The embedding map: 2-D projections, identity drift along walks, identity clusters per walk.

Memory: everything works on one ``[N, D]`` float32 matrix (100,000 x 512 is 205 MB); t-SNE and
UMAP see at most ``max_points`` rows (a seeded subsample), HDBSCAN one walk at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def project_2d(emb: np.ndarray, method: str, max_points: int, seed: int = 0) -> np.ndarray:
    """``[N, 2]`` float64 coordinates of ``emb: [N, D]`` (NaN rows: left out of a subsample).

    pca: every row. tsne / umap: a seeded subsample of at most ``max_points`` rows (exactly
    ``max_points``: all of them), the others NaN; t-SNE first reduces it to 50 principal
    components (when it has more dims and rows), perplexity ``(n - 1) / 3`` clipped to [2, 30].
    Fewer than 3 rows: all zeros.
    """
    from sklearn.decomposition import PCA

    emb = np.asarray(emb, np.float32)
    n = len(emb)
    out = np.full((n, 2), np.nan)
    if n < 3:
        out[:, :] = 0.0 if n else out
        return out
    if method == "pca":
        out[:] = PCA(n_components=2, random_state=seed).fit_transform(emb)
        return out
    keep = np.arange(n)
    if n > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    x = emb[keep]
    if method == "tsne":
        from sklearn.manifold import TSNE

        if x.shape[1] > 50 and len(x) > 50:
            x = PCA(n_components=50, random_state=seed).fit_transform(x)
        perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
        out[keep] = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    elif method == "umap":
        try:
            import umap
        except ImportError:
            raise ValueError(
                "monsters.map.method 'umap' needs umap-learn (pip install umap-learn); "
                "use tsne or pca"
            ) from None
        out[keep] = umap.UMAP(n_components=2, random_state=seed).fit_transform(x)
    else:
        raise ValueError(f"monsters.map.method must be pca, tsne or umap, got {method!r}")
    return out


def identity_drift(walk: pd.DataFrame, emb: np.ndarray) -> pd.DataFrame:
    """Per walk: each detected face's distance to the walk's first detected face.

    walk: detected walk rows (columns seed, step) aligned with ``emb: [N, D]`` by position (its
    index is ignored). Returns seed,
    step, drift (Euclidean), sorted by seed and step.
    """
    rows = []
    for seed, part in walk.reset_index(drop=True).groupby("seed", sort=True):
        idx = part.sort_values("step").index.to_numpy()
        e = emb[idx].astype(np.float64)
        d = np.linalg.norm(e - e[0], axis=1)
        rows.append(
            pd.DataFrame({"seed": int(seed), "step": part.loc[idx, "step"].to_numpy(), "drift": d})
        )
    cols = ["seed", "step", "drift"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def identity_clusters(
    walk: pd.DataFrame, emb: np.ndarray, min_cluster_size: int = 5
) -> tuple[np.ndarray, pd.DataFrame]:
    """HDBSCAN (scikit-learn; one cluster allowed: a walk may keep one identity) on each walk's
    embeddings: distinct identities per walk.

    Returns (label [N] per row, -1 = noise; a table per seed: faces, identities (clusters),
    noise, largest cluster share; sorted by seed). Rows align with ``emb`` by position. Walks
    with fewer faces than ``min_cluster_size`` get no cluster.
    """
    from sklearn.cluster import HDBSCAN

    labels = np.full(len(walk), -1, np.int64)
    rows = []
    for seed, part in walk.reset_index(drop=True).groupby("seed", sort=True):
        idx = part.index.to_numpy()
        if len(idx) >= max(min_cluster_size, 2):
            lab = HDBSCAN(
                min_cluster_size=min_cluster_size, allow_single_cluster=True, copy=True
            ).fit_predict(emb[idx].astype(np.float64))
        else:
            lab = np.full(len(idx), -1)
        labels[idx] = lab
        k = int(lab.max() + 1) if len(lab) else 0
        sizes = np.bincount(lab[lab >= 0]) if k else np.zeros(0, int)
        rows.append({
            "seed": int(seed), "faces": int(len(idx)), "identities": k,
            "noise": int(np.sum(lab < 0)),
            "largest_share": float(sizes.max() / len(idx)) if k else float("nan"),
        })  # fmt: skip
    cols = ["seed", "faces", "identities", "noise", "largest_share"]
    return labels, pd.DataFrame(rows, columns=cols)
