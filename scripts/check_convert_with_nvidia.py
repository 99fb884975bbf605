"""Check ``ganatlas convert`` on a real TensorFlow-era StyleGAN2 pickle against NVIDIA's own code.

Needs a checkout of NVlabs/stylegan2-ada-pytorch (anywhere outside this repository) and PyTorch;
runs on CPU by default (their custom ops fall back to reference implementations there)::

    python scripts/check_convert_with_nvidia.py stylegan2-ffhq-config-f.pkl ~/src/stylegan2-ada-pytorch \
        [--seeds 0-3] [--trunc 0.7] [--device cpu]

It converts the file with ganatlas into a temporary PyTorch pickle, then compares, for the seeds
(z drawn as NVIDIA's generate.py draws it; class 0 for conditional networks; noise 'const'):

- NVIDIA's ``legacy.load_network_pkl`` on the TF file (their converter) vs NVIDIA's
  ``legacy.load_network_pkl`` on the converted file: G_ema and G images, D logits on the G_ema
  images (the whole batch in one call, fp32), and the networks' ``init_kwargs``;
- ganatlas on the converted file vs NVIDIA on the TF file: the same images and logits.

Prints the largest absolute differences and exits 1 when one exceeds ``--tol`` (1e-4). Never run
by the tests (it needs NVIDIA's code and a downloaded pickle).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _run(G, D, seeds: list[int], psi: float, device: str) -> dict[str, np.ndarray]:
    """G_ema images ``[N, C, R, R]`` and D logits ``[N, 1]`` for ``seeds`` (z as generate.py)."""
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in seeds]))
    z = z.to(device=device, dtype=torch.float32)
    c = torch.zeros([len(seeds), G.c_dim], device=device)
    if G.c_dim:
        c[:, 0] = 1
    with torch.no_grad():
        img = G(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True)
        logits = D(img, c, force_fp32=True)
    return {"img": img.cpu().numpy(), "logits": logits.cpu().numpy()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="the TF-era pickle (G, D, Gs)")
    p.add_argument("nvidia", help="path of a stylegan2-ada-pytorch checkout")
    p.add_argument("--seeds", type=_seeds, default=_seeds("0-3"))
    p.add_argument("--trunc", type=float, default=0.7)
    p.add_argument("--device", default="cpu")
    p.add_argument("--tol", type=float, default=1e-4)
    args = p.parse_args(argv)

    sys.path.insert(0, str(Path(args.nvidia).resolve()))
    import legacy  # NVIDIA's loader and converter

    from ganatlas.networks import load_network
    from ganatlas.networks.stylegan2_discriminator import load_discriminator
    from ganatlas.networks.tf_pickle import convert_tf_pickle

    dev = args.device
    with tempfile.TemporaryDirectory() as tmp:
        converted = convert_tf_pickle(args.source, Path(tmp) / "converted.pkl")
        with open(args.source, "rb") as fh:
            nv_tf = legacy.load_network_pkl(fh)
        with open(converted, "rb") as fh:
            nv_conv = legacy.load_network_pkl(fh)
        ours_G = load_network(converted, device=dev)
        ours_D = load_discriminator(converted, device=dev)
    for data in (nv_tf, nv_conv):
        for key in ("G", "D", "G_ema"):
            data[key] = data[key].eval().requires_grad_(False).to(dev)
    runs = {
        "NVIDIA on the TF file": _run(nv_tf["G_ema"], nv_tf["D"], args.seeds, args.trunc, dev),
        "NVIDIA on the converted file": _run(
            nv_conv["G_ema"], nv_conv["D"], args.seeds, args.trunc, dev
        ),
        "ganatlas on the converted file": _run(ours_G, ours_D, args.seeds, args.trunc, dev),
    }
    ref = runs["NVIDIA on the TF file"]
    worst = 0.0
    for name, out in list(runs.items())[1:]:
        d_img = float(np.abs(out["img"] - ref["img"]).max())
        d_log = float(np.abs(out["logits"] - ref["logits"]).max())
        worst = max(worst, d_img, d_log)
        print(f"{name}: G_ema images max |diff| {d_img:.2e}, D logits max |diff| {d_log:.2e}")
    same_kwargs = all(
        json.dumps(nv_conv[k].init_kwargs, sort_keys=True)
        == json.dumps(nv_tf[k].init_kwargs, sort_keys=True)
        for k in ("G", "D", "G_ema")
    )
    print(f"init_kwargs of G, D, G_ema equal to NVIDIA's converter's: {same_kwargs}")
    print(f"D logits (NVIDIA, TF file): {', '.join(f'{v:.4f}' for v in ref['logits'].ravel())}")
    ok = worst <= args.tol and same_kwargs
    print("OK" if ok else f"MISMATCH (tolerance {args.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
