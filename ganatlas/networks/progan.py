"""Progressive GAN generator (Karras et al., ICLR 2018) in plain PyTorch.

The network of NVIDIA's TensorFlow ``G_paper``: the latent (and label) vector, pixel-normalised,
goes through a dense layer to 4x4, then two 3x3 convolutions per resolution (the first one
upsamples 2x: nearest neighbour then convolution, or both at once as a transposed convolution with
the 4x4 kernel ``fused_scale`` builds), each followed by bias, leaky ReLU and pixel norm. Every
resolution has a 1x1 toRGB layer; the level of detail ``lod`` chooses which resolution's image is
shown and blends two neighbours when it is fractional (0 = the final resolution).

Weights are stored as NVIDIA stores them (unscaled, drawn from N(0, 1)); the equalised learning
rate's He constant ``gain / sqrt(fan_in)`` is applied at run time.

W = Z: the mapping is the identity (``ws = [z, c]``, ``num_ws = 1``), so studies that work in W
work here unchanged. :func:`from_tf_network` builds the generator from the state of a TF
``tfutil.Network`` whose build function is ``G_paper``.

The pieces StyleGAN (2019) inherited (equalised-lr layers, pixel norm, nearest and fused
upsampling, toRGB and the ``lod`` blend) live here and are imported by
:mod:`ganatlas.networks.stylegan1`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganatlas.networks.base import InitArgs, broadcast_w, records_init

SQRT2 = math.sqrt(2.0)
LRELU_ALPHA = 0.2


# --------------------------------------------------------------------------- shared ops


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale every feature vector (dim 1) to unit root-mean-square."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def activation_function(name: str, inplace: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """``lrelu`` (slope 0.2) or ``relu``; the He gain lives in the weights, not here."""
    if name == "lrelu":
        return lambda x: F.leaky_relu(x, LRELU_ALPHA, inplace=inplace)
    if name == "relu":
        return lambda x: F.relu(x, inplace=inplace)
    raise ValueError(f"activation must be 'lrelu' or 'relu', got {name!r}")


def upscale_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour upsampling of ``[N, C, H, W]`` by an integer ``factor``."""
    if factor == 1:
        return x
    n, c, h, w = x.shape
    x = x[:, :, :, None, :, None].expand(n, c, h, factor, w, factor)
    return x.reshape(n, c, h * factor, w * factor)


def fused_up_kernel(weight: torch.Tensor) -> torch.Tensor:
    """``[O, I, k, k]`` -> the ``[I, O, k+1, k+1]`` transposed-convolution weight of NVIDIA's
    fused 2x upsampling: the kernel summed over its shifts by (0|1, 0|1).

    A stride-2 transposed convolution with ``fused_up_kernel(w)`` equals nearest-neighbour 2x
    upsampling followed by the convolution with ``w`` rotated by 180 degrees (so NVIDIA's fused
    and unfused layers give different images for the same stored weights).
    """
    w = F.pad(weight, [1, 1, 1, 1])
    w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
    return w.transpose(0, 1)


def he_gain(fan_in: int, gain: float, use_wscale: bool, lrmul: float = 1.0) -> float:
    """Run-time weight multiplier: ``gain / sqrt(fan_in) * lrmul`` (equalised lr) or ``lrmul``."""
    return float(gain / np.sqrt(fan_in) * lrmul) if use_wscale else float(lrmul)


