"""Recipe for tests/networks/data/sg2tf_d_reference.npz: StyleGAN2-TF discriminators and
``ganatlas convert`` output, checked with NVIDIA's own code.

The TF-era pickles are those of ``sg2tf_make_reference.py`` (``write_config``: ``(G, D, Gs)``
with a ``D_stylegan2`` / ``D_main`` discriminator per config, variables drawn from a seed,
every bias random). With NVlabs/stylegan2-ada-pytorch (a copy outside this repository) on the
path, for every config:

(a) NVIDIA's converter (``legacy.py``: its unpickler and ``convert_tf_discriminator``) builds
    their ``training.networks.Discriminator`` from the TF ``D``; its logits on fixed images
    (``d_inputs``: batches of 4 and of 2, which changes the minibatch-std groups) and its
    ``init_kwargs`` (JSON) are stored as ``{name}/d4``, ``{name}/d2``, ``{name}/d_kwargs``;
(b) ``ganatlas convert`` writes the PyTorch pickle, and NVIDIA's ``legacy.load_network_pkl``
    (the function their scripts call) loads it: keys, classes (theirs, from
    ``training.networks``) and outputs are checked here; the logits of the D it loaded are stored
    as ``{name}/nv_loaded_d4``, and the largest differences between the G / G_ema it loaded
    and the ones its converter built in (a) as ``{name}/nv_loaded_G_maxdiff`` and
    ``{name}/nv_loaded_G_ema_maxdiff`` (same z, c, truncation, noise 'const').

Run from the repository root, with ganatlas importable (for step b)::

    PYTHONPATH=$PWD python tests/networks/data/sg2tf_d_make_reference.py /path/to/stylegan2-ada-pytorch

As in sg2tf_make_reference.py, ``fused_modconv`` (a TF run-time switch their converter does not
list) is removed before their converter sees a generator. Nothing of NVIDIA's code is in this
repository; only the numbers it produced are.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
D_BATCH = 4


def _load(name: str, path: Path) -> object:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


recipe = _load("sg2tf_recipe", HERE / "sg2tf_make_reference.py")


def d_inputs(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``img: [D_BATCH, C, R, R]`` ~ N(0, 1) and ``c: [D_BATCH, label_size]`` (one-hot rows,
    as NVIDIA's training labels) from ``default_rng(3000 + config index)``."""
    _, kw = recipe.D_CONFIGS[name]
    rng = np.random.default_rng(3000 + list(recipe.D_CONFIGS).index(name))
    res, ch, c_dim = kw["resolution"], kw["num_channels"], kw["label_size"]
    img = rng.standard_normal((D_BATCH, ch, res, res)).astype(np.float32)
    c = np.zeros((D_BATCH, c_dim), np.float32)
    if c_dim:
        c[np.arange(D_BATCH), rng.integers(0, c_dim, D_BATCH)] = 1
    return torch.from_numpy(img), torch.from_numpy(c)


def d_outputs(D: torch.nn.Module, name: str) -> dict[str, np.ndarray]:
    """Logits ``[4, 1]`` and ``[2, 1]`` (the first two images alone) of ``D``."""
    img, c = d_inputs(name)
    with torch.no_grad():
        return {"d4": D(img, c).numpy(), "d2": D(img[:2], c[:2]).numpy()}


def g_images(G: torch.nn.Module, name: str, truncate: bool) -> np.ndarray:
    """``G(z, c)`` with noise 'const' (and the config's truncation when ``truncate``)."""
    kw, trunc = recipe.CONFIGS[name]
    z, c = recipe.inputs(kw, list(recipe.CONFIGS).index(name))
    psi, cutoff = trunc if truncate else (1, None)
    with torch.no_grad():
        return G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const").numpy()


def main(oracle: str) -> None:
    sys.path.insert(0, oracle)
    import legacy  # NVIDIA's converter and loader, outside the repo
    from training import networks

    from ganatlas.networks.tf_pickle import convert_tf_pickle

    arrays: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in recipe.CONFIGS:
            src = recipe.write_config(name, Path(tmp) / f"{name}.pkl")
            # (a) NVIDIA's converter on the TF-era pickle.
            with open(src, "rb") as fh:
                tf_G, tf_D, tf_Gs = legacy._LegacyUnpickler(fh).load()
            for net in (tf_G, tf_Gs):
                net.static_kwargs.pop("fused_modconv", None)
            D = legacy.convert_tf_discriminator(tf_D)
            for k, v in d_outputs(D, name).items():
                arrays[f"{name}/{k}"] = v
            arrays[f"{name}/d_kwargs"] = np.array(json.dumps(D.init_kwargs))
            ref_G = g_images(legacy.convert_tf_generator(tf_G), name, truncate=False)
            ref_G_ema = g_images(legacy.convert_tf_generator(tf_Gs), name, truncate=True)
            # (b) ganatlas convert, then NVIDIA's own loader on the result.
            out = convert_tf_pickle(src, Path(tmp) / f"{name}_converted.pkl")
            with open(out, "rb") as fh:
                data = legacy.load_network_pkl(fh)
            assert sorted(data) == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]
            for key, cls in (("G", "Generator"), ("D", "Discriminator"), ("G_ema", "Generator")):
                assert isinstance(data[key], getattr(networks, cls)), (key, type(data[key]))
            assert json.dumps(data["D"].init_kwargs) == json.dumps(D.init_kwargs)
            arrays[f"{name}/nv_loaded_d4"] = d_outputs(data["D"], name)["d4"]
            arrays[f"{name}/nv_loaded_G_maxdiff"] = np.float32(
                np.abs(g_images(data["G"], name, truncate=False) - ref_G).max()
            )
            arrays[f"{name}/nv_loaded_G_ema_maxdiff"] = np.float32(
                np.abs(g_images(data["G_ema"], name, truncate=True) - ref_G_ema).max()
            )
            d_err = np.abs(arrays[f"{name}/nv_loaded_d4"] - arrays[f"{name}/d4"]).max()
            print(
                f"{name}: D logits {[f'{v:.4f}' for v in arrays[f'{name}/d4'].ravel()]}; NVIDIA's "
                f"loader on the converted file: D {d_err:.2e}, "
                f"G {float(arrays[f'{name}/nv_loaded_G_maxdiff']):.2e}, "
                f"G_ema {float(arrays[f'{name}/nv_loaded_G_ema_maxdiff']):.2e}"
            )
    dest = HERE / "sg2tf_d_reference.npz"
    np.savez_compressed(dest, **arrays)
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
