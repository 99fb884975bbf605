"""StyleGAN2-TF (``G_main``) networks as ganatlas's StyleGAN2 module.

A StyleGAN2 generator trained with NVIDIA's TensorFlow code (configs e and f of the StyleGAN2
paper, and StyleGAN2-ADA's TensorFlow release) is a ``G_main`` network with two components,
``mapping`` (``G_mapping``) and ``synthesis`` (``G_synthesis_stylegan2``; ``G_synthesis`` in
StyleGAN2-ADA-TF). It becomes a :class:`ganatlas.networks.stylegan2.Generator` in the
stylegan2-ada-pytorch layout (nested ``mapping_kwargs``/``synthesis_kwargs``), the layout
NVIDIA's own converter produces, so that it can be written as an official PyTorch pickle.

How the TensorFlow variables map (names relative to the generator, components joined by ``/``):

- dense ``Dense{i}/weight`` is ``[in, out]``; PyTorch's ``fc{i}.weight`` is ``[out, in]``;
- convolutions are stored HWIO ``[k, k, in, out]``, PyTorch wants OIHW; the up-sampling
  convolution (``Conv0_up``) and the resnet ``Skip`` run as transposed convolutions in
  TensorFlow, so their kernels are also flipped in both spatial axes;
- the style ``mod_bias`` gets the ``+ 1`` that TensorFlow adds at run time; the 4x4 ``const`` and
  the noise inputs lose their leading size-1 axes; ``noise{i}`` belongs to the i-th
  convolution (``2 log2(res) - 5`` for ``conv0``, ``2 log2(res) - 4`` for ``conv1``);
- ``dlatent_avg`` is ``mapping.w_avg``; ``lod`` (progressive-growing state) is unused.

Static kwargs are renamed (``latent_size`` -> ``z_dim``, ``dlatent_size`` -> ``w_dim``,
``label_size`` -> ``c_dim``, ``fmap_base`` times 2 -> ``channel_base``, ...; see
:data:`KWARGS`); run-time switches (truncation, ``fused_modconv``, ``randomize_noise``) change
nothing stored and are dropped; anything unknown is an error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ganatlas.networks.tf_pickle import TFNetwork, TFPickleError, register_tf_builder

#: TF static kwarg -> (Generator part, PyTorch kwarg, default). part: "G", "mapping", "synthesis".
KWARGS: dict[str, tuple[str, str, Any]] = {
    "latent_size": ("G", "z_dim", 512),
    "label_size": ("G", "c_dim", 0),
    "dlatent_size": ("G", "w_dim", 512),
    "resolution": ("G", "img_resolution", 1024),
    "num_channels": ("G", "img_channels", 3),
    "mapping_layers": ("mapping", "num_layers", 8),
    "label_fmaps": ("mapping", "embed_features", None),
    "mapping_fmaps": ("mapping", "layer_features", None),
    "mapping_nonlinearity": ("mapping", "activation", "lrelu"),
    "mapping_lrmul": ("mapping", "lr_multiplier", 0.01),
    "w_avg_beta": ("mapping", "w_avg_beta", 0.995),
    "fmap_base": ("synthesis", "channel_base", 16 << 10),  # doubled below
    "fmap_max": ("synthesis", "channel_max", 512),
    "num_fp16_res": ("synthesis", "num_fp16_res", 0),
    "conv_clamp": ("synthesis", "conv_clamp", None),
    "architecture": ("synthesis", "architecture", "skip"),
    "resample_kernel": ("synthesis", "resample_filter", [1, 3, 3, 1]),
    "use_noise": ("synthesis", "use_noise", True),
    "nonlinearity": ("synthesis", "activation", "lrelu"),
}

#: Kwargs that only steer TensorFlow at run time or in training: nothing stored depends on them.
RUNTIME_KWARGS = frozenset(
    {
        "truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val",
        "dlatent_avg_beta", "style_mixing_prob", "structure", "fused_modconv", "randomize_noise",
        "dtype", "is_training", "is_validation", "return_dlatents", "force_clean_graph",
        "is_template_graph", "dlatent_broadcast",
    }
)  # fmt: skip

#: Kwargs with the one value the PyTorch networks implement.
FIXED_KWARGS: dict[str, Any] = {
    "fmap_decay": 1.0,
    "normalize_latents": True,
    "mapping_func": "G_mapping",
    "use_wscale": True,
}
SYNTHESIS_FUNCS = ("G_synthesis_stylegan2", "G_synthesis")
IGNORED_VARIABLES = re.compile(r"(.*/)?lod")


def convert_kwargs(static_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``G_main`` static kwargs -> stylegan2-ada-pytorch ``Generator`` kwargs (nested layout)."""
    out: dict[str, Any] = {"mapping_kwargs": {}, "synthesis_kwargs": {}}
    for tf_name, (part, name, default) in KWARGS.items():
        value = static_kwargs.get(tf_name, default)
        if tf_name == "w_avg_beta" and value is None:
            value = 1  # no tracking: w_avg stays as stored
        if tf_name == "fmap_base":
            value = int(value) * 2
        if tf_name == "resample_kernel":
            if value is None:
                raise TFPickleError("resample_kernel=None (no filtering) is not supported")
            value = list(value)
        target = out if part == "G" else out[f"{part}_kwargs"]
        target[name] = value
    for tf_name, expected in FIXED_KWARGS.items():
        if tf_name in static_kwargs and static_kwargs[tf_name] != expected:
            raise TFPickleError(
                f"{tf_name}={static_kwargs[tf_name]!r} is not supported (only {expected!r})"
            )
    synthesis_func = static_kwargs.get("synthesis_func", "G_synthesis_stylegan2")
    if synthesis_func not in SYNTHESIS_FUNCS:
        raise TFPickleError(
            f"synthesis_func={synthesis_func!r} is not supported (StyleGAN2 configs e and f: "
            f"{', '.join(SYNTHESIS_FUNCS)}); configs a-d are not"
        )
    known = set(KWARGS) | RUNTIME_KWARGS | set(FIXED_KWARGS) | {"synthesis_func", "fmap_min"}
    unknown = sorted(set(static_kwargs) - known)
    if unknown:
        raise TFPickleError(f"unknown StyleGAN2-TF kwargs {unknown}; cannot convert")
    return out