class EqualizedLinear(nn.Module):
    """``x @ (weight * weight_gain).T + bias * lrmul``; ``weight: [out, in]``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        gain: float = SQRT2,
        use_wscale: bool = True,
        lrmul: float = 1.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn([out_features, in_features]))
        self.bias = nn.Parameter(torch.zeros([out_features])) if bias else None
        self.weight_gain = he_gain(in_features, gain, use_wscale, lrmul)
        self.bias_gain = float(lrmul)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [N, in]`` -> ``[N, out]``."""
        w = self.weight * self.weight_gain
        if self.bias is None:
            return x.matmul(w.t())
        b = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        return torch.addmm(b.unsqueeze(0), x, w.t())

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class DenseTo4x4(nn.Module):
    """Equalised-lr dense layer to a ``[N, C, 4, 4]`` map, plus a per-channel bias.

    ``weight: [C * 16, in]``; ``bias: [C]`` (None: the caller adds its own).
    """

    def __init__(
        self, in_features: int, channels: int, gain: float, use_wscale: bool, bias: bool = True
    ) -> None:
        super().__init__()
        self.channels = channels
        self.weight = nn.Parameter(torch.randn([channels * 16, in_features]))
        self.bias = nn.Parameter(torch.zeros([channels])) if bias else None
        self.weight_gain = he_gain(in_features, gain, use_wscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.matmul((self.weight * self.weight_gain).t()).reshape(-1, self.channels, 4, 4)
        return x if self.bias is None else x + self.bias.view(1, -1, 1, 1)


class EqualizedConv2d(nn.Module):
    """Equalised-lr ``k x k`` convolution, 'SAME' zero padding; ``weight: [out, in, k, k]``.

    ``up``: ``None``, ``"nearest"`` (2x nearest neighbour, then the convolution) or ``"fused"``
    (one stride-2 transposed convolution with :func:`fused_up_kernel`). ``bias=False``: no bias
    of its own (StyleGAN's layers add theirs after blur and noise).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        gain: float = SQRT2,
        use_wscale: bool = True,
        up: str | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if up not in (None, "nearest", "fused"):
            raise ValueError(f"up must be None, 'nearest' or 'fused', got {up!r}")
        if up == "fused" and kernel_size != 3:
            raise ValueError("fused upsampling is defined for 3x3 kernels only")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size
        self.up = up
        self.weight = nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        )
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None
        self.weight_gain = he_gain(in_channels * kernel_size**2, gain, use_wscale)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``[N, in, H, W]`` -> ``[N, out, H*s, W*s]`` (``s`` 2 when upsampling, else 1).

        ``bias``: a per-channel bias to add instead of this layer's own (if it has one).
        """
        b = self.bias if bias is None else bias
        if self.up is not None and self.kernel_size == 3:
            # fused: NVIDIA's kernel. nearest: 2x nearest then 3x3 equals the transposed
            # convolution with the flipped kernel (4 instead of 9 multiply-adds per output
            # pixel, no upsampled copy).
            return F.conv_transpose2d(x, self._up_kernel(), b, stride=2, padding=1)
        w = self.weight * self.weight_gain
        if self.up == "nearest":
            x = upscale_nearest(x, 2)
        return F.conv2d(x, w, b, padding=self.kernel_size // 2)

    def _up_kernel(self) -> torch.Tensor:
        """The 4x4 transposed-convolution kernel; kept (by this layer only) while the weight is
        unchanged and no gradient is taken (at 512 channels it costs as much as a small
        convolution). Never kept for an inference tensor (no version counter to see changes)."""
        weight = self.weight
        key = None
        if not weight.is_inference():  # inference tensors have no version counter: no cache
            key = (weight._version, weight.data_ptr(), weight.dtype, weight.device)
        cached = getattr(self, "_up_kernel_cache", None)
        if key is not None and cached is not None and cached[0] == key:
            if not torch.is_grad_enabled():
                return cached[1]
        w = weight * self.weight_gain
        kernel = fused_up_kernel(w if self.up == "fused" else w.flip(2, 3))
        if key is not None and not (torch.is_grad_enabled() and weight.requires_grad):
            self._up_kernel_cache = (key, kernel.detach())
        return kernel

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, up={self.up}"
        )


def to_rgb(in_channels: int, img_channels: int, use_wscale: bool = True) -> EqualizedConv2d:
    """The toRGB layer: a 1x1 equalised-lr convolution with gain 1, plus bias."""
    return EqualizedConv2d(in_channels, img_channels, 1, gain=1.0, use_wscale=use_wscale)


def check_lod(lod: float, resolution_log2: int) -> float:
    """``lod`` as a float in ``[0, log2(resolution) - 2]`` (ValueError otherwise)."""
    lod = float(lod)
    if not 0 <= lod <= resolution_log2 - 2:
        raise ValueError(
            f"lod must be in [0, {resolution_log2 - 2}] (0 = {2**resolution_log2} px, "
            f"{resolution_log2 - 2} = 4 px), got {lod}"
        )
    return lod


def lod_plan(lod: float, resolution_log2: int, first: int) -> tuple[int, float]:
    """The last resolution (log2) that ``lod`` needs, and its blend weight towards the one below.

    As NVIDIA's recursive growth: resolution ``2**r`` is computed while ``lod < R - r`` holds
    for the one before it; at the last one the image is ``lerp(rgb(r), up(rgb(r - 1)), t)`` with
    ``t = lod - (R - r)`` (no blend when ``t`` is 0), then upsampled to the final size. ``first``:
    the lowest resolution (log2) the growth stops at (2 in ProGAN; 3 in StyleGAN, whose 4x4
    image appears only as the blend at ``t = 1``).
    """
    stop = min(max(math.ceil(resolution_log2 - lod), first), resolution_log2)
    return stop, lod - (resolution_log2 - stop)


def grow_image(
    rgb: Callable[[int, torch.Tensor], torch.Tensor],
    x_stop: torch.Tensor,
    x_prev: torch.Tensor | None,
    stop: int,
    t: float,
    resolution_log2: int,
) -> torch.Tensor:
    """The image at level ``stop`` (features ``x_stop``), blended towards the level below."""
    img = rgb(stop, x_stop)
    if t > 0 and x_prev is not None:
        low = upscale_nearest(rgb(stop - 1, x_prev), 2)
        img = img + (low - img) * t
    return upscale_nearest(img, 2 ** (resolution_log2 - stop))


# --------------------------------------------------------------------------- ProGAN


def nf(stage: int, fmap_base: int, fmap_decay: float, fmap_max: int) -> int:
    """NVIDIA's feature-map count at ``stage`` (stage ``r - 1`` for resolution ``2**r``)."""
    return min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


class SynthesisBlock(nn.Module):
    """One resolution: ``dense`` + ``conv`` at 4x4, else ``conv0`` (up 2x) + ``conv1``; ``torgb``."""

    def __init__(
        self,
        in_features: int,
        channels: int,
        resolution: int,
        img_channels: int,
        use_wscale: bool,
        fused_scale: bool,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.channels = channels
        if resolution == 4:
            # NVIDIA's gain sqrt(2)/4 "to match the original Theano implementation"; bias per
            # channel of the 4x4 map.
            self.dense = DenseTo4x4(in_features, channels, gain=SQRT2 / 4, use_wscale=use_wscale)
            self.conv = EqualizedConv2d(channels, channels, 3, use_wscale=use_wscale)
        else:
            up = "fused" if fused_scale else "nearest"
            self.conv0 = EqualizedConv2d(in_features, channels, 3, use_wscale=use_wscale, up=up)
            self.conv1 = EqualizedConv2d(channels, channels, 3, use_wscale=use_wscale)
        self.torgb = to_rgb(channels, img_channels, use_wscale=use_wscale)

    #: oneDNN's convolutions run much faster on NHWC tensors.
    channels_last_on_cpu = True

    def forward(self, x: torch.Tensor, post: Callable[[torch.Tensor], torch.Tensor]):
        """``post``: activation (in place) then pixel norm, after each layer's bias."""
        if self.resolution == 4:
            x = post(self.dense(x))
            if x.device.type == "cpu" and self.channels_last_on_cpu:
                x = x.contiguous(memory_format=torch.channels_last)  # every layer follows
            return post(self.conv(x))
        return post(self.conv1(post(self.conv0(x))))


class SynthesisNetwork(nn.Module):
    """``ws: [N, 1, z_dim + c_dim]`` -> image, blocks ``b4 ... b{img_resolution}``."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        fmap_base: int = 8192,
        fmap_decay: float = 1.0,
        fmap_max: int = 512,
        normalize_latents: bool = True,
        use_wscale: bool = True,
        use_pixelnorm: bool = True,
        pixelnorm_epsilon: float = 1e-8,
        use_leakyrelu: bool = True,
        fused_scale: bool = True,
    ) -> None:
        super().__init__()
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.resolution_log2 = int(np.log2(img_resolution))
        self.normalize_latents = normalize_latents
        self.use_pixelnorm = use_pixelnorm
        self.pixelnorm_epsilon = pixelnorm_epsilon
        self.act_ = activation_function("lrelu" if use_leakyrelu else "relu", inplace=True)
        self.num_ws = 1
        self.block_resolutions = [2**r for r in range(2, self.resolution_log2 + 1)]
        in_features = w_dim
        for r in range(2, self.resolution_log2 + 1):
            ch = nf(r - 1, fmap_base, fmap_decay, fmap_max)
            block = SynthesisBlock(
                in_features, ch, 2**r, img_channels, use_wscale=use_wscale,
                fused_scale=fused_scale,
            )  # fmt: skip
            setattr(self, f"b{2**r}", block)
            in_features = ch
        self.register_buffer("lod", torch.zeros([]))

    def _post(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_(x)  # x is always a fresh layer output
        return pixel_norm(x, self.pixelnorm_epsilon) if self.use_pixelnorm else x

    def _rgb(self, log2: int, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"b{2**log2}").torgb(x)

    def forward(
        self, ws: torch.Tensor, noise_mode: str = "const", lod: float | None = None
    ) -> torch.Tensor:
        """``ws: [N, 1, w_dim]`` (or ``[N, w_dim]``) -> ``img: [N, C, R, R]``.

        ``lod``: level of detail (None: the stored ``lod``, 0 for a trained network).
        ``noise_mode`` is accepted for the common API; ProGAN has no noise inputs.
        """
        w = broadcast_w(ws, 1)[:, 0].to(torch.float32)
        if w.shape[1] != self.w_dim:
            raise ValueError(f"ws must be [N, 1, {self.w_dim}], got {tuple(ws.shape)}")
        lod = check_lod(self.lod.item() if lod is None else lod, self.resolution_log2)
        stop, t = lod_plan(lod, self.resolution_log2, first=2)
        x = pixel_norm(w, self.pixelnorm_epsilon) if self.normalize_latents else w
        x_prev = None
        for r in range(2, stop + 1):
            x_prev, x = x, getattr(self, f"b{2**r}")(x, self._post)
        img = grow_image(self._rgb, x, x_prev if stop > 2 else None, stop, t, self.resolution_log2)
        return img.contiguous()


class Generator(InitArgs, nn.Module):
    """Progressive GAN generator with the common ``G`` API (W = Z, ``num_ws = 1``).

    ``w_dim = z_dim + c_dim``: ``mapping`` concatenates z and the label c (as NVIDIA's network
    does before its first layer); truncation scales the z part towards 0, the label part stays.
    Other keyword arguments are ``G_paper``'s (``fmap_base``, ``use_pixelnorm``, ...).
    """

    @records_init
    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        img_resolution: int = 1024,
        img_channels: int = 3,
        **synthesis_kwargs: Any,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.w_dim = z_dim + c_dim
        self.num_ws = 1
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(
            self.w_dim, img_resolution, img_channels, **synthesis_kwargs
        )
        self.register_buffer("w_avg", torch.zeros([self.w_dim]))

    def mapping(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``z: [N, z_dim]``, ``c: [N, c_dim]`` -> ``ws: [N, 1, z_dim + c_dim]`` (identity)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {tuple(z.shape)}")
        w = z.to(torch.float32)
        if truncation_psi != 1:
            w = self.w_avg[: self.z_dim].lerp(w, truncation_psi)
        if self.c_dim:
            if c is None or c.shape != (z.shape[0], self.c_dim):
                got = None if c is None else tuple(c.shape)
                raise ValueError(f"c must be [{z.shape[0]}, {self.c_dim}], got {got}")
            w = torch.cat([w, c.to(torch.float32)], dim=1)
        return w.unsqueeze(1)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        lod: float | None = None,
        **_: Any,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi)
        return self.synthesis(ws, noise_mode=noise_mode, lod=lod)


# --------------------------------------------------------------------------- TF variables


#: ``G_paper``'s defaults for the keyword arguments that shape the network.
G_PAPER_DEFAULTS: dict[str, Any] = {
    "num_channels": 1,
    "resolution": 32,
    "label_size": 0,
    "fmap_base": 8192,
    "fmap_decay": 1.0,
    "fmap_max": 512,
    "latent_size": None,
    "normalize_latents": True,
    "use_wscale": True,
    "use_pixelnorm": True,
    "pixelnorm_epsilon": 1e-8,
    "use_leakyrelu": True,
    "fused_scale": True,
}


def tf_same(a: np.ndarray) -> np.ndarray:
    """A float32 copy in the same layout (biases, scalars)."""
    return np.array(a, dtype=np.float32)


def tf_conv(w: np.ndarray) -> np.ndarray:
    """TF ``[k, k, in, out]`` -> PyTorch ``[out, in, k, k]``."""
    return np.ascontiguousarray(np.transpose(w, (3, 2, 0, 1)))


def tf_conv_out_in(w: np.ndarray) -> np.ndarray:
    """TF ``[k, k, out, in]`` (ProGAN's fused up-convolution) -> PyTorch ``[out, in, k, k]``."""
    return np.ascontiguousarray(np.transpose(w, (2, 3, 0, 1)))


def tf_dense(w: np.ndarray) -> np.ndarray:
    """TF ``[in, out]`` -> PyTorch ``[out, in]``."""
    return np.ascontiguousarray(w.T)


def progan_kwargs(static_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """:class:`Generator` kwargs from ``G_paper``'s static kwargs (NVIDIA's defaults filled in)."""
    kw = G_PAPER_DEFAULTS | {k: v for k, v in static_kwargs.items() if k in G_PAPER_DEFAULTS}
    fmap = (int(kw["fmap_base"]), float(kw["fmap_decay"]), int(kw["fmap_max"]))
    latent = kw["latent_size"]
    return dict(
        z_dim=int(latent) if latent is not None else nf(0, *fmap),
        c_dim=int(kw["label_size"]),
        img_resolution=int(kw["resolution"]),
        img_channels=int(kw["num_channels"]),
        fmap_base=fmap[0], fmap_decay=fmap[1], fmap_max=fmap[2],
        normalize_latents=bool(kw["normalize_latents"]), use_wscale=bool(kw["use_wscale"]),
        use_pixelnorm=bool(kw["use_pixelnorm"]),
        pixelnorm_epsilon=float(kw["pixelnorm_epsilon"]),
        use_leakyrelu=bool(kw["use_leakyrelu"]), fused_scale=bool(kw["fused_scale"]),
    )  # fmt: skip


def tf_variable_map(g: Generator) -> dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """TF variable name -> (state-dict key, TF-to-PyTorch array conversion), in TF's order."""
    syn = g.synthesis
    out: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {}
    same = tf_same
    out["lod"] = ("synthesis.lod", same)
    for r in range(2, syn.resolution_log2 + 1):
        res, key = 2**r, f"synthesis.b{2**r}"
        if r == 2:
            out["4x4/Dense/weight"] = (f"{key}.dense.weight", tf_dense)
            out["4x4/Dense/bias"] = (f"{key}.dense.bias", same)
            out["4x4/Conv/weight"] = (f"{key}.conv.weight", tf_conv)
            out["4x4/Conv/bias"] = (f"{key}.conv.bias", same)
        else:
            block = getattr(syn, f"b{res}")
            if block.conv0.up == "fused":
                out[f"{res}x{res}/Conv0_up/weight"] = (f"{key}.conv0.weight", tf_conv_out_in)
                out[f"{res}x{res}/Conv0_up/bias"] = (f"{key}.conv0.bias", same)
            else:
                out[f"{res}x{res}/Conv0/weight"] = (f"{key}.conv0.weight", tf_conv)
                out[f"{res}x{res}/Conv0/bias"] = (f"{key}.conv0.bias", same)
            out[f"{res}x{res}/Conv1/weight"] = (f"{key}.conv1.weight", tf_conv)
            out[f"{res}x{res}/Conv1/bias"] = (f"{key}.conv1.bias", same)
        lod = syn.resolution_log2 - r
        out[f"ToRGB_lod{lod}/weight"] = (f"{key}.torgb.weight", tf_conv)
        out[f"ToRGB_lod{lod}/bias"] = (f"{key}.torgb.bias", same)
    return out


def load_tf_variables(
    module: nn.Module,
    variables: Mapping[str, np.ndarray],
    mapping: Mapping[str, tuple[str, Callable[[np.ndarray], np.ndarray]]],
    what: str,
    derived: Sequence[str] = (),
) -> None:
    """Copy TF ``variables`` into ``module`` through ``mapping``; every name and shape must fit.

    ``derived``: state-dict keys that have no TF variable (they keep their current values).
    """
    missing = [k for k in mapping if k not in variables]
    unexpected = [k for k in variables if k not in mapping]
    if missing or unexpected:
        raise ValueError(
            f"{what}: the TF variables do not match the network its kwargs describe "
            f"(missing {missing[:8]}{'...' if len(missing) > 8 else ''}, "
            f"unexpected {unexpected[:8]}{'...' if len(unexpected) > 8 else ''})"
        )
    sd = module.state_dict()
    new = {}
    for tf_name, (key, conv) in mapping.items():
        arr = conv(np.asarray(variables[tf_name], dtype=np.float32))
        if tuple(arr.shape) != tuple(sd[key].shape):
            raise ValueError(
                f"{what}: TF variable {tf_name} has shape {np.shape(variables[tf_name])}, "
                f"which does not give {key}'s {tuple(sd[key].shape)}"
            )
        new[key] = torch.from_numpy(arr.copy())
    left = set(sd) - set(new) - set(derived)
    if left:
        raise ValueError(f"{what}: no TF variable for {sorted(left)}")
    module.load_state_dict(new, strict=False)


def from_tf_network(net: Any) -> Generator:
    """Build the generator a TF ``G_paper`` network state describes (a ``TFNetwork``).

    ``net`` needs ``static_kwargs`` and ``variables`` (local variable name -> array).
    """
    g = Generator(**progan_kwargs(dict(net.static_kwargs)))
    what = f"ProGAN network {net.name!r}"
    load_tf_variables(g, net.variables, tf_variable_map(g), what, derived=("w_avg",))
    g.family = "progan"
    return g.eval().requires_grad_(False)


def tf_variables(g: Generator) -> dict[str, np.ndarray]:
    """The generator's tensors as TF variables (names, layouts; inverse of the import). 0-d
    variables (``lod``) are numpy scalars, as TF's ``session.run`` returns them."""
    inverse = {
        tf_dense: lambda a: np.ascontiguousarray(a.T),
        tf_conv: lambda a: np.ascontiguousarray(np.transpose(a, (2, 3, 1, 0))),
        tf_conv_out_in: lambda a: np.ascontiguousarray(np.transpose(a, (2, 3, 0, 1))),
    }
    sd = g.state_dict()
    out = {}
    for tf_name, (key, conv) in tf_variable_map(g).items():
        arr = sd[key].detach().cpu().numpy().astype(np.float32)
        out[tf_name] = inverse.get(conv, tf_same)(arr) if arr.ndim else np.float32(arr.item())
    return out


def tf_static_kwargs(g: Generator) -> dict[str, Any]:
    """``G_paper``'s static kwargs (NVIDIA's names) for ``g`` (inverse of :func:`progan_kwargs`)."""
    kw = dict(g._init_kwargs)
    out = dict(latent_size=g.z_dim, label_size=g.c_dim, resolution=g.img_resolution,
               num_channels=g.img_channels)  # fmt: skip
    out |= {k: v for k, v in kw.items() if k in G_PAPER_DEFAULTS and k not in out}
    return out


def _register() -> None:
    from ganatlas.networks.tf_pickle import register_tf_builder

    register_tf_builder("G_paper", from_tf_network)


_register()

__all__: Sequence[str] = (
    "Generator",
    "SynthesisNetwork",
    "from_tf_network",
    "progan_kwargs",
    "tf_variable_map",
    "tf_variables",
    "pixel_norm",
)
