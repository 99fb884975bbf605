"""StyleGAN2-TF discriminators (``D_stylegan2``, StyleGAN2-ADA-TF's ``D_main``) as ganatlas's
:class:`~ganatlas.networks.stylegan2_discriminator.Discriminator`.

The mapping is the public one of NVIDIA's converter (stylegan2-ada-pytorch ``legacy.py``):

- static kwargs: ``label_size`` -> ``c_dim``, ``resolution`` -> ``img_resolution``,
  ``num_channels`` -> ``img_channels``, ``fmap_base`` x 2 -> ``channel_base``, ``fmap_max`` ->
  ``channel_max``, ``mapping_fmaps`` -> ``cmap_dim`` and the label mapping's widths,
  ``nonlinearity``/``resample_kernel``/``freeze_layers`` -> ``block_kwargs``,
  ``mapping_layers`` (default 0) / ``mapping_lrmul`` (default 0.1) -> ``mapping_kwargs``,
  ``mbstd_group_size`` (default None: the whole batch is one group) / ``mbstd_num_features``
  -> ``epilogue_kwargs`` (defaults: :data:`DEFAULTS`); anything else is refused by name;
- variables (HWIO convolutions -> OIHW, dense ``[in, out]`` -> ``[out, in]``; nothing flipped:
  the discriminator only down-samples): ``{R}x{R}/FromRGB``, ``Conv0``, ``Conv1_down``,
  ``Skip`` -> ``b{R}.fromrgb``, ``conv0``, ``conv1``, ``skip``; ``4x4/Conv``, ``4x4/Dense0``,
  ``Output`` -> ``b4.conv``, ``b4.fc``, ``b4.out``; ``LabelEmbed``, ``Mapping{i}`` ->
  ``mapping.embed``, ``mapping.fc{i}``; ``FromRGB_lod{n}`` is the FromRGB of resolution
  ``R / 2**n`` and makes the architecture ``orig``.

Two differences from TensorFlow are NVIDIA's and kept: without a stored ``mbstd_group_size``
the PyTorch network groups the whole batch (TensorFlow's default was 4), and the 4x4 ``fc`` has
``min(fmap_base / 2, fmap_max)`` outputs (TensorFlow's ``Dense0`` has ``min(fmap_base,
fmap_max)``: equal for every released config; a network where they differ is refused with a
shape error).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ganatlas.networks.tf_pickle import TFNetwork, TFPickleError

#: TF static kwargs the converter reads, with the defaults NVIDIA's converter assumes.
DEFAULTS: dict[str, Any] = {
    "label_size": 0,
    "resolution": 1024,
    "num_channels": 3,
    "architecture": "resnet",
    "fmap_base": 16384,
    "fmap_max": 512,
    "num_fp16_res": 0,
    "conv_clamp": None,
    "mapping_fmaps": None,
    "nonlinearity": "lrelu",
    "resample_kernel": [1, 3, 3, 1],
    "freeze_layers": 0,
    "mapping_layers": 0,
    "mapping_lrmul": 0.1,
    "mbstd_group_size": None,
    "mbstd_num_features": 1,
}
#: Known and without effect on the stored network (NVIDIA's converter accepts it too).
IGNORED_KWARGS = frozenset({"structure"})
IGNORED_VARIABLES = re.compile(r"lod")
MIN_VERSION = 4


def convert_kwargs(static_kwargs: dict[str, Any]) -> dict[str, Any]:
    """TF discriminator static kwargs -> stylegan2-ada-pytorch ``Discriminator`` kwargs, with the
    keys, nesting and order of NVIDIA's converter (so that ``init_kwargs`` compare equal)."""
    unknown = sorted(set(static_kwargs) - set(DEFAULTS) - IGNORED_KWARGS)
    if unknown:
        raise TFPickleError(f"unknown StyleGAN2-TF discriminator kwargs {unknown}; cannot convert")
    kw = DEFAULTS | static_kwargs
    if kw["resample_kernel"] is None:
        raise TFPickleError("resample_kernel=None (no filtering) is not supported")
    act, fmaps = kw["nonlinearity"], kw["mapping_fmaps"]
    return {
        "c_dim": kw["label_size"],
        "img_resolution": kw["resolution"],
        "img_channels": kw["num_channels"],
        "architecture": kw["architecture"],
        "channel_base": int(kw["fmap_base"]) * 2,
        "channel_max": kw["fmap_max"],
        "num_fp16_res": kw["num_fp16_res"],
        "conv_clamp": kw["conv_clamp"],
        "cmap_dim": fmaps,
        "block_kwargs": {
            "activation": act,
            "resample_filter": list(kw["resample_kernel"]),
            "freeze_layers": kw["freeze_layers"],
        },
        "mapping_kwargs": {
            "num_layers": kw["mapping_layers"],
            "embed_features": fmaps,
            "layer_features": fmaps,
            "activation": act,
            "lr_multiplier": kw["mapping_lrmul"],
        },
        "epilogue_kwargs": {
            "mbstd_group_size": kw["mbstd_group_size"],
            "mbstd_num_channels": kw["mbstd_num_features"],
            "activation": act,
        },
    }


