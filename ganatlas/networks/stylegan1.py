"""StyleGAN (Karras et al., CVPR 2019) generator in plain PyTorch.

The network of NVIDIA's TensorFlow ``G_style`` (``G_mapping`` + ``G_synthesis``):

- mapping: optional label embedding concatenated to z, pixel norm of the result, ``num_layers``
  equalised-lr dense layers with learning-rate multiplier 0.01 (the weights are stored divided
  by it), each followed by leaky ReLU; ``w_avg`` (NVIDIA's ``dlatent_avg``) is the truncation
  centre, applied to the first ``truncation_cutoff`` rows of W+.
- synthesis: a learned 4x4 constant, then per resolution two layers: 3x3 convolution (the first
  upsamples 2x: nearest neighbour then convolution, or from 128 px a transposed convolution with
  the summed 4x4 kernel; then the [1, 2, 1] blur), per-pixel noise with a learned strength per
  channel, bias, leaky ReLU, instance norm and AdaIN's style ``x * (1 + s) + b`` with
  ``(s, b)`` an affine map of that layer's row of W+. Every resolution has a 1x1 toRGB layer;
  ``lod`` blends them as in ProGAN (0, the default of a trained network, is the final
  resolution).

Weights are stored as NVIDIA stores them and scaled at run time (equalised learning rate).
``num_ws = 2 * log2(img_resolution) - 2``; the rows of ``ws`` may differ (style mixing).
:func:`from_tf_network` builds the generator from the state of a TF ``G_style`` network.

Differences from NVIDIA's ``Gs.run``: ganatlas's ``mapping`` truncates only when asked
(``truncation_psi=1`` by default, ``truncation_cutoff=None`` meaning every row), like the
StyleGAN2 API; NVIDIA's ``Gs`` defaults (psi 0.7, cutoff 8) are kept in ``nvidia_truncation``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganatlas.networks.base import MappedGenerator, records_init
from ganatlas.networks.progan import (
    SQRT2,
    DenseTo4x4,
    EqualizedConv2d,
    EqualizedLinear,
    activation_function,
    check_lod,
    grow_image,
    load_tf_variables,
    lod_plan,
    nf,
    pixel_norm,
    tf_conv,
    tf_dense,
    tf_same,
    to_rgb,
)

NOISE_MODES = ("random", "const", "none")


def _check_2d(t: torch.Tensor | None, name: str, dim: int) -> torch.Tensor:
    if t is None or t.ndim != 2 or t.shape[1] != dim:
        got = None if t is None else tuple(t.shape)
        raise ValueError(f"{name} must be [N, {dim}], got {got}")
    return t.to(torch.float32)


class MappingNetwork(nn.Module):
    """z (and c) -> W+: ``[N, z_dim]`` -> ``[N, num_ws, w_dim]`` (every row the same w)."""

    @records_init
    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        layer_features: int = 512,
        lr_multiplier: float = 0.01,
        activation: str = "lrelu",
        normalize_latents: bool = True,
        use_wscale: bool = True,
        w_avg_beta: float | None = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.normalize_latents = normalize_latents
        self.w_avg_beta = w_avg_beta
        self.act = activation_function(activation)
        if c_dim:
            # NVIDIA's LabelConcat: a plain (unscaled) matrix from c to z_dim features.
            self.embed = EqualizedLinear(c_dim, z_dim, use_wscale=False, bias=False)
        features = [z_dim * (2 if c_dim else 1)] + [layer_features] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            layer = EqualizedLinear(
                features[i], features[i + 1], gain=SQRT2, use_wscale=use_wscale,
                lrmul=lr_multiplier,
            )  # fmt: skip
            setattr(self, f"fc{i}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """Truncation: ``w_avg + psi * (w - w_avg)`` on all rows, or the first ``cutoff``."""
        x = _check_2d(z, "z", self.z_dim)
        if self.c_dim:
            y = self.embed(_check_2d(c, "c", self.c_dim))
            x = torch.cat([x, y], dim=1)
        if self.normalize_latents:
            x = pixel_norm(x)
        for i in range(self.num_layers):
            x = self.act(getattr(self, f"fc{i}")(x))
        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            rows = self.num_ws if truncation_cutoff is None else max(int(truncation_cutoff), 0)
            x[:, :rows] = self.w_avg.lerp(x[:, :rows], truncation_psi)
        return x


def blur_kernel(f: Sequence[float] | Sequence[Sequence[float]]) -> torch.Tensor:
    """NVIDIA's blur filter as a normalised 2-D kernel (a 1-D filter becomes its outer square)."""
    k = np.asarray(f, dtype=np.float32)
    if k.ndim == 1:
        k = k[:, None] * k[None, :]
    if k.ndim != 2:
        raise ValueError(f"blur_filter must be 1-D or 2-D, got shape {k.shape}")
    return torch.from_numpy(k / k.sum())


