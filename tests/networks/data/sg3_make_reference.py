"""Recipe for tests/networks/data/sg3_reference.npz: StyleGAN3 outputs of NVIDIA's implementation.

The tests rebuild the same networks with ganatlas (same kwargs, weights from ``fill_weights``)
and compare mapping outputs and images at 1e-4. To regenerate, put a runnable copy of NVIDIA's
``training/networks_stylegan3.py`` with its ``torch_utils``/``dnnlib`` (CPU reference ops:
``filtered_lrelu._filtered_lrelu_ref``, ``upfirdn2d._upfirdn2d_ref``, ``bias_act._bias_act_ref``)
in a folder outside this repository and run::

    python tests/networks/data/sg3_make_reference.py /path/to/that/folder

Nothing of NVIDIA's code is in this repository; only the numbers it produced are.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch

BATCH = 2

# name -> (Generator kwargs, truncation (psi, cutoff), user transform (angle deg, tx, ty) or None)
CONFIGS: dict[str, tuple[dict, tuple[float, int | None], tuple[float, float, float] | None]] = {
    "t_c0": (
        dict(
            z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3,
            channel_base=512, channel_max=32, num_layers=6, conv_clamp=4,
        ),
        (0.7, None),
        None,
    ),
    "t_c3": (
        dict(
            z_dim=12, c_dim=3, w_dim=16, img_resolution=32, img_channels=3,
            mapping_kwargs=dict(num_layers=3, lr_multiplier=0.05), channel_base=384,
            channel_max=24, num_layers=5, num_critical=1, margin_size=6, output_scale=0.5,
            num_fp16_res=2, filter_size=4, conv_clamp=None,
        ),
        (0.5, 3),
        (20.0, 0.1, -0.2),
    ),
    "r_c2": (
        dict(
            z_dim=8, c_dim=2, w_dim=16, img_resolution=32, img_channels=3,
            channel_base=1024, channel_max=32, num_layers=6, margin_size=4,
            conv_kernel=1, use_radial_filters=True,
        ),
        (0.6, 4),
        (-35.0, -0.05, 0.15),
    ),
    "r_16": (
        dict(
            z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=1,
            channel_base=256, channel_max=16, num_layers=4, num_critical=1, first_cutoff=1.5,
            conv_kernel=1, use_radial_filters=True, lrelu_upsampling=3, conv_clamp=256,
        ),
        (0.9, 2),
        None,
    ),
}  # fmt: skip


def fill_weights(module: torch.nn.Module, seed: int) -> None:
    """Deterministic weights: one numpy default_rng(seed), state-dict keys in sorted order.

    Designed filters (``up_filter``/``down_filter``) and ``transform`` keep their values; every
    other tensor v ~ N(0, 1) then: affine biases 1 + 0.1 v, other biases 0.1 v, magnitude_ema
    0.5 + |v|, w_avg 0.5 v, freqs 2 v, phases 0.3 v, weights v.
    """
    rng = np.random.default_rng(seed)
    sd = module.state_dict()
    with torch.no_grad():
        for key in sorted(sd):
            t = sd[key]
            if key.endswith(("up_filter", "down_filter", "transform")):
                continue
            v = rng.standard_normal(tuple(t.shape)).astype(np.float32)
            if key.endswith("affine.bias"):
                v = 1 + 0.1 * v
            elif key.endswith("bias"):
                v = 0.1 * v
            elif key.endswith("magnitude_ema"):
                v = 0.5 + np.abs(v)
            elif key.endswith("w_avg"):
                v = 0.5 * v
            elif key.endswith("freqs"):
                v = 2 * v
            elif key.endswith("phases"):
                v = 0.3 * v
            t.copy_(torch.from_numpy(np.asarray(v, dtype=np.float32)))


def user_transform(angle_deg: float, tx: float, ty: float) -> torch.Tensor:
    """``[3, 3]``: the inverse of rotating by ``angle_deg`` and translating by (tx, ty), as in
    NVIDIA's gen_images.py ``make_transform``."""
    s, c = np.sin(np.radians(angle_deg)), np.cos(np.radians(angle_deg))
    m = np.array([[c, s, tx], [-s, c, ty], [0, 0, 1]], dtype=np.float64)
    return torch.from_numpy(np.linalg.inv(m).astype(np.float32))


