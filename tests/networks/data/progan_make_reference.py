"""Recipe for tests/networks/data/progan_reference.npz: Progressive GAN images of NVIDIA's own
TensorFlow implementation (``networks.py`` ``G_paper`` with its ``tfutil.Network``, from the
progressive_growing_of_gans repository).

For each small config in ``CONFIGS`` the recipe builds ``G_paper`` with ``tfutil.Network``,
checks that its variables (names, order, shapes) are exactly those ``variable_shapes`` lists,
sets them to ``random_variables(config, seed)`` and records the images at each level of detail
in ``lods`` (the network's ``lod`` variable set before each run). The tests rebuild the same
networks with ganatlas from the same variables and compare at 1e-4.

Only numpy is imported at module level (the tests use this file's helpers). To regenerate
(TensorFlow 2.x with tf.compat.v1 and Python <= 3.11, whose ``imp`` module NVIDIA's tfutil
imports; their code is used unmodified, from a folder outside this repository)::

    python -m venv /tmp/tfref && /tmp/tfref/bin/pip install tensorflow-cpu numpy
    git clone https://github.com/tkarras/progressive_growing_of_gans /tmp/pggan
    /tmp/tfref/bin/python tests/networks/data/progan_make_reference.py /tmp/pggan

The stored numbers were produced with tensorflow-cpu 2.21.0, numpy 2.4.6 and
tkarras/progressive_growing_of_gans at commit 2504c3f3cb98ca58751610ad61fa1097313152bd. Nothing
of NVIDIA's code is in this repository; only the numbers it produced are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

BATCH = 3

# name -> G_paper kwargs (NVIDIA's names) and the levels of detail to render.
CONFIGS: dict[str, dict] = {
    "fused_c2_16": dict(
        kwargs=dict(num_channels=3, resolution=16, label_size=2, fmap_base=64, fmap_max=16,
                    latent_size=8),
        lods=(0.0, 0.6, 1.0, 1.5, 2.0),
    ),
    "nearest_relu_32": dict(
        kwargs=dict(num_channels=1, resolution=32, label_size=0, fmap_base=128, fmap_max=32,
                    fused_scale=False, use_leakyrelu=False, normalize_latents=False),
        lods=(0.0, 0.3, 2.5, 3.0),
    ),
    "no_wscale_8": dict(
        kwargs=dict(num_channels=3, resolution=8, label_size=1, fmap_base=32, fmap_max=8,
                    fmap_decay=0.5, latent_size=6, use_wscale=False, use_pixelnorm=False,
                    pixelnorm_epsilon=1e-4),
        lods=(0.0, 0.5),
    ),
}  # fmt: skip

DEFAULTS = dict(
    num_channels=1, resolution=32, label_size=0, fmap_base=8192, fmap_decay=1.0, fmap_max=512,
    latent_size=None, use_wscale=True, fused_scale=True,
)  # fmt: skip


def _kw(cfg: dict) -> dict:
    kw = DEFAULTS | {k: v for k, v in cfg["kwargs"].items() if k in DEFAULTS}
    if kw["latent_size"] is None:
        kw["latent_size"] = _nf(kw, 0)
    return kw


def _nf(kw: dict, stage: int) -> int:
    return min(int(kw["fmap_base"] / (2.0 ** (stage * kw["fmap_decay"]))), kw["fmap_max"])


def variable_shapes(cfg: dict) -> list[tuple[str, tuple[int, ...]]]:
    """``G_paper``'s TF variable names and shapes in creation order (checked by :func:`main`)."""
    kw = _kw(cfg)
    log2 = int(np.log2(kw["resolution"]))
    nch = kw["num_channels"]

    def torgb(r: int, ch: int) -> list:
        lod = log2 - r
        return [(f"ToRGB_lod{lod}/weight", (1, 1, ch, nch)), (f"ToRGB_lod{lod}/bias", (nch,))]

    ch = _nf(kw, 1)
    out = [
        ("lod", ()),
        ("4x4/Dense/weight", (kw["latent_size"] + kw["label_size"], ch * 16)),
        ("4x4/Dense/bias", (ch,)),
        ("4x4/Conv/weight", (3, 3, ch, ch)),
        ("4x4/Conv/bias", (ch,)),
    ]
    out += torgb(2, ch)
    for r in range(3, log2 + 1):
        cin, ch, res = _nf(kw, r - 2), _nf(kw, r - 1), 2**r
        if kw["fused_scale"]:  # NVIDIA stores this one as [k, k, out, in]
            out += [
                (f"{res}x{res}/Conv0_up/weight", (3, 3, ch, cin)),
                (f"{res}x{res}/Conv0_up/bias", (ch,)),
            ]
        else:
            out += [
                (f"{res}x{res}/Conv0/weight", (3, 3, cin, ch)),
                (f"{res}x{res}/Conv0/bias", (ch,)),
            ]
        out += [(f"{res}x{res}/Conv1/weight", (3, 3, ch, ch)), (f"{res}x{res}/Conv1/bias", (ch,))]
        out += torgb(r, ch)
    return out  # fmt: skip


