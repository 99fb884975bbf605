"""External boundaries given by path (``semantics.edit.boundary_files``), e.g. InterFaceGAN's.

InterFaceGAN publishes each boundary as a ``.npy`` holding a ``[1, dim]`` float32 unit normal
(``stylegan_ffhq_age_w_boundary.npy``; conditional variants are files of the same layout,
``..._age_c_gender_boundary.npy``). A W+ boundary may hold one unit row per ws row,
``[num_ws, w_dim]``. A boundary only means something on the network it was trained on; here it
is checked against the network's latent dimension and the space it is declared for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class BoundaryFileError(ValueError):
    """An external boundary file does not fit; the message names the config entry."""


def load_external_boundary(
    path: str | Path, space: str, z_dim: int, w_dim: int, num_ws: int, key: str = "boundary"
) -> np.ndarray:
    """The boundary at ``path`` for ``space`` (z, w or wp) as float32 ``[1, D]`` or, for wp,
    ``[num_ws, w_dim]``; ``[D]`` is accepted as ``[1, D]``. Rows must be finite unit vectors (to
    1e-3: InterFaceGAN saves float32 normals). ``key`` names the entry in error messages."""
    path = Path(path)
    if not path.is_file():
        raise BoundaryFileError(f"{key}: no file at {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise BoundaryFileError(f"{key}: {path} is not a .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
        raise BoundaryFileError(f"{key}: {path} must hold a numeric array, got {type(arr)}")
    dim = z_dim if space == "z" else w_dim
    rows = (1, num_ws) if space == "wp" else (1,)
    arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] not in rows:
        want = " or ".join(f"[{r}, {dim}]" for r in rows)
        hint = ""
        if space != "z" and arr.ndim == 2 and arr.shape[1] == z_dim != w_dim:
            hint = f"; its width is z_dim ({z_dim}): a Z boundary? set space: z"
        elif space == "z" and arr.ndim == 2 and arr.shape[1] == w_dim != z_dim:
            hint = f"; its width is w_dim ({w_dim}): a W boundary? set space: w"
        raise BoundaryFileError(
            f"{key}: {path} has shape {list(arr.shape)}, which does not fit space {space} of "
            f"this network (z_dim {z_dim}, w_dim {w_dim}, num_ws {num_ws}): expected {want}{hint}"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise BoundaryFileError(f"{key}: {path} holds non-finite values")
    norms = np.linalg.norm(arr, axis=1)
    if np.any(np.abs(norms - 1) > 1e-3):
        raise BoundaryFileError(
            f"{key}: {path} rows have norms {np.round(norms, 4).tolist()}; a boundary is a unit "
            "normal (InterFaceGAN saves a / |a|): normalise it first"
        )
    return (arr / norms[:, None]).astype(np.float32)
