"""Recipe for tests/networks/data/sg1_reference.npz: StyleGAN (2019) outputs of NVIDIA's own
TensorFlow implementation (``training/networks_stylegan.py`` with ``dnnlib.tflib``).

For each small config in ``CONFIGS`` the recipe builds ``G_style`` with NVIDIA's
``tflib.Network``, checks that its variables (names, order, shapes) are exactly those
``variable_shapes`` lists, sets them to ``random_variables(config, seed)`` and records the
mapping output, the truncated W+ (read from the graph), images from the stored noise, without
noise (noise strengths set to 0), of a style-mixed W+, of ``Gs.run`` with truncation, and at
fractional levels of detail. The tests rebuild the same networks with ganatlas from the same
variables and compare at 1e-4.

This file imports only numpy at module level: the tests use ``variable_shapes``,
``random_variables`` and ``inputs`` from it. To regenerate (TensorFlow 2.x with tf.compat.v1
suffices; NVIDIA's code is used unmodified, from a folder outside this repository)::

    python -m venv /tmp/tfref && /tmp/tfref/bin/pip install tensorflow-cpu numpy
    git clone https://github.com/NVlabs/stylegan /tmp/stylegan
    /tmp/tfref/bin/python tests/networks/data/sg1_make_reference.py /tmp/stylegan

The stored numbers were produced with tensorflow-cpu 2.21.0, numpy 2.4.6 and NVlabs/stylegan at
commit 1e0d5c781384ef12b50ef20a62fee5d78b38e88f. Nothing of NVIDIA's code is in this repository;
only the numbers it produced are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

BATCH = 3

# name -> G_style kwargs (NVIDIA's names), truncation (psi, cutoff), the first W+ row taken from
# the second latent (style mixing), levels of detail, batch size (default BATCH).
# use_noise=1 rather than True: newer TensorFlow refuses a bool inside a variable shape
# ([1, use_noise, R, R]); the network is the same.
CONFIGS: dict[str, dict] = {
    "const_16": dict(
        kwargs=dict(
            latent_size=12, dlatent_size=16, mapping_layers=3, mapping_fmaps=20,
            resolution=16, num_channels=3, fmap_base=128, fmap_max=32, label_size=0,
            use_noise=1,
        ),
        truncation=(0.7, 3), mix=2, lods=(0.5, 1.0, 1.7, 2.0),
    ),
    "fused_c3_128": dict(
        kwargs=dict(
            latent_size=8, dlatent_size=8, mapping_layers=2, mapping_fmaps=8, label_size=3,
            resolution=128, num_channels=1, fmap_base=256, fmap_max=16, use_noise=1,
        ),
        truncation=(0.5, None), mix=5, lods=(), batch=2,
    ),
    "variants_32": dict(
        kwargs=dict(
            latent_size=8, dlatent_size=12, mapping_layers=2, mapping_fmaps=10,
            mapping_lrmul=0.05, mapping_nonlinearity="relu", normalize_latents=False,
            label_size=2, resolution=32, num_channels=1, fmap_base=64, fmap_decay=0.8,
            fmap_max=16, const_input_layer=False, use_noise=False, nonlinearity="relu",
            use_pixel_norm=True, use_instance_norm=False, fused_scale=True,
            blur_filter=[1, 3, 3, 1],
        ),
        truncation=(0.8, 4), mix=3, lods=(1.5,),
    ),
    "no_wscale_8": dict(
        kwargs=dict(
            latent_size=6, dlatent_size=6, mapping_layers=2, mapping_fmaps=6, label_size=0,
            resolution=8, num_channels=3, fmap_base=32, fmap_max=8, use_wscale=False,
            fused_scale=False, blur_filter=None, use_noise=1,
        ),
        truncation=(0.6, 2), mix=1, lods=(0.4,),
    ),
}  # fmt: skip

MAPPING_DEFAULTS = dict(
    latent_size=512, label_size=0, dlatent_size=512, mapping_layers=8, mapping_fmaps=512,
    mapping_lrmul=0.01, use_wscale=True, normalize_latents=True,
)  # fmt: skip
SYNTHESIS_DEFAULTS = dict(
    dlatent_size=512, num_channels=3, resolution=1024, fmap_base=8192, fmap_decay=1.0,
    fmap_max=512, const_input_layer=True, use_noise=True, use_wscale=True,
)  # fmt: skip


def _kw(cfg: dict, defaults: dict) -> dict:
    return defaults | {k: v for k, v in cfg["kwargs"].items() if k in defaults}


def variable_shapes(cfg: dict) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """TF variable names and shapes of ``G_style``, ``G_mapping`` and ``G_synthesis``, in the
    order NVIDIA's networks create them (checked against TensorFlow by :func:`main`)."""
    m, s = _kw(cfg, MAPPING_DEFAULTS), _kw(cfg, SYNTHESIS_DEFAULTS)
    log2 = int(np.log2(s["resolution"]))
    num_layers = 2 * log2 - 2
    w = s["dlatent_size"]

    def nf(stage: int) -> int:
        return min(int(s["fmap_base"] / (2.0 ** (stage * s["fmap_decay"]))), s["fmap_max"])

    top = [("lod", ()), ("dlatent_avg", (m["dlatent_size"],))]
    mapping = []
    z = m["latent_size"]
    if m["label_size"]:
        mapping.append(("LabelConcat/weight", (m["label_size"], z)))
    fin = 2 * z if m["label_size"] else z
    for i in range(m["mapping_layers"]):
        fout = m["dlatent_size"] if i == m["mapping_layers"] - 1 else m["mapping_fmaps"]
        mapping += [(f"Dense{i}/weight", (fin, fout)), (f"Dense{i}/bias", (fout,))]
        fin = fout
    syn = [("lod", ())]
    if s["use_noise"]:
        syn += [
            (f"noise{i}", (1, 1, 2 ** (i // 2 + 2), 2 ** (i // 2 + 2))) for i in range(num_layers)
        ]

    def epilogue(scope: str, ch: int) -> list:
        out = [(f"{scope}/Noise/weight", (ch,))] if s["use_noise"] else []
        return out + [
            (f"{scope}/bias", (ch,)),
            (f"{scope}/StyleMod/weight", (w, 2 * ch)),
            (f"{scope}/StyleMod/bias", (2 * ch,)),
        ]

    def torgb(r: int, ch: int) -> list:
        lod = log2 - r
        return [(f"ToRGB_lod{lod}/weight", (1, 1, ch, s["num_channels"])),
                (f"ToRGB_lod{lod}/bias", (s["num_channels"],))]  # fmt: skip

    ch = nf(1)
    if s["const_input_layer"]:
        syn += [("4x4/Const/const", (1, ch, 4, 4))] + epilogue("4x4/Const", ch)
    else:
        syn += [("4x4/Dense/weight", (w, ch * 16))] + epilogue("4x4/Dense", ch)
    syn += [("4x4/Conv/weight", (3, 3, ch, ch))] + epilogue("4x4/Conv", ch) + torgb(2, ch)
    for r in range(3, log2 + 1):
        cin, ch, res = nf(r - 2), nf(r - 1), 2**r
        syn += [(f"{res}x{res}/Conv0_up/weight", (3, 3, cin, ch))]
        syn += epilogue(f"{res}x{res}/Conv0_up", ch)
        syn += [(f"{res}x{res}/Conv1/weight", (3, 3, ch, ch))] + epilogue(f"{res}x{res}/Conv1", ch)
        syn += torgb(r, ch)
    return {"G_style": top, "G_mapping": mapping, "G_synthesis": syn}


def random_variables(cfg: dict, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Random TF variables for ``cfg`` (every bias, noise strength and style bias random too).

    One ``default_rng(seed)`` drawing in the order of :func:`variable_shapes`: weights N(0, 1)
    (divided by the lr multiplier in the mapping; times the He constant without use_wscale),
    biases 0.5 N(0, 1) (mapping: divided by the lr multiplier), noise maps and the constant
    N(0, 1), noise strengths 0.5 N(0, 1), dlatent_avg 0.5 N(0, 1), lod 0.
    """
    m, s = _kw(cfg, MAPPING_DEFAULTS), _kw(cfg, SYNTHESIS_DEFAULTS)
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for part, entries in variable_shapes(cfg).items():
        wscale = m["use_wscale"] if part == "G_mapping" else s["use_wscale"]
        lrmul = m["mapping_lrmul"] if part == "G_mapping" else 1.0
        out[part] = {}
        for name, shape in entries:
            v = rng.standard_normal(shape)
            if name == "lod":
                v = np.zeros(shape)
            elif name.endswith("bias") or name.endswith("Noise/weight") or name == "dlatent_avg":
                v = 0.5 * v / lrmul
            elif name.endswith("weight") and name != "LabelConcat/weight":
                fan_in = int(np.prod(shape[:-1]))
                v = v / lrmul if wscale else v * np.sqrt(2 / fan_in) / lrmul
            out[part][name] = np.asarray(v, dtype=np.float32)
    return out


def inputs(cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """``z``, a second ``z2`` (style mixing) and ``c`` from ``default_rng(seed + 1000)``."""
    m = _kw(cfg, MAPPING_DEFAULTS)
    rng = np.random.default_rng(seed + 1000)
    n = cfg.get("batch", BATCH)
    z = rng.standard_normal((n, m["latent_size"])).astype(np.float32)
    z2 = rng.standard_normal((n, m["latent_size"])).astype(np.float32)
    c = rng.standard_normal((n, m["label_size"])).astype(np.float32)
    return {"z": z, "z2": z2, "c": c}


def num_ws(cfg: dict) -> int:
    return 2 * int(np.log2(_kw(cfg, SYNTHESIS_DEFAULTS)["resolution"])) - 2


# --------------------------------------------------------------------------- TensorFlow side


def _import_nvidia(oracle: str):  # pragma: no cover - needs TensorFlow
    import types

    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    sys.modules["tensorflow"] = tf  # NVIDIA's code says `import tensorflow as tf` (TF 1.x API)
    # dnnlib.tflib.autosummary imports tensorboard for training summaries; not needed here.
    names = ("tensorboard", "tensorboard.summary", "tensorboard.plugins",
             "tensorboard.plugins.custom_scalar", "tensorboard.plugins.custom_scalar.layout_pb2")  # fmt: skip
    for name in names:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["tensorboard"].summary = sys.modules["tensorboard.summary"]
    layout = sys.modules["tensorboard.plugins.custom_scalar.layout_pb2"]
    sys.modules["tensorboard.plugins.custom_scalar"].layout_pb2 = layout
    sys.path.insert(0, oracle)
    import dnnlib.tflib as tflib

    tflib.init_tf({"allow_soft_placement": True})
    return tf, tflib


def run_config(
    tf, tflib, name: str, cfg: dict, seed: int
) -> dict[str, np.ndarray]:  # pragma: no cover
    Gs = tflib.Network(f"G_{name}", func_name="training.networks_stylegan.G_style", **cfg["kwargs"])
    nets = {"G_style": Gs, "G_mapping": Gs.components.mapping,
            "G_synthesis": Gs.components.synthesis}  # fmt: skip
    want = variable_shapes(cfg)
    for part, net in nets.items():
        got = [(k, tuple(v.shape.as_list())) for k, v in net.own_vars.items()]
        assert got == [(k, tuple(s)) for k, s in want[part]], (part, got, want[part])
    variables = random_variables(cfg, seed)
    tflib.set_vars({nets[p].find_var(k): v for p, vs in variables.items() for k, v in vs.items()})
    x = inputs(cfg, seed)
    out = dict(x)
    out["ws"] = nets["G_mapping"].run(x["z"], x["c"])
    out["ws2"] = nets["G_mapping"].run(x["z2"], x["c"])
    syn = nets["G_synthesis"]
    out["img_const"] = syn.run(out["ws"], randomize_noise=False)
    mix = out["ws"].copy()
    mix[:, cfg["mix"] :] = out["ws2"][:, cfg["mix"] :]
    out["ws_mix"] = mix
    out["img_mix"] = syn.run(mix, randomize_noise=False)
    # Truncation through G_style's own graph (cutoff None: every layer, NVIDIA's num_layers).
    psi, cutoff = cfg["truncation"]
    cutoff_tf = num_ws(cfg) if cutoff is None else cutoff
    z_in = tf.placeholder(tf.float32, [None, x["z"].shape[1]])
    c_in = tf.placeholder(tf.float32, [None, x["c"].shape[1]])
    graph = tf.get_default_graph()
    n_ops = len(graph.get_operations())
    img = Gs.get_output_for(z_in, c_in, truncation_psi=psi, truncation_cutoff=cutoff_tf,
                            randomize_noise=False)  # fmt: skip
    trunc_ops = [op for op in graph.get_operations()[n_ops:]
                 if "/Truncation/" in op.name and op.type in ("Add", "AddV2")]  # fmt: skip
    ws_trunc = trunc_ops[-1].outputs[0]
    sess = tf.get_default_session()
    feed = {z_in: x["z"], c_in: x["c"]}
    out["ws_trunc"], out["img_trunc"] = sess.run([ws_trunc, img], feed)
    # Without noise: NVIDIA's network adds noise * strength; strengths 0 leave it out.
    noise_vars = [v for k, v in syn.own_vars.items() if k.endswith("Noise/weight")]
    saved = tflib.run(noise_vars)
    tflib.set_vars({v: np.zeros(v.shape.as_list(), np.float32) for v in noise_vars})
    out["img_none"] = syn.run(out["ws"], randomize_noise=False)
    tflib.set_vars(dict(zip(noise_vars, saved, strict=True)))
    # Levels of detail: G_style copies its lod into the synthesis network at each run.
    for i, lod in enumerate(cfg["lods"]):
        tflib.set_vars({Gs.find_var("lod"): np.float32(lod), syn.find_var("lod"): np.float32(lod)})
        out[f"img_lod{i}"] = syn.run(out["ws"], randomize_noise=False)
        out[f"img_full_lod{i}"] = Gs.run(x["z"], x["c"], truncation_psi=psi,
                                         truncation_cutoff=cutoff_tf, randomize_noise=False)  # fmt: skip
    tflib.set_vars({Gs.find_var("lod"): np.float32(0), syn.find_var("lod"): np.float32(0)})
    for part, net in nets.items():
        out[f"static_kwargs/{part}"] = np.array(json.dumps(dict(net.static_kwargs)))
        out[f"names/{part}"] = np.array(list(net.own_vars))
        out[f"state/{part}"] = np.array(json.dumps(
            {k: net.__getstate__()[k] for k in ("version", "name", "build_func_name")}))  # fmt: skip
    return out


def main(oracle: str) -> None:  # pragma: no cover - needs TensorFlow
    tf, tflib = _import_nvidia(oracle)
    arrays = {}
    for seed, (name, cfg) in enumerate(CONFIGS.items()):
        for key, value in run_config(tf, tflib, name, cfg, seed).items():
            arrays[f"{name}/{key}"] = np.asarray(value)
    dest = Path(__file__).with_name("sg1_reference.npz")
    np.savez_compressed(dest, **arrays)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