def setup(G: torch.nn.Module, name: str, seed: int) -> None:
    """Fill the weights of ``G`` for config ``name`` and set its user transform."""
    fill_weights(G, seed)
    tr = CONFIGS[name][2]
    if tr is not None:
        with torch.no_grad():
            G.synthesis.input.transform.copy_(user_transform(*tr))


def inputs(cfg: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``z: [BATCH, z_dim]`` and ``c: [BATCH, c_dim]`` from default_rng(seed + 1000)."""
    rng = np.random.default_rng(seed + 1000)
    z = torch.from_numpy(rng.standard_normal((BATCH, cfg["z_dim"])).astype(np.float32))
    c = torch.from_numpy(rng.standard_normal((BATCH, cfg["c_dim"])).astype(np.float32))
    return z, c


def probe(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Fixed weights ``[N, C, H, W]`` for the scalar ``sum(img * probe)`` whose gradient is
    stored: default_rng(seed + 2000)."""
    rng = np.random.default_rng(seed + 2000)
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


def outputs(G: torch.nn.Module, cfg: dict, trunc: tuple, seed: int) -> dict[str, np.ndarray]:
    """Mapping outputs, images, the EMA buffers after one ``update_emas=True`` call, and
    ``ws_grad``: d sum(img * probe) / d ws (what projection into W optimises through)."""
    z, c = inputs(cfg, seed)
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        ws = G.mapping(z, c)
        out["ws"] = ws.numpy()
        out["ws_trunc"] = G.mapping(
            z, c, truncation_psi=trunc[0], truncation_cutoff=trunc[1]
        ).numpy()
        out["img"] = G.synthesis(ws, noise_mode="const").numpy()
        out["img_trunc"] = G(z, c, truncation_psi=trunc[0], truncation_cutoff=trunc[1]).numpy()
        g2 = copy.deepcopy(G)
        out["img_update_emas"] = g2(z, c, update_emas=True).numpy()
        out["w_avg_after"] = g2.mapping.w_avg.numpy()
        out["magnitude_ema_after"] = np.array(
            [getattr(g2.synthesis, n).magnitude_ema.item() for n in g2.synthesis.layer_names],
            dtype=np.float32,
        )
    ws = torch.from_numpy(out["ws"]).requires_grad_(True)
    img = G.synthesis(ws, noise_mode="const")
    (img * probe(tuple(img.shape), seed)).sum().backward()
    out["ws_grad"] = ws.grad.numpy()
    return out


def main(oracle: str) -> None:
    sys.path.insert(0, oracle)
    from training.networks_stylegan3 import Generator  # the reference, outside the repo

    arrays: dict[str, np.ndarray] = {}
    for i, (name, (cfg, trunc, _)) in enumerate(CONFIGS.items()):
        torch.manual_seed(0)
        G = Generator(**cfg).eval()
        setup(G, name, seed=i)
        for k, v in outputs(G, cfg, trunc, seed=i).items():
            arrays[f"{name}/{k}"] = v
        sd = G.state_dict()
        arrays[f"{name}/state_keys"] = np.array(list(sd))
        arrays[f"{name}/state_shapes"] = np.array([json.dumps(list(t.shape)) for t in sd.values()])
        arrays[f"{name}/layer_names"] = np.array(G.synthesis.layer_names)
        for key, t in sd.items():
            if key.endswith(("up_filter", "down_filter")):
                arrays[f"{name}/filter/{key}"] = t.numpy()
        arrays[f"{name}/padding"] = np.array(
            [getattr(G.synthesis, n).padding for n in G.synthesis.layer_names], dtype=np.int64
        )
    dest = Path(__file__).with_name("sg3_reference.npz")
    np.savez_compressed(dest, **arrays)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