def _dense(a: np.ndarray) -> np.ndarray:
    return a.T


def _conv(a: np.ndarray) -> np.ndarray:
    return a.transpose(3, 2, 0, 1)


def _conv_flipped(a: np.ndarray) -> np.ndarray:
    return a[::-1, ::-1].transpose(3, 2, 0, 1)


def _mod_bias(a: np.ndarray) -> np.ndarray:
    return a + 1


def _keep(a: np.ndarray) -> np.ndarray:
    return a


def _first(a: np.ndarray) -> np.ndarray:
    return a[0]


def _first2(a: np.ndarray) -> np.ndarray:
    return a[0, 0]


_LAYER_SCOPES = {"conv0": "Conv0_up", "conv1": "Conv1", "torgb": "ToRGB"}
_LAYER_PARAMS = {
    "weight": ("weight", _conv),
    "bias": ("bias", _keep),
    "noise_strength": ("noise_strength", _keep),
    "affine.weight": ("mod_weight", _dense),
    "affine.bias": ("mod_bias", _mod_bias),
}


def tf_source(key: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]] | None:
    """The TF variable (generator-relative name) and transform a PyTorch state key comes from;
    None for keys that are not stored in TensorFlow (the resampling filters)."""
    if key.endswith("resample_filter"):
        return None
    if key == "mapping.w_avg":
        return "dlatent_avg", _keep
    if m := re.fullmatch(r"mapping\.fc(\d+)\.(weight|bias)", key):
        i, p = m.groups()
        return f"mapping/Dense{i}/{p}", _dense if p == "weight" else _keep
    if m := re.fullmatch(r"mapping\.embed\.(weight|bias)", key):
        p = m.group(1)
        return f"mapping/LabelEmbed/{p}", _dense if p == "weight" else _keep
    if key == "synthesis.b4.const":
        return "synthesis/4x4/Const/const", _first
    if m := re.fullmatch(r"synthesis\.b(\d+)\.(conv0|conv1|torgb)\.(.+)", key):
        res, layer, param = m.groups()
        scope = "Conv" if (res == "4" and layer == "conv1") else _LAYER_SCOPES[layer]
        if param == "noise_const":
            idx = 2 * int(np.log2(int(res))) - (5 if layer == "conv0" else 4)
            return f"synthesis/noise{idx}", _first2
        tf_param, fn = _LAYER_PARAMS[param]
        if layer == "conv0" and param == "weight":
            fn = _conv_flipped
        return f"synthesis/{res}x{res}/{scope}/{tf_param}", fn
    if m := re.fullmatch(r"synthesis\.b(\d+)\.skip\.weight", key):
        res = m.group(1)
        return f"synthesis/{res}x{res}/Skip/weight", _conv_flipped
    raise TFPickleError(f"no StyleGAN2-TF variable for {key}")


