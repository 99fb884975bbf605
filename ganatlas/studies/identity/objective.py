"""Search spaces (coordinates -> latent -> ws) and the objective ``x -> distance to the target``.

- :class:`ZSubspace`: ``k`` chosen dimensions of Z, the rest 0 (the source's recipe); the latent
  recorded is ``z: [z_dim]``.
- :class:`WPCASubspace`: ``w = mean + (x * std) @ components`` over the top ``k`` principal
  directions of sampled w (x in standard deviations); the latent recorded is ``w: [w_dim]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ganatlas.networks.base import broadcast_w


@dataclass
class ZSubspace:
    """dims: [k] indices of Z searched; z_dim: the full size."""

    dims: list[int]
    z_dim: int
    space: str = "z"

    def latent(self, x: np.ndarray) -> np.ndarray:
        z = np.zeros(self.z_dim)
        z[self.dims] = np.asarray(x, dtype=np.float64)
        return z

    def ws(self, g: torch.nn.Module, latent: np.ndarray, device: str = "cpu") -> torch.Tensor:
        """``[1, num_ws, w_dim]`` of a recorded latent (z mapped, no truncation)."""
        z = torch.as_tensor(np.asarray(latent), dtype=torch.float32, device=device)[None]
        c = torch.zeros(1, g.c_dim, device=device)
        return g.mapping(z, c)


@dataclass
class WPCASubspace:
    """mean: [w_dim]; components: [k, w_dim] orthonormal rows; std: [k] per-component spread."""

    mean: np.ndarray
    components: np.ndarray
    std: np.ndarray
    space: str = "w"

    def latent(self, x: np.ndarray) -> np.ndarray:
        return self.mean + (np.asarray(x, dtype=np.float64) * self.std) @ self.components

    def ws(self, g: torch.nn.Module, latent: np.ndarray, device: str = "cpu") -> torch.Tensor:
        w = torch.as_tensor(np.asarray(latent), dtype=torch.float32, device=device)[None]
        return broadcast_w(w, g.num_ws)

    def coords(self, latent: np.ndarray) -> np.ndarray:
        """The coordinates ``[k]`` of the projection of ``latent: [w_dim]`` on the subspace."""
        return ((np.asarray(latent) - self.mean) @ self.components.T) / self.std


@torch.no_grad()
def pca_subspace(
    g: torch.nn.Module, k: int, samples: int, seed: int, device: str = "cpu"
) -> WPCASubspace:
    """Top ``k`` principal directions of ``samples`` w mapped from seeded z."""
    from ganatlas.latent import sample_z

    z = sample_z(samples, g.z_dim, seed).to(device)
    c = torch.zeros(samples, g.c_dim, device=device)
    w = g.mapping(z, c)[:, 0].double().cpu().numpy()
    if k > min(w.shape):
        raise ValueError(
            f"identity.search.cma.dim {k} exceeds what {samples} samples of {w.shape[1]}-d w span"
        )
    mean = w.mean(0)
    _, s, vt = np.linalg.svd(w - mean, full_matrices=False)
    std = s[:k] / np.sqrt(samples - 1)
    return WPCASubspace(mean, vt[:k], std)


def render_rgb(g: torch.nn.Module, ws: torch.Tensor, noise_mode: str = "const") -> np.ndarray:
    """``ws: [1, num_ws, w_dim]`` -> uint8 RGB ``[H, W, 3]``."""
    from ganatlas.networks.base import to_uint8

    with torch.no_grad():
        return to_uint8(g.synthesis(ws, noise_mode=noise_mode).float())[0].cpu().numpy()


def make_objective(
    g: torch.nn.Module,
    sub: ZSubspace | WPCASubspace,
    embed: Callable[[np.ndarray], tuple[np.ndarray | None, int]],
    target: np.ndarray,
    distance: Callable[[np.ndarray, np.ndarray], float],
    no_face_distance: float,
    device: str = "cpu",
    noise_mode: str = "const",
) -> Callable[[np.ndarray], tuple[float, np.ndarray, dict]]:
    """``x: [k] -> (distance, latent, {"faces": n})``: render the face of ``sub.latent(x)``, embed
    its largest face with ``embed(img_rgb) -> (vector | None, n_faces)`` and measure the distance
    to ``target: [D]``; an image without a face scores ``no_face_distance``."""

    def objective(x: np.ndarray) -> tuple[float, np.ndarray, dict]:
        lat = sub.latent(x)
        vec, n = embed(render_rgb(g, sub.ws(g, lat, device), noise_mode))
        d = no_face_distance if vec is None else float(distance(vec, target))
        return d, lat, {"faces": int(n)}

    return objective


def make_grad_objective(
    g: torch.nn.Module,
    sub: WPCASubspace,
    module: Callable[[torch.Tensor], torch.Tensor],
    target: np.ndarray,
    kind: str = "euclidean",
    device: str = "cpu",
    noise_mode: str = "const",
) -> Callable[[np.ndarray], tuple[float, np.ndarray, dict, np.ndarray]]:
    """``x -> (distance, latent, extra, grad [k])`` through a differentiable embedder
    ``module(img [1, 3, H, W] in [-1, 1]) -> [1, D]``; ``kind``: euclidean or cosine distance
    to ``target``."""
    comp = torch.as_tensor(sub.components * sub.std[:, None], dtype=torch.float32, device=device)
    mean = torch.as_tensor(sub.mean, dtype=torch.float32, device=device)
    tgt = torch.as_tensor(np.asarray(target), dtype=torch.float32, device=device)

    def objective(x: np.ndarray):
        xt = torch.tensor(np.asarray(x), dtype=torch.float32, device=device, requires_grad=True)
        w = mean + xt @ comp
        img = g.synthesis(broadcast_w(w[None], g.num_ws), noise_mode=noise_mode)
        e = module(img)[0]
        if kind == "cosine":
            d = 1 - torch.dot(e, tgt) / (
                torch.linalg.vector_norm(e) * torch.linalg.vector_norm(tgt)
            )
        else:
            d = torch.linalg.vector_norm(e - tgt)
        d.backward()
        lat = w.detach().double().cpu().numpy()
        return float(d.detach()), lat, {"faces": 1}, xt.grad.double().cpu().numpy()

    return objective