def random_variables(cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """Random TF variables: one ``default_rng(seed)`` in :func:`variable_shapes` order; weights
    N(0, 1) (times the He constant without use_wscale), biases 0.5 N(0, 1), lod 0."""
    kw = _kw(cfg)
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in variable_shapes(cfg):
        v = rng.standard_normal(shape)
        if name == "lod":
            v = np.zeros(shape)
        elif name.endswith("bias"):
            v = 0.5 * v
        elif not kw["use_wscale"]:
            fan_in = int(np.prod(shape[:-1]))
            if "Conv0_up" in name:  # [k, k, out, in]
                fan_in = shape[0] * shape[1] * shape[3]
            v = v * np.sqrt(2 / fan_in)
        out[name] = np.asarray(v, dtype=np.float32)
    return out


def inputs(cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """``z`` and ``c`` from ``default_rng(seed + 1000)``."""
    kw = _kw(cfg)
    rng = np.random.default_rng(seed + 1000)
    z = rng.standard_normal((BATCH, kw["latent_size"])).astype(np.float32)
    c = rng.standard_normal((BATCH, kw["label_size"])).astype(np.float32)
    return {"z": z, "c": c}


def main(oracle: str) -> None:  # pragma: no cover - needs TensorFlow
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    sys.modules["tensorflow"] = tf  # NVIDIA's code says `import tensorflow as tf` (TF 1.x API)
    sys.path.insert(0, oracle)
    import tfutil

    tfutil.init_tf({"allow_soft_placement": True})
    arrays: dict[str, np.ndarray] = {}
    for seed, (name, cfg) in enumerate(CONFIGS.items()):
        G = tfutil.Network(f"G_{name}", func="networks.G_paper", **cfg["kwargs"])
        got = [(k, tuple(v.shape.as_list())) for k, v in G.vars.items()]
        assert got == [(k, tuple(s)) for k, s in variable_shapes(cfg)], (name, got)
        variables = random_variables(cfg, seed)
        tfutil.set_vars({G.find_var(k): v for k, v in variables.items()})
        x = inputs(cfg, seed)
        arrays |= {f"{name}/{k}": v for k, v in x.items()}
        for i, lod in enumerate(cfg["lods"]):
            tfutil.set_vars({G.find_var("lod"): np.float32(lod)})
            arrays[f"{name}/img_lod{i}"] = G.run(x["z"], x["c"])
        arrays[f"{name}/static_kwargs"] = np.array(json.dumps(dict(G.static_kwargs)))
        arrays[f"{name}/names"] = np.array(list(G.vars))
        state = G.__getstate__()
        arrays[f"{name}/state"] = np.array(json.dumps(
            {k: state[k] for k in ("version", "name", "build_func_name")}))  # fmt: skip
    dest = Path(__file__).with_name("progan_reference.npz")
    np.savez_compressed(dest, **arrays)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