def convert_variables(
    module: nn.Module,
    tf_vars: dict[str, np.ndarray],
    source: Callable[[str], tuple[str, Callable[[np.ndarray], np.ndarray]] | None],
    what: str,
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(state dict of ``module`` from TF variables, the TF variables not used).

    source(key) -> (TF variable name, conversion fn) or None (the key keeps its value). A
    missing variable or one whose converted shape differs is a TFPickleError naming both.
    what: the network's name in messages ("network", "discriminator").
    """
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for key, ref in module.state_dict().items():
        src = source(key)
        if src is None:
            state[key] = ref
            continue
        name, fn = src
        if name not in tf_vars:
            raise TFPickleError(
                f"the StyleGAN2-TF {what} lacks variable {name} (for {key}); stored: "
                f"{', '.join(list(tf_vars)[:12])}{' ...' if len(tf_vars) > 12 else ''}"
            )
        value = np.array(fn(np.asarray(tf_vars[name])), dtype=np.float32, order="C")
        if tuple(value.shape) != tuple(ref.shape):
            raise TFPickleError(
                f"{what} variable {name} has shape {list(tf_vars[name].shape)}, which does not "
                f"give {key} {list(ref.shape)}"
            )
        state[key] = torch.from_numpy(value)
        used.add(name)
    return state, [n for n in tf_vars if n not in used]


def convert_state(g: nn.Module, tf_vars: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The state dict of ``g`` from the TF variables (every variable used or known unused)."""
    state, unused = convert_variables(g, tf_vars, tf_source, "network")
    unused = [n for n in unused if not IGNORED_VARIABLES.fullmatch(n)]
    if unused:
        hint = " (LabelConcat: conditional StyleGAN2-TF is not supported)" if any(
            "LabelConcat" in n for n in unused
        ) else ""  # fmt: skip
        raise TFPickleError(f"StyleGAN2-TF variables not understood: {unused}{hint}")
    return state


def build_g_main(net: TFNetwork) -> nn.Module:
    """A ``G_main`` TFNetwork (StyleGAN2-TF configs e/f, StyleGAN2-ADA-TF) -> StyleGAN2 Generator."""
    from ganatlas.networks.stylegan2 import Generator

    if net.build_func_name != "G_main":
        raise TFPickleError(f"{net.name} is built by {net.build_func_name!r}, not 'G_main'")
    for comp, funcs in (("mapping", ("G_mapping",)), ("synthesis", SYNTHESIS_FUNCS)):
        sub = net.components.get(comp)
        if sub is None:
            raise TFPickleError(f"{net.name} has no {comp!r} component")
        if sub.build_func_name not in funcs:
            raise TFPickleError(
                f"{net.name}/{comp} is built by {sub.build_func_name!r}; supported: {funcs}"
            )
    kwargs = convert_kwargs(net.static_kwargs)
    try:
        g = Generator(**kwargs)
    except (TypeError, ValueError) as exc:
        raise TFPickleError(f"cannot build a StyleGAN2 Generator from {kwargs}: {exc}") from None
    g.load_state_dict(convert_state(g, net.all_variables()), strict=True)
    g.family = "stylegan2"
    g.source_format = "tensorflow"
    return g.eval()


register_tf_builder("G_main", build_g_main)
