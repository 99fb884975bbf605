"""Conditional directions: a primary boundary made orthogonal to one or several conditions."""

from __future__ import annotations

import numpy as np


def project_orthogonal(primary: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """Unit ``[D]`` float64: ``primary: [D]`` minus its least-squares projection on the span of
    ``conditions: [M, D]`` (Gram-Schmidt done in one solve), then a second pass for round-off.

    Raises ValueError when the primary lies in the conditions' span.
    """
    p = np.asarray(primary, np.float64).reshape(-1)
    c = np.asarray(conditions, np.float64).reshape(-1, p.shape[0])
    if c.shape[0] >= p.shape[0]:
        raise ValueError(f"{c.shape[0]} conditions leave no direction in {p.shape[0]} dimensions")
    q, _ = np.linalg.qr(c.T)  # [D, M] orthonormal basis of the conditions' span
    r = p - q @ (q.T @ p)
    r = r - q @ (q.T @ r)  # re-orthogonalise (removes round-off)
    norm = np.linalg.norm(r)
    if norm < 1e-8 * np.linalg.norm(p):
        raise ValueError("the primary direction lies in the span of the conditions")
    return r / norm


def cosines(direction: np.ndarray, others: dict[str, np.ndarray]) -> dict[str, float]:
    """Cosine similarity of ``direction: [D]`` with each named ``[D]`` vector."""
    d = np.asarray(direction, np.float64).reshape(-1)
    d = d / np.linalg.norm(d)
    out = {}
    for name, v in others.items():
        v = np.asarray(v, np.float64).reshape(-1)
        out[name] = float(d @ v / np.linalg.norm(v))
    return out


def conditional_rows(
    space: str, primary: str, conditions: list[str], normals: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[dict]]:
    """The conditional direction of ``primary`` given ``conditions`` and one row per condition
    (space, primary, conditions, condition, cos_before, cos_after, cos_with_primary)."""
    p = normals[primary]
    cond = {c: normals[c] for c in conditions}
    d = project_orthogonal(p, np.stack([np.reshape(v, -1) for v in cond.values()]))
    before, after = cosines(p, cond), cosines(d, cond)
    keep = cosines(d, {primary: p})[primary]
    label = "|".join(conditions)
    rows = [
        {
            "space": space,
            "primary": primary,
            "conditions": label,
            "condition": c,
            "cos_before": before[c],
            "cos_after": after[c],
            "cos_with_primary": keep,
        }
        for c in conditions
    ]
    return d, rows