class StyleLayer(nn.Module):
    """One synthesis layer: [convolution] [blur] + noise + bias, activation, norms, AdaIN style.

    ``conv``: ``None`` (the 4x4 input layer), ``"same"`` (3x3), ``"nearest"`` or ``"fused"``
    (3x3 with 2x upsampling, then the blur when there is one).
    """

    @records_init
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        conv: str | None = "same",
        blur_filter: Sequence[float] | None = (1, 2, 1),
        use_noise: bool = True,
        activation: str = "lrelu",
        use_pixel_norm: bool = False,
        use_instance_norm: bool = True,
        use_wscale: bool = True,
    ) -> None:
        super().__init__()
        if conv not in (None, "same", "nearest", "fused"):
            raise ValueError(f"conv must be None, 'same', 'nearest' or 'fused', got {conv!r}")
        self.out_channels = out_channels
        self.resolution = resolution
        self.use_noise = use_noise
        self.use_pixel_norm = use_pixel_norm
        self.use_instance_norm = use_instance_norm
        self.act_ = activation_function(activation, inplace=True)
        self.conv = None
        if conv is not None:
            up = None if conv == "same" else conv
            self.conv = EqualizedConv2d(
                in_channels, out_channels, 3, use_wscale=use_wscale, up=up, bias=False
            )
        self.blur = None
        if conv in ("nearest", "fused") and blur_filter is not None and len(blur_filter):
            self.register_buffer("blur_filter", blur_kernel(blur_filter), persistent=False)
            self.blur = True
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([out_channels]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.affine = EqualizedLinear(w_dim, out_channels * 2, gain=1.0, use_wscale=use_wscale)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        k = self.blur_filter
        kh, kw = k.shape
        weight = k.to(x.dtype)[None, None].expand(x.shape[1], 1, kh, kw)
        if kh % 2 and kw % 2:
            return F.conv2d(x, weight, padding=(kh // 2, kw // 2), groups=x.shape[1])
        # TF 'SAME': the extra row/column of an even filter goes after.
        pad = [(kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2]
        return F.conv2d(F.pad(x, pad), weight, groups=x.shape[1])

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """``x: [N, I, H, W]`` (the input map for ``conv=None``), ``w: [N, w_dim]``.

        Noise is added before the bias as in NVIDIA's code; without blur the bias goes into the
        convolution (the sum is the same up to rounding). The conv output is updated in place
        (never a tensor autograd keeps), the input map of ``conv=None`` never.
        """
        bias = self.bias.view(1, -1, 1, 1)
        if self.conv is None:
            x = x + bias
        elif self.blur is None:
            x = self.conv(x, bias=self.bias)
        else:
            x = self._blur(self.conv(x)).add_(bias)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                shape = [x.shape[0], 1, x.shape[2], x.shape[3]]
                noise = torch.randn(shape, device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)[None, None]
            x.addcmul_(noise, self.noise_strength.view(1, -1, 1, 1))
        x = self.act_(x)
        if self.use_pixel_norm:
            x = pixel_norm(x)
        style = self.affine(w)
        scale = (style[:, : self.out_channels] + 1)[:, :, None, None]
        shift = style[:, self.out_channels :][:, :, None, None]
        if not self.use_instance_norm:
            return torch.addcmul(shift, x, scale)
        if torch.is_grad_enabled() and (x.requires_grad or scale.requires_grad):
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
            scale = scale * (var + 1e-8).rsqrt()
            return torch.addcmul(shift - mean * scale, x, scale)
        # Without autograd: the centred squares in the output's buffer (var_mean is several
        # times slower on CPU), then the output over them.
        mean = x.mean(dim=(2, 3), keepdim=True)
        out = torch.sub(x, mean)
        var = out.square_().mean(dim=(2, 3), keepdim=True)
        scale = scale * (var + 1e-8).rsqrt()
        return torch.addcmul(shift - mean * scale, x, scale, out=out)


class SynthesisBlock(nn.Module):
    """One resolution: (4x4 input and ``conv0`` epilogue) or ``conv0`` (up 2x), then ``conv1``;
    ``torgb``."""

    #: oneDNN's convolutions (and the depthwise blur) run much faster on NHWC tensors.
    channels_last_on_cpu = True

    @records_init
    def __init__(
        self,
        in_channels: int,
        channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        const_input_layer: bool = True,
        fused_scale: bool | str = "auto",
        use_wscale: bool = True,
        nonlinearity: str = "lrelu",
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.const_input_layer = const_input_layer
        kw = dict(layer_kwargs, activation=nonlinearity, use_wscale=use_wscale)
        if resolution == 4:
            if const_input_layer:
                self.const = nn.Parameter(torch.ones([channels, 4, 4]))
            else:
                # NVIDIA's gain sqrt(2)/4 (as in ProGAN); the bias is the epilogue's.
                self.dense = DenseTo4x4(
                    w_dim, channels, gain=SQRT2 / 4, use_wscale=use_wscale, bias=False
                )
            self.conv0 = StyleLayer(channels, channels, w_dim, 4, conv=None, **kw)
        else:
            fused = resolution >= 128 if fused_scale == "auto" else bool(fused_scale)
            up = "fused" if fused else "nearest"
            self.conv0 = StyleLayer(in_channels, channels, w_dim, resolution, conv=up, **kw)
        self.conv1 = StyleLayer(channels, channels, w_dim, resolution, conv="same", **kw)
        self.torgb = to_rgb(channels, img_channels, use_wscale=use_wscale)

    def forward(
        self, x: torch.Tensor | None, w0: torch.Tensor, w1: torch.Tensor, noise_mode: str
    ) -> torch.Tensor:
        if self.resolution == 4:
            if self.const_input_layer:
                x = self.const.unsqueeze(0).expand(w0.shape[0], -1, -1, -1)
            else:
                x = self.dense(w0)
            if x.device.type == "cpu" and self.channels_last_on_cpu:
                x = x.contiguous(memory_format=torch.channels_last)  # every layer follows
        x = self.conv0(x, w0, noise_mode=noise_mode)
        return self.conv1(x, w1, noise_mode=noise_mode)


class SynthesisNetwork(nn.Module):
    """``ws: [N, num_ws, w_dim]`` -> image through blocks ``b4 ... b{img_resolution}``."""

    @records_init
    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        fmap_base: int = 8192,
        fmap_decay: float = 1.0,
        fmap_max: int = 512,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.resolution_log2 = int(np.log2(img_resolution))
        self.num_ws = 2 * self.resolution_log2 - 2
        self.block_resolutions = [2**r for r in range(2, self.resolution_log2 + 1)]
        in_channels = 0
        for r in range(2, self.resolution_log2 + 1):
            ch = nf(r - 1, fmap_base, fmap_decay, fmap_max)
            block = SynthesisBlock(in_channels, ch, w_dim, 2**r, img_channels, **block_kwargs)
            setattr(self, f"b{2**r}", block)
            in_channels = ch
        self.register_buffer("lod", torch.zeros([]))

    def _rgb(self, log2: int, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"b{2**log2}").torgb(x)

    def forward(
        self, ws: torch.Tensor, noise_mode: str = "random", lod: float | None = None
    ) -> torch.Tensor:
        """``ws: [N, num_ws, w_dim]`` -> ``img: [N, img_channels, R, R]`` (float32).

        ``noise_mode``: ``random`` (fresh noise from torch's generator; NVIDIA's default
        ``randomize_noise=True``), ``const`` (the stored noise, ``randomize_noise=False``: the
        same ``ws`` always gives the same image; what ganatlas's stages pass) or ``none``.
        ``lod``: level of detail (None: the stored ``lod``, 0 for a trained network).
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        ws = ws.to(torch.float32)
        lod = check_lod(self.lod.item() if lod is None else lod, self.resolution_log2)
        stop, t = lod_plan(lod, self.resolution_log2, first=3)
        x_prev = x = None
        for r in range(2, stop + 1):
            block = getattr(self, f"b{2**r}")
            x_prev, x = x, block(x, ws[:, 2 * r - 4], ws[:, 2 * r - 3], noise_mode)
        img = grow_image(self._rgb, x, x_prev, stop, t, self.resolution_log2)
        return img.contiguous()


class Generator(MappedGenerator):
    """StyleGAN (2019) generator: ``mapping`` (z, c -> ws) then ``synthesis`` (ws -> img).

    ``mapping_kwargs``: :class:`MappingNetwork`'s (``num_layers``, ``layer_features``,
    ``lr_multiplier``, ...); ``synthesis_kwargs``: ``fmap_base``, ``fmap_decay``, ``fmap_max``,
    ``const_input_layer``, ``fused_scale``, ``use_wscale``, ``nonlinearity`` and the layer options
    ``blur_filter``, ``use_noise``, ``use_pixel_norm``, ``use_instance_norm``.
    """

    @records_init
    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        w_dim: int = 512,
        img_resolution: int = 1024,
        img_channels: int = 3,
        mapping_kwargs: dict | None = None,
        synthesis_kwargs: dict | None = None,
        nvidia_truncation: tuple[float, int | None] = (0.7, 8),
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.nvidia_truncation = tuple(nvidia_truncation)
        self.synthesis = SynthesisNetwork(
            w_dim, img_resolution, img_channels, **dict(synthesis_kwargs or {})
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim, c_dim, w_dim, self.num_ws, **dict(mapping_kwargs or {})
        )


# --------------------------------------------------------------------------- TF variables

#: NVIDIA's defaults of the keyword arguments that shape ``G_style``'s networks.
G_STYLE_DEFAULTS: dict[str, Any] = {"truncation_psi": 0.7, "truncation_cutoff": 8}
G_MAPPING_DEFAULTS: dict[str, Any] = {
    "latent_size": 512,
    "label_size": 0,
    "dlatent_size": 512,
    "mapping_layers": 8,
    "mapping_fmaps": 512,
    "mapping_lrmul": 0.01,
    "mapping_nonlinearity": "lrelu",
    "use_wscale": True,
    "normalize_latents": True,
}
G_SYNTHESIS_DEFAULTS: dict[str, Any] = {
    "dlatent_size": 512,
    "num_channels": 3,
    "resolution": 1024,
    "fmap_base": 8192,
    "fmap_decay": 1.0,
    "fmap_max": 512,
    "use_styles": True,
    "const_input_layer": True,
    "use_noise": True,
    "nonlinearity": "lrelu",
    "use_wscale": True,
    "use_pixel_norm": False,
    "use_instance_norm": True,
    "fused_scale": "auto",
    "blur_filter": [1, 2, 1],
}


def _component(net: Any, key: str) -> Any:
    comps = getattr(net, "components", None) or {}
    if key not in comps:
        raise ValueError(
            f"StyleGAN network {net.name!r} has no {key!r} component (has {sorted(comps)})"
        )
    return comps[key]


def stylegan1_kwargs(net: Any) -> dict[str, Any]:
    """:class:`Generator` kwargs from a ``G_style`` network's (and its components') kwargs."""
    top = dict(net.static_kwargs)
    m = G_MAPPING_DEFAULTS | {k: v for k, v in top.items() if k in G_MAPPING_DEFAULTS}
    m |= {k: v for k, v in _component(net, "mapping").static_kwargs.items() if k in m}
    s = G_SYNTHESIS_DEFAULTS | {k: v for k, v in top.items() if k in G_SYNTHESIS_DEFAULTS}
    s |= {k: v for k, v in _component(net, "synthesis").static_kwargs.items() if k in s}
    if not s["use_styles"]:
        raise ValueError("G_synthesis with use_styles=False is not supported")
    if int(m["dlatent_size"]) != int(s["dlatent_size"]):
        raise ValueError(f"mapping dlatent_size {m['dlatent_size']} != {s['dlatent_size']}")
    trunc = G_STYLE_DEFAULTS | {k: v for k, v in top.items() if k in G_STYLE_DEFAULTS}
    fused = s["fused_scale"]
    return dict(
        z_dim=int(m["latent_size"]), c_dim=int(m["label_size"]), w_dim=int(m["dlatent_size"]),
        img_resolution=int(s["resolution"]), img_channels=int(s["num_channels"]),
        mapping_kwargs=dict(
            num_layers=int(m["mapping_layers"]), layer_features=int(m["mapping_fmaps"]),
            lr_multiplier=float(m["mapping_lrmul"]), activation=str(m["mapping_nonlinearity"]),
            normalize_latents=bool(m["normalize_latents"]), use_wscale=bool(m["use_wscale"]),
        ),
        synthesis_kwargs=dict(
            fmap_base=int(s["fmap_base"]), fmap_decay=float(s["fmap_decay"]),
            fmap_max=int(s["fmap_max"]), const_input_layer=bool(s["const_input_layer"]),
            fused_scale=fused if fused == "auto" else bool(fused),
            use_wscale=bool(s["use_wscale"]), nonlinearity=str(s["nonlinearity"]),
            blur_filter=list(s["blur_filter"]) if s["blur_filter"] else None,
            use_noise=bool(s["use_noise"]), use_pixel_norm=bool(s["use_pixel_norm"]),
            use_instance_norm=bool(s["use_instance_norm"]),
        ),
        nvidia_truncation=(trunc["truncation_psi"], trunc["truncation_cutoff"]),
    )  # fmt: skip


Conversion = Callable[[np.ndarray], np.ndarray]


def _noise(a: np.ndarray) -> np.ndarray:
    """TF ``[1, 1, R, R]`` -> ``[R, R]``."""
    return np.ascontiguousarray(a.reshape(a.shape[-2:]))


def _const(a: np.ndarray) -> np.ndarray:
    """TF ``[1, C, 4, 4]`` -> ``[C, 4, 4]``."""
    return np.ascontiguousarray(a[0])


def tf_variable_map(g: Generator) -> dict[str, dict[str, tuple[str, Conversion]]]:
    """Per TF network (``G_style``, ``G_mapping``, ``G_synthesis``): variable name ->
    (state-dict key, TF-to-PyTorch conversion), in NVIDIA's order."""
    same = tf_same
    top = {"lod": ("synthesis.lod", same), "dlatent_avg": ("mapping.w_avg", same)}
    mapping: dict[str, tuple[str, Conversion]] = {}
    if g.c_dim:
        mapping["LabelConcat/weight"] = ("mapping.embed.weight", tf_dense)
    for i in range(g.mapping.num_layers):
        mapping[f"Dense{i}/weight"] = (f"mapping.fc{i}.weight", tf_dense)
        mapping[f"Dense{i}/bias"] = (f"mapping.fc{i}.bias", same)
    syn = g.synthesis
    synthesis: dict[str, tuple[str, Conversion]] = {}
    b4 = syn.b4
    if b4.conv0.use_noise:
        for i in range(syn.num_ws):
            block, layer = 2 ** (i // 2 + 2), i % 2
            synthesis[f"noise{i}"] = (f"synthesis.b{block}.conv{layer}.noise_const", _noise)

    def layer(tf_scope: str, key: str, with_conv: bool) -> None:
        mod = g.get_submodule(key)
        if with_conv:
            synthesis[f"{tf_scope}/weight"] = (f"{key}.conv.weight", tf_conv)
        if mod.use_noise:
            synthesis[f"{tf_scope}/Noise/weight"] = (f"{key}.noise_strength", same)
        synthesis[f"{tf_scope}/bias"] = (f"{key}.bias", same)
        synthesis[f"{tf_scope}/StyleMod/weight"] = (f"{key}.affine.weight", tf_dense)
        synthesis[f"{tf_scope}/StyleMod/bias"] = (f"{key}.affine.bias", same)

    for r in range(2, syn.resolution_log2 + 1):
        res, key = 2**r, f"synthesis.b{2**r}"
        if r == 2:
            if b4.const_input_layer:
                synthesis["4x4/Const/const"] = (f"{key}.const", _const)
                layer("4x4/Const", f"{key}.conv0", with_conv=False)
            else:
                synthesis["4x4/Dense/weight"] = (f"{key}.dense.weight", tf_dense)
                layer("4x4/Dense", f"{key}.conv0", with_conv=False)
            layer("4x4/Conv", f"{key}.conv1", with_conv=True)
        else:
            layer(f"{res}x{res}/Conv0_up", f"{key}.conv0", with_conv=True)
            layer(f"{res}x{res}/Conv1", f"{key}.conv1", with_conv=True)
        lod = syn.resolution_log2 - r
        synthesis[f"ToRGB_lod{lod}/weight"] = (f"{key}.torgb.weight", tf_conv)
        synthesis[f"ToRGB_lod{lod}/bias"] = (f"{key}.torgb.bias", same)
    return {"G_style": top, "G_mapping": mapping, "G_synthesis": synthesis}


def from_tf_network(net: Any) -> Generator:
    """Build the generator a TF ``G_style`` network state describes (a ``TFNetwork``: ``name``,
    ``static_kwargs``, ``variables`` and ``components`` ``mapping`` and ``synthesis``).

    The synthesis network's own ``lod`` variable is ignored: NVIDIA's ``G_style`` overwrites it
    with its own ``lod`` at every run.
    """
    g = Generator(**stylegan1_kwargs(net))
    maps = tf_variable_map(g)
    parts = {
        "G_style": dict(net.variables),
        "G_mapping": dict(_component(net, "mapping").variables),
        "G_synthesis": dict(_component(net, "synthesis").variables),
    }
    parts["G_synthesis"].pop("lod", None)
    flat_vars: dict[str, np.ndarray] = {}
    flat_map: dict[str, tuple[str, Conversion]] = {}
    for part, mapping in maps.items():
        for name, value in parts[part].items():
            flat_vars[f"{part}:{name}"] = value
        for name, entry in mapping.items():
            flat_map[f"{part}:{name}"] = entry
    load_tf_variables(g, flat_vars, flat_map, f"StyleGAN network {net.name!r}")
    g.family = "stylegan1"
    return g.eval().requires_grad_(False)


def tf_variables(g: Generator) -> dict[str, dict[str, np.ndarray]]:
    """The generator's tensors as TF variables per network (inverse of the import); the
    synthesis network's ``lod`` repeats ``G_style``'s. 0-d variables are numpy scalars, as TF's
    ``session.run`` returns them."""
    inverse: dict[Any, Conversion] = {
        tf_dense: lambda a: np.ascontiguousarray(a.T),
        tf_conv: lambda a: np.ascontiguousarray(np.transpose(a, (2, 3, 1, 0))),
        _noise: lambda a: np.ascontiguousarray(a[None, None]),
        _const: lambda a: np.ascontiguousarray(a[None]),
    }
    sd = g.state_dict()
    out: dict[str, dict[str, np.ndarray]] = {}
    for part, mapping in tf_variable_map(g).items():
        out[part] = {}
        for name, (key, conv) in mapping.items():
            arr = sd[key].detach().cpu().numpy().astype(np.float32)
            out[part][name] = inverse.get(conv, tf_same)(arr) if arr.ndim else np.float32(arr)
    out["G_synthesis"] = {"lod": out["G_style"]["lod"], **out["G_synthesis"]}
    return out


def tf_static_kwargs(g: Generator) -> dict[str, dict[str, Any]]:
    """``G_style``'s, ``G_mapping``'s and ``G_synthesis``'s static kwargs (NVIDIA's names) for
    ``g``, as NVIDIA's ``tflib.Network`` would store them (inverse of :func:`stylegan1_kwargs`)."""
    mk, sk = g.mapping._init_kwargs, g.synthesis._init_kwargs
    m, syn = g.mapping, g.synthesis
    common = dict(
        latent_size=g.z_dim, label_size=g.c_dim, dlatent_size=g.w_dim,
        resolution=g.img_resolution, num_channels=g.img_channels,
        mapping_layers=m.num_layers, mapping_fmaps=mk.get("layer_features", 512),
        mapping_lrmul=mk.get("lr_multiplier", 0.01),
        mapping_nonlinearity=mk.get("activation", "lrelu"),
        normalize_latents=m.normalize_latents,
    )  # fmt: skip
    for key in ("fmap_base", "fmap_decay", "fmap_max", "const_input_layer", "fused_scale",
                "nonlinearity", "blur_filter", "use_noise", "use_pixel_norm",
                "use_instance_norm"):  # fmt: skip
        if key in sk:
            common[key] = sk[key]
    if sk.get("use_wscale", True) != mk.get("use_wscale", True):
        raise ValueError("NVIDIA's G_style shares use_wscale between mapping and synthesis")
    common["use_wscale"] = sk.get("use_wscale", True)
    psi, cutoff = g.nvidia_truncation
    return {
        "G_style": dict(common, truncation_psi=psi, truncation_cutoff=cutoff),
        "G_mapping": dict(common, dlatent_broadcast=syn.num_ws),
        "G_synthesis": dict(common),
    }


__all__: Sequence[str] = (
    "Generator",
    "MappingNetwork",
    "SynthesisNetwork",
    "from_tf_network",
    "stylegan1_kwargs",
    "tf_variable_map",
    "tf_variables",
)


def _register() -> None:
    from ganatlas.networks.tf_pickle import register_tf_builder

    register_tf_builder("G_style", from_tf_network)


_register()
