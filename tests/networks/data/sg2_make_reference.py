"""Recipe for tests/networks/data/sg2_reference.npz: StyleGAN2 outputs of NVIDIA's implementation.

The tests rebuild the same networks with ganatlas (same kwargs, weights from ``fill_weights``)
and compare mapping outputs and images at 1e-4. To regenerate, put a runnable copy of NVIDIA's
``training/networks_stylegan2.py`` with its ``torch_utils``/``dnnlib`` (reference CPU ops) in a
folder outside this repository and run::

    python tests/networks/data/sg2_make_reference.py /path/to/that/folder

Nothing of NVIDIA's code is in this repository; only the numbers it produced are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

BATCH = 3

# name -> (Generator kwargs in the stylegan3-repo layout, truncation (psi, cutoff))
CONFIGS: dict[str, tuple[dict, tuple[float, int | None]]] = {
    "orig_c3": (
        dict(
            z_dim=16, c_dim=3, w_dim=16, img_resolution=16, img_channels=3,
            mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=32,
            architecture="orig", conv_clamp=2, num_fp16_res=0,
        ),
        (0.7, 2),
    ),
    "skip_fp16": (
        dict(
            z_dim=12, c_dim=0, w_dim=16, img_resolution=32, img_channels=3,
            mapping_kwargs=dict(num_layers=3), channel_base=512, channel_max=32,
            architecture="skip", num_fp16_res=2, conv_clamp=256,
        ),
        (0.5, None),
    ),
    "resnet_c2": (
        dict(
            z_dim=8, c_dim=2, w_dim=16, img_resolution=16, img_channels=1,
            mapping_kwargs=dict(num_layers=2, embed_features=8, layer_features=24,
                                lr_multiplier=0.05),
            channel_base=128, channel_max=16, architecture="resnet", conv_clamp=None,
        ),
        (0.8, 3),
    ),
    # legacy.py-style kwargs: no noise, a 3-tap filter, other activations
    "legacy_relu": (
        dict(
            z_dim=8, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
            mapping_kwargs=dict(num_layers=2, embed_features=None, layer_features=None,
                                activation="swish", lr_multiplier=0.01, w_avg_beta=0.995),
            channel_base=128, channel_max=16, num_fp16_res=0, conv_clamp=None,
            architecture="skip", resample_filter=[1, 2, 1], use_noise=False, activation="relu",
        ),
        (0.6, None),
    ),
}  # fmt: skip


def fill_weights(module: torch.nn.Module, seed: int) -> None:
    """Deterministic weights: one numpy default_rng(seed), state-dict keys in sorted order.

    Filters (``resample_filter``) keep their values; weights/const/noise_const ~ N(0, 1),
    biases ~ 0.1 N(0, 1) (affine biases 1 + that), noise_strength ~ 0.3 N(0, 1),
    w_avg ~ 0.5 N(0, 1).
    """
    rng = np.random.default_rng(seed)
    sd = module.state_dict()
    with torch.no_grad():
        for key in sorted(sd):
            t = sd[key]
            if key.endswith("resample_filter"):
                continue
            v = rng.standard_normal(tuple(t.shape)).astype(np.float32)
            if key.endswith("affine.bias"):
                v = 1 + 0.1 * v
            elif key.endswith("bias"):
                v = 0.1 * v
            elif key.endswith("noise_strength"):
                v = 0.3 * v
            elif key.endswith("w_avg"):
                v = 0.5 * v
            t.copy_(torch.from_numpy(np.asarray(v, dtype=np.float32)))


def inputs(cfg: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``z: [BATCH, z_dim]`` and one-hot-ish ``c: [BATCH, c_dim]`` from default_rng(seed + 1000)."""
    rng = np.random.default_rng(seed + 1000)
    z = torch.from_numpy(rng.standard_normal((BATCH, cfg["z_dim"])).astype(np.float32))
    c = torch.from_numpy(rng.standard_normal((BATCH, cfg["c_dim"])).astype(np.float32))
    return z, c


def outputs(G: torch.nn.Module, cfg: dict, trunc: tuple, seed: int) -> dict[str, np.ndarray]:
    """Mapping and images of ``G`` for the config's inputs (noise_mode random seeded by 123)."""
    z, c = inputs(cfg, seed)
    out = {"z": z.numpy(), "c": c.numpy()}
    with torch.no_grad():
        ws = G.mapping(z, c)
        out["ws"] = ws.numpy()
        out["ws_trunc"] = G.mapping(
            z, c, truncation_psi=trunc[0], truncation_cutoff=trunc[1]
        ).numpy()
        for mode in ("const", "none", "random"):
            torch.manual_seed(123)
            out[f"img_{mode}"] = G.synthesis(ws, noise_mode=mode).numpy()
        torch.manual_seed(123)
        out["img_trunc_random"] = G(z, c, truncation_psi=trunc[0], truncation_cutoff=trunc[1],
                                    noise_mode="random").numpy()  # fmt: skip
    return out


def main(oracle: str) -> None:
    sys.path.insert(0, oracle)
    from training.networks_stylegan2 import Generator  # the reference, outside the repo

    arrays = {}
    for i, (name, (cfg, trunc)) in enumerate(CONFIGS.items()):
        torch.manual_seed(0)
        G = Generator(**cfg).eval()
        fill_weights(G, seed=i)
        for k, v in outputs(G, cfg, trunc, seed=i).items():
            arrays[f"{name}/{k}"] = v
        sd = G.state_dict()
        arrays[f"{name}/state_keys"] = np.array(list(sd))
        arrays[f"{name}/state_shapes"] = np.array([json.dumps(list(t.shape)) for t in sd.values()])
    dest = Path(__file__).with_name("sg2_reference.npz")
    np.savez_compressed(dest, **arrays)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
