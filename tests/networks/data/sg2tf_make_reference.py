"""Recipe for tests/networks/data/sg2tf_reference.npz: StyleGAN2-TF pickles through NVIDIA's converter.

Small StyleGAN2-TF generators (``G_main`` with ``G_mapping`` and ``G_synthesis_stylegan2``
components, configs e and f layouts, ``fused_modconv`` on and off, resnet/orig variants and a
StyleGAN2-ADA-TF-style conditional one) are written as TF-era pickles by the tests' own writer
(``tests/networks/tf_pickle_writer.py``), variables drawn from a seed (every bias random). The
reference outputs come from NVIDIA's stylegan2-ada-pytorch: ``legacy.py``'s unpickler and
``convert_tf_generator`` turn ``Gs`` into their ``training.networks.Generator``, which then maps
and renders on CPU (their custom ops fall back to reference implementations there). To
regenerate, put a copy of NVlabs/stylegan2-ada-pytorch in a folder outside this repository and
run::

    python tests/networks/data/sg2tf_make_reference.py /path/to/stylegan2-ada-pytorch

``legacy.py`` refuses kwargs it does not know, and ``fused_modconv`` (a TensorFlow run-time
switch: grouped convolution vs. scaling activations, the same arithmetic) is one of them, so it
is removed from the static kwargs before their converter sees them. Nothing of NVIDIA's code is
in this repository; only the numbers it produced are.

The pickles also hold a StyleGAN2-TF discriminator per config (``D_CONFIGS``, ``d_variables``;
drawn from their own seeds, so the generator references do not depend on them); its references
and the check of ``ganatlas convert`` output with NVIDIA's loader are made by
``sg2tf_d_make_reference.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path) -> object:
    """Import ``path`` as module ``name`` (tests/ is no package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


writer = _load("tf_pickle_writer", HERE.parent / "tf_pickle_writer.py")

BATCH = 3

# name -> (static kwargs of G/Gs, truncation (psi, cutoff)). Real pickles store the dataset's
# num_channels/resolution/label_size and the config's overrides (config e: fmap_base 8 << 10,
# config f: the default 16 << 10); these are the same layouts at a small size.
CONFIGS: dict[str, tuple[dict, tuple[float, int | None]]] = {
    "config_e_fused": (
        dict(num_channels=3, resolution=32, label_size=0, latent_size=16, dlatent_size=16,
             mapping_layers=3, mapping_fmaps=16, fmap_base=64, fmap_max=32, fused_modconv=True),
        (0.7, None),
    ),
    "config_e_unfused": (
        dict(num_channels=3, resolution=32, label_size=0, latent_size=16, dlatent_size=16,
             mapping_layers=3, mapping_fmaps=16, fmap_base=64, fmap_max=32, fused_modconv=False),
        (0.5, 4),
    ),
    "config_f_fused": (
        dict(num_channels=3, resolution=16, label_size=0, latent_size=12, dlatent_size=16,
             mapping_layers=8, fmap_base=128, fmap_max=24, architecture="skip",
             truncation_psi=0.5, style_mixing_prob=0.9, fused_modconv=True),
        (0.6, None),
    ),
    "config_f_unfused": (
        dict(num_channels=3, resolution=16, label_size=0, latent_size=12, dlatent_size=16,
             mapping_layers=8, fmap_base=128, fmap_max=24, fused_modconv=False),
        (0.8, 3),
    ),
    "config_e_resnet": (
        dict(num_channels=1, resolution=16, label_size=0, latent_size=8, dlatent_size=16,
             mapping_layers=2, fmap_base=64, fmap_max=16, architecture="resnet",
             resample_kernel=[1, 2, 1]),
        (0.7, 2),
    ),
    "config_e_orig": (
        dict(num_channels=3, resolution=16, label_size=0, latent_size=8, dlatent_size=16,
             mapping_layers=2, fmap_base=64, fmap_max=16, architecture="orig",
             mapping_lrmul=0.05),
        (0.7, None),
    ),
    "ada_tf_cond": (
        dict(num_channels=3, resolution=16, label_size=3, latent_size=8, dlatent_size=16,
             label_fmaps=8, mapping_layers=2, mapping_fmaps=24, fmap_base=64, fmap_max=16,
             w_avg_beta=0.995, conv_clamp=1.5),
        (0.5, None),
    ),
}  # fmt: skip


def nf(kw: dict, stage: int) -> int:
    """Feature maps at ``stage`` (resolution 2 ** (stage + 1)), as G_synthesis_stylegan2."""
    base, fmax = kw.get("fmap_base", 16 << 10), kw.get("fmap_max", 512)
    return int(np.clip(int(base / 2.0**stage), kw.get("fmap_min", 1), fmax))


def g_main_variables(kw: dict, seed: int) -> dict[str, list[tuple[str, object]]]:
    """The variables of G_main's three scopes (``Gs``, ``mapping``, ``synthesis``) in TF's creation
    order, drawn from ``default_rng(seed)``: weights, const, noise ~ N(0, 1); every bias
    (dense, conv, style ``mod_bias``) ~ 0.1 N(0, 1); noise_strength ~ 0.3 N(0, 1) (numpy
    scalars, as TF returned them); dlatent_avg ~ 0.5 N(0, 1)."""
    rng = np.random.default_rng(seed)

    def n(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    def scalar(scale: float) -> np.float32:
        return np.float32(scale * rng.standard_normal())

    z, w = kw.get("latent_size", 512), kw.get("dlatent_size", 512)
    c, img_c = kw.get("label_size", 0), kw.get("num_channels", 3)
    res_log2 = int(np.log2(kw.get("resolution", 1024)))
    arch = kw.get("architecture", "skip")

    mapping: list[tuple[str, object]] = []
    fin = z
    if c:
        emb = kw.get("label_fmaps") or w
        mapping += [("LabelEmbed/weight", n(c, emb)), ("LabelEmbed/bias", n(emb, scale=0.1))]
        fin = z + emb
    layers = kw.get("mapping_layers", 8)
    for i in range(layers):
        fout = w if i == layers - 1 else (kw.get("mapping_fmaps") or w)
        mapping += [(f"Dense{i}/weight", n(fin, fout)), (f"Dense{i}/bias", n(fout, scale=0.1))]
        fin = fout

    synthesis: list[tuple[str, object]] = []
    num_layers = 2 * res_log2 - 2
    for i in range(num_layers - 1):
        r = 2 ** ((i + 5) // 2)
        synthesis.append((f"noise{i}", n(1, 1, r, r)))

    def modconv(scope: str, cin: int, cout: int, k: int, noise: bool = True) -> None:
        synthesis.extend([(f"{scope}/weight", n(k, k, cin, cout)),
                          (f"{scope}/mod_weight", n(w, cin)),
                          (f"{scope}/mod_bias", n(cin, scale=0.1))])  # fmt: skip
        if noise:
            synthesis.append((f"{scope}/noise_strength", scalar(0.3)))
        synthesis.append((f"{scope}/bias", n(cout, scale=0.1)))

    synthesis.append(("4x4/Const/const", n(1, nf(kw, 1), 4, 4)))
    modconv("4x4/Conv", nf(kw, 1), nf(kw, 1), 3)
    if arch == "skip":
        modconv("4x4/ToRGB", nf(kw, 1), img_c, 1, noise=False)
    for res in range(3, res_log2 + 1):
        s = f"{2**res}x{2**res}"
        modconv(f"{s}/Conv0_up", nf(kw, res - 2), nf(kw, res - 1), 3)
        modconv(f"{s}/Conv1", nf(kw, res - 1), nf(kw, res - 1), 3)
        if arch == "resnet":
            synthesis.append((f"{s}/Skip/weight", n(1, 1, nf(kw, res - 2), nf(kw, res - 1))))
        if arch == "skip" or res == res_log2:
            modconv(f"{s}/ToRGB", nf(kw, res - 1), img_c, 1, noise=False)
    gs = [("lod", np.float32(0)), ("dlatent_avg", n(w, scale=0.5))]
    return {"Gs": gs, "mapping": mapping, "synthesis": synthesis}


def g_main_network(kw: dict, seed: int, name: str = "Gs", **net_kwargs) -> object:
    """A FakeTFNetwork of ``G_main`` as StyleGAN2-TF pickled it (components mapping, synthesis)."""
    v = g_main_variables(kw, seed)
    res_log2 = int(np.log2(kw.get("resolution", 1024)))
    mapping = writer.FakeTFNetwork.dnnlib(
        "G_mapping", "G_mapping", dict(kw, dlatent_broadcast=2 * res_log2 - 2), v["mapping"]
    )
    synthesis = writer.FakeTFNetwork.dnnlib(
        "G_synthesis", "G_synthesis_stylegan2", kw, v["synthesis"]
    )
    return writer.FakeTFNetwork.dnnlib(
        name, "G_main", kw, v["Gs"], {"mapping": mapping, "synthesis": synthesis}, **net_kwargs
    )


# Discriminator static kwargs per config (same image shape and labels as the generator). They
# cover: resnet (config e/f's D), skip and orig; mbstd group size absent (NVIDIA's converter:
# the whole batch), 2 and 4; 0, 1 and 2 mbstd features; Freeze-D; a [1,2,1] filter; conv_clamp;
# and a conditional D_main with a label mapping (StyleGAN2-ADA-TF). fmap_base/fmap_max are
# chosen so that min(fmap_base, fmap_max) == min(fmap_base / 2, fmap_max), as in every
# released config (see ganatlas.networks.stylegan2_tf_discriminator).
D_CONFIGS: dict[str, tuple[str, dict]] = {
    "config_e_fused": ("D_stylegan2", dict(num_channels=3, resolution=32, label_size=0,
                                           fmap_base=64, fmap_max=32, architecture="resnet")),
    "config_e_unfused": ("D_stylegan2", dict(num_channels=3, resolution=32, label_size=0,
                                             fmap_base=64, fmap_max=32, mbstd_group_size=2,
                                             mbstd_num_features=2)),
    "config_f_fused": ("D_stylegan2", dict(num_channels=3, resolution=16, label_size=0,
                                           fmap_base=128, fmap_max=24, architecture="skip",
                                           mbstd_group_size=4, structure="auto")),
    "config_f_unfused": ("D_stylegan2", dict(num_channels=3, resolution=16, label_size=0,
                                             fmap_base=128, fmap_max=24, architecture="orig",
                                             freeze_layers=2)),
    "config_e_resnet": ("D_stylegan2", dict(num_channels=1, resolution=16, label_size=0,
                                            fmap_base=64, fmap_max=16, architecture="resnet",
                                            resample_kernel=[1, 2, 1], mbstd_num_features=0)),
    "config_e_orig": ("D_stylegan2", dict(num_channels=3, resolution=16, label_size=0,
                                          fmap_base=64, fmap_max=16, architecture="orig",
                                          mbstd_group_size=2, nonlinearity="lrelu")),
    "ada_tf_cond": ("D_main", dict(num_channels=3, resolution=16, label_size=3, fmap_base=64,
                                   fmap_max=16, architecture="resnet", mapping_layers=2,
                                   mapping_fmaps=8, mapping_lrmul=0.1, mbstd_group_size=4,
                                   mbstd_num_features=1, conv_clamp=1.5)),
}  # fmt: skip


def d_variables(kw: dict, seed: int) -> list[tuple[str, object]]:
    """The variables of a StyleGAN2-TF discriminator with static kwargs ``kw``, in TF's creation
    order, from ``default_rng(seed)``: weights ~ N(0, 1) (label mapping: N(0, 1 / lrmul**2), as
    TF initialised them), every bias ~ 0.1 N(0, 1)."""
    rng = np.random.default_rng(seed)

    def n(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    res_log2 = int(np.log2(kw.get("resolution", 1024)))
    arch, img_c = kw.get("architecture", "resnet"), kw.get("num_channels", 3)
    mbstd = kw.get("mbstd_num_features", 1)
    out: list[tuple[str, object]] = []

    def layer(scope: str, shape: tuple[int, ...], bias: bool = True, gain: float = 1) -> None:
        out.append((f"{scope}/weight", n(*shape, scale=gain)))
        if bias:
            out.append((f"{scope}/bias", n(shape[-1], scale=0.1)))

    for res in range(res_log2, 2, -1):
        s = f"{2**res}x{2**res}"
        if arch == "skip" or res == res_log2:
            layer(f"{s}/FromRGB", (1, 1, img_c, nf(kw, res - 1)))
        layer(f"{s}/Conv0", (3, 3, nf(kw, res - 1), nf(kw, res - 1)))
        layer(f"{s}/Conv1_down", (3, 3, nf(kw, res - 1), nf(kw, res - 2)))
        if arch == "resnet":
            layer(f"{s}/Skip", (1, 1, nf(kw, res - 1), nf(kw, res - 2)), bias=False)
    if arch == "skip":
        layer("4x4/FromRGB", (1, 1, img_c, nf(kw, 1)))
    layer("4x4/Conv", (3, 3, nf(kw, 1) + mbstd, nf(kw, 1)))
    layer("4x4/Dense0", (nf(kw, 1) * 16, nf(kw, 0)))
    c = kw.get("label_size", 0)
    cmap = kw.get("mapping_fmaps") or nf(kw, 1)
    layer("Output", (nf(kw, 0), cmap if c else 1))
    if c:
        layer("LabelEmbed", (c, cmap))
        for i in range(kw.get("mapping_layers", 0)):
            layer(f"Mapping{i}", (cmap, cmap), gain=1 / kw.get("mapping_lrmul", 0.1))
    return out


def d_network(name: str, seed: int) -> object:
    """A FakeTFNetwork of config ``name``'s discriminator (no components, as TF stored it)."""
    func, kw = D_CONFIGS[name]
    return writer.FakeTFNetwork.dnnlib("D", func, kw, d_variables(kw, seed))


def write_config(name: str, path: str | Path, protocol: int = 4) -> Path:
    """The TF-era pickle ``(G, D, Gs)`` of config ``name`` (G: other weights than Gs)."""
    kw, _ = CONFIGS[name]
    seed = list(CONFIGS).index(name)
    g = g_main_network(kw, seed + 100, name="G")
    d = d_network(name, seed + 200)
    gs = g_main_network(kw, seed, name="Gs")
    return writer.write_tf_pickle(path, (g, d, gs), protocol=protocol)


def inputs(kw: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``z: [BATCH, latent_size]`` and ``c: [BATCH, label_size]`` from default_rng(seed + 1000)."""
    rng = np.random.default_rng(seed + 1000)
    z = torch.from_numpy(rng.standard_normal((BATCH, kw["latent_size"])).astype(np.float32))
    c = torch.from_numpy(rng.standard_normal((BATCH, kw["label_size"])).astype(np.float32))
    return z, c


def outputs(G: torch.nn.Module, kw: dict, trunc: tuple, seed: int) -> dict[str, np.ndarray]:
    """Mapping (plain and truncated) and images (noise const/none/random seeded by 123)."""
    z, c = inputs(kw, seed)
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
        out["img_trunc_const"] = G(z, c, truncation_psi=trunc[0], truncation_cutoff=trunc[1],
                                   noise_mode="const").numpy()  # fmt: skip
    return out


def main(oracle: str) -> None:
    import tempfile

    sys.path.insert(0, oracle)
    import legacy  # NVIDIA's converter, outside the repo

    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (kw, trunc)) in enumerate(CONFIGS.items()):
            path = write_config(name, Path(tmp) / f"{name}.pkl")
            with open(path, "rb") as fh:
                tf_G, _tf_D, tf_Gs = legacy._LegacyUnpickler(fh).load()
            for net in (tf_G, tf_Gs):  # a run-time switch legacy.py does not list
                net.static_kwargs.pop("fused_modconv", None)
            G = legacy.convert_tf_generator(tf_Gs)
            for k, v in outputs(G, kw, trunc, seed=i).items():
                arrays[f"{name}/{k}"] = v
            G_train = legacy.convert_tf_generator(tf_G)
            with torch.no_grad():
                z, c = inputs(kw, i)
                arrays[f"{name}/G_img_const"] = G_train(z, c, noise_mode="const").numpy()
    dest = HERE / "sg2tf_reference.npz"
    np.savez_compressed(dest, **arrays)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