def _dense(a: np.ndarray) -> np.ndarray:
    return a.T


def _conv(a: np.ndarray) -> np.ndarray:
    return a.transpose(3, 2, 0, 1)


def _keep(a: np.ndarray) -> np.ndarray:
    return a


def tf_source(key: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]] | None:
    """The TF variable and transform a Discriminator state key comes from (None: the resampling
    filters, not stored in TensorFlow)."""
    if key.endswith("resample_filter"):
        return None
    param_fn = {"weight": _conv, "bias": _keep}
    if m := re.fullmatch(r"b(\d+)\.fromrgb\.(weight|bias)", key):
        r, p = m.groups()
        return f"{r}x{r}/FromRGB/{p}", param_fn[p]
    if m := re.fullmatch(r"b(\d+)\.conv([01])\.(weight|bias)", key):
        r, i, p = m.groups()
        return f"{r}x{r}/{'Conv0' if i == '0' else 'Conv1_down'}/{p}", param_fn[p]
    if m := re.fullmatch(r"b(\d+)\.skip\.weight", key):
        r = m.group(1)
        return f"{r}x{r}/Skip/weight", _conv
    dense = {
        r"mapping\.embed": "LabelEmbed",
        r"mapping\.fc(\d+)": "Mapping{}",
        r"b4\.fc": "4x4/Dense0",
        r"b4\.out": "Output",
    }
    for pattern, scope in dense.items():
        if m := re.fullmatch(pattern + r"\.(weight|bias)", key):
            *idx, p = m.groups()
            return f"{scope.format(*idx)}/{p}", _dense if p == "weight" else _keep
    if m := re.fullmatch(r"b4\.conv\.(weight|bias)", key):
        return f"4x4/Conv/{m.group(1)}", param_fn[m.group(1)]
    raise TFPickleError(f"no StyleGAN2-TF discriminator variable for {key}")


def _rename_lod_fromrgb(
    tf_vars: dict[str, np.ndarray], resolution: int
) -> tuple[dict[str, np.ndarray], bool]:
    """``FromRGB_lod{n}/*`` -> ``{R}x{R}/FromRGB/*`` with ``R = resolution / 2**n``; True if any."""
    out, renamed = {}, False
    for name, value in tf_vars.items():
        if m := re.fullmatch(r"FromRGB_lod(\d+)/(.*)", name):
            r = resolution // 2 ** int(m.group(1))
            out[f"{r}x{r}/FromRGB/{m.group(2)}"] = value
            renamed = True
        else:
            out[name] = value
    return out, renamed


def convert_state(d: torch.nn.Module, tf_vars: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The state dict of ``d`` from TF variables (every variable used, or ``lod``)."""
    from ganatlas.networks.stylegan2_tf import convert_variables

    state, unused = convert_variables(d, tf_vars, tf_source, "discriminator")
    unused = [n for n in unused if not IGNORED_VARIABLES.fullmatch(n)]
    if unused:
        raise TFPickleError(f"StyleGAN2-TF discriminator variables not understood: {unused}")
    return state


def convert_tf_discriminator(net: TFNetwork) -> torch.nn.Module:
    """A TF-era StyleGAN2 discriminator network -> :class:`Discriminator` (eval mode)."""
    from ganatlas.networks.stylegan2_discriminator import Discriminator

    if net.version < MIN_VERSION:
        raise TFPickleError(
            f"discriminator {net.name!r} ({net.build_func_name}) has state version "
            f"{net.version}; StyleGAN2-TF discriminators are version {MIN_VERSION}"
        )
    kwargs = convert_kwargs(net.static_kwargs)
    tf_vars, renamed = _rename_lod_fromrgb(net.all_variables(), int(kwargs["img_resolution"]))
    if renamed:
        kwargs["architecture"] = "orig"
    try:
        d = Discriminator(**kwargs)
    except (TypeError, ValueError) as exc:
        raise TFPickleError(
            f"cannot build a StyleGAN2 Discriminator from {kwargs}: {exc}"
        ) from None
    d.load_state_dict(convert_state(d, tf_vars), strict=True)
    d.source_format = "tensorflow"
    return d.eval()
