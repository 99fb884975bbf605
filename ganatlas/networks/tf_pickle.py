"""Read TensorFlow-era StyleGAN pickles (StyleGAN, StyleGAN2-TF, Progressive GAN) without TensorFlow.

NVIDIA's TensorFlow code bases saved a training snapshot as a pickled 3-tuple ``(G, D, Gs)``:
the trained generator, the discriminator and ``Gs``, the generator with averaged weights (the
one to sample from). Each is a network object whose pickled state is a dict:

- ``dnnlib.tflib.network.Network`` (StyleGAN 2019, StyleGAN2-TF, StyleGAN2-ADA-TF; state
  versions 3 and 4): ``version, name, static_kwargs, components, build_module_src,
  build_func_name, variables``; ``components`` holds sub-networks (``mapping``, ``synthesis``)
  of the same class.
- ``tfutil.Network`` (Progressive GAN; state version 2): the same without ``components``.

``variables`` is a list of ``(name, ndarray)`` pairs relative to the network's own scope (e.g.
``4x4/Conv/weight``). ``build_module_src`` is the full Python source of the module defining the
build function, and NVIDIA's unpickler *executes* it. This reader never does: it keeps the
source as inert text, maps only the two network classes to local record-keeping stubs and the
numpy globals an ndarray pickle needs to numpy itself, and refuses every other global by name
(:class:`~ganatlas.networks.persistence.UnsafePickleError`).

Converting a network to a PyTorch module is the job of a *builder* registered per
``build_func_name`` (:func:`register_tf_builder`): ``G_main`` (StyleGAN2-TF, in
:mod:`ganatlas.networks.stylegan2_tf`), ``G_style`` (StyleGAN 2019) and ``G_paper``
(Progressive GAN) from their family modules.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganatlas.networks.persistence import (
    EasyDict,
    NetworkPickleError,
    RestrictedUnpickler,
    UnsafePickleError,
    codecs_encode,
    numpy_global,
)

#: Network classes of the TF-era code bases -> the code base they come from.
TF_NETWORK_CLASSES: dict[tuple[str, str], str] = {
    ("dnnlib.tflib.network", "Network"): "dnnlib.tflib",
    ("tfutil", "Network"): "tfutil",
}

#: State keys of a pickled network (``components`` only from dnnlib.tflib).
STATE_KEYS = (
    "version",
    "name",
    "static_kwargs",
    "build_module_src",
    "build_func_name",
    "variables",
)
SUPPORTED_VERSIONS = (2, 3, 4)

#: ``which`` -> index in the ``(G, D, Gs)`` tuple; ``G_ema`` (the PyTorch name) means Gs.
WHICH = {"G_ema": 2, "Gs": 2, "G": 0, "D": 1}


class TFPickleError(NetworkPickleError):
    """The file is not a usable TensorFlow-era network pickle (the message says why)."""


@dataclass
class TFNetwork:
    """One pickled TF network, as inert data.

    name: the network's name (``G``, ``Gs``, ``G_mapping`` ...); version: state version (2: tfutil,
    3-4: dnnlib.tflib); static_kwargs: the build function's keyword arguments; build_func_name:
    e.g. ``G_main``, ``G_style``, ``G_paper``, ``G_mapping``; build_module_src: the defining
    module's source text (never executed); components: sub-networks by name; variables:
    ``name -> ndarray`` in stored order (names relative to this network's scope); origin:
    ``dnnlib.tflib`` or ``tfutil``.
    """

    name: str
    version: int
    static_kwargs: dict[str, Any]
    build_func_name: str
    build_module_src: str
    components: dict[str, TFNetwork] = field(default_factory=dict)
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    origin: str = "dnnlib.tflib"

    def all_variables(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Own variables then each component's, keyed ``component/name`` (as NVIDIA's legacy.py
        collects them: ``dlatent_avg``, ``mapping/Dense0/weight``, ``synthesis/4x4/Conv/weight``)."""
        out = {prefix + k: v for k, v in self.variables.items()}
        for cname, comp in self.components.items():
            out.update(comp.all_variables(f"{prefix}{cname}/"))
        return out

    def __repr__(self) -> str:
        comps = ", ".join(f"{k}={v.build_func_name}" for k, v in self.components.items())
        return (
            f"TFNetwork(name={self.name!r}, build_func_name={self.build_func_name!r}, "
            f"version={self.version}, {len(self.variables)} variables"
            + (f", components: {comps}" if comps else "")
            + ")"
        )


@dataclass
class TFPickle:
    """The content of a TF-era pickle: ``G``, ``D`` and ``Gs`` (any may be None)."""

    G: TFNetwork | None
    D: TFNetwork | None
    Gs: TFNetwork | None
    origin: str = "dnnlib.tflib"
    path: Path | None = None

    def network(self, which: str = "G_ema") -> TFNetwork:
        """The generator ``which`` names: ``G_ema``/``Gs`` (default: the averaged generator) or
        ``G``; ``D`` is refused (a discriminator is not a generator: see
        :func:`ganatlas.networks.stylegan2_discriminator.load_discriminator`)."""
        if which not in WHICH:
            raise TFPickleError(
                f"{self._where()}unknown network {which!r}; a TF-era pickle holds (G, D, Gs): use "
                "which='G_ema' (= Gs, the default) or 'G'"
            )
        if which == "D":
            raise TFPickleError(
                f"{self._where()}'D' is the discriminator, not a generator; use which='G_ema' "
                "(= Gs) or 'G', or load D with "
                "ganatlas.networks.stylegan2_discriminator.load_discriminator"
            )
        net = (self.G, self.D, self.Gs)[WHICH[which]]
        if net is None:
            raise TFPickleError(f"{self._where()}holds no network {which!r}")
        return net

    def _where(self) -> str:
        return f"{self.path}: " if self.path is not None else ""


# --------------------------------------------------------------------------- unpickling


class _NetworkStub:
    """What an unpickled network object becomes: its state dict, checked, nothing executed."""

    origin = "dnnlib.tflib"
    state: dict | None = None  # set by BUILD (pickle calls __setstate__); NEWOBJ skips __init__

    def __init__(self) -> None:  # REDUCE with arguments fails here (TypeError)
        self.state = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise TFPickleError(f"network state is a {type(state).__name__}, not a dict")
        self.state = dict(state)


class _DnnlibNetworkStub(_NetworkStub):
    origin = "dnnlib.tflib"


class _TfutilNetworkStub(_NetworkStub):
    origin = "tfutil"


_STUBS = {"dnnlib.tflib": _DnnlibNetworkStub, "tfutil": _TfutilNetworkStub}


_np_reconstruct = numpy_global("_reconstruct")
_np_scalar = numpy_global("scalar")


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """``numpy.core.multiarray._reconstruct`` for plain ndarrays only."""
    if subtype is not np.ndarray:
        raise UnsafePickleError(f"refusing array subtype {subtype!r}: only numpy.ndarray")
    return _np_reconstruct(np.ndarray, shape, dtype)


def _scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar`` for numeric dtypes only (no object scalars)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f"refusing numpy scalar of dtype {dtype!r}")
    if not isinstance(data, bytes | bytearray):
        raise TFPickleError(f"numpy scalar data is a {type(data).__name__}, not bytes")
    return _np_scalar(dtype, data)


#: Every global a TF-era pickle may name, and what it becomes here. Nothing else is resolved.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{key: _STUBS[origin] for key, origin in TF_NETWORK_CLASSES.items()},
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("_codecs", "encode"): codecs_encode,
}


class TFUnpickler(RestrictedUnpickler):
    """Resolves only :data:`ALLOWED_GLOBALS` and refuses everything else (pure-Python
    unpickler: see :class:`ganatlas.networks.persistence.RestrictedUnpickler`)."""

    allowed = ALLOWED_GLOBALS
    format_name = "TensorFlow-era StyleGAN pickle"

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r}: not used by TF-era pickles")


def first_global(data: bytes, max_ops: int = 10_000) -> tuple[str, str] | None:
    """The first ``(module, name)`` global a pickle references, read from its opcodes (nothing is
    unpickled); None when there is none in the first ``max_ops`` opcodes or the data is no pickle."""
    import pickletools

    strings: list[str] = []
    try:
        for i, (op, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(data))):
            if i >= max_ops:
                return None
            if op.name == "GLOBAL" or op.name == "INST":
                module, _, name = str(arg).partition(" ")
                return module, name
            if op.name == "STACK_GLOBAL":
                return (strings[-2], strings[-1]) if len(strings) >= 2 else None
            if isinstance(arg, str) and "UNICODE" in op.name:
                strings.append(arg)
    except Exception:  # noqa: BLE001 - truncated or not a pickle: no answer
        return None
    return None


def is_tf_pickle(path: str | Path, head_bytes: int = 1 << 16) -> bool:
    """True when the pickle at ``path`` starts with a TF-era network class (a cheap sniff of the
    first ``head_bytes``; nothing is unpickled)."""
    with open(path, "rb") as fh:
        head = fh.read(head_bytes)
    glob = first_global(head)
    return glob is not None and (glob in TF_NETWORK_CLASSES or glob[0].startswith("dnnlib.tflib"))


def _plain_value(value: Any, where: str) -> Any:
    """Static kwargs as plain data (numbers, strings, lists, dicts, numpy scalars)."""
    if isinstance(value, bool | int | float | str | type(None)):
        return value
    if isinstance(value, np.generic):
        if value.dtype.hasobject:
            raise TFPickleError(f"{where} is an object scalar")
        return value.item()
    if isinstance(value, list | tuple):
        return type(value)(_plain_value(v, where) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return value.tolist()
    raise TFPickleError(f"{where} is a {type(value).__name__}; expected plain data")


def _to_network(stub: Any, where: str) -> TFNetwork:
    if not isinstance(stub, _NetworkStub) or stub.state is None:
        raise TFPickleError(f"{where} is a {type(stub).__name__}, not a TF network")
    state = stub.state
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise TFPickleError(f"{where}: network state lacks {missing} (has {sorted(state)})")
    version = state["version"]
    if not isinstance(version, int) or version not in SUPPORTED_VERSIONS:
        raise TFPickleError(f"{where}: network state version {version!r} unsupported (2, 3, 4)")
    for key in ("name", "build_func_name", "build_module_src"):
        if not isinstance(state[key], str):
            raise TFPickleError(f"{where}: {key} is a {type(state[key]).__name__}, not a string")
    kwargs = state["static_kwargs"]
    if not isinstance(kwargs, dict):
        raise TFPickleError(f"{where}: static_kwargs is a {type(kwargs).__name__}, not a dict")
    name = state["name"]
    comps_in = state.get("components") or {}
    if not isinstance(comps_in, dict):
        raise TFPickleError(f"{where}: components is a {type(comps_in).__name__}, not a dict")
    components = {str(k): _to_network(v, f"{where}.{k}") for k, v in comps_in.items()}
    variables: dict[str, np.ndarray] = {}
    pairs = state["variables"]
    if not isinstance(pairs, list | tuple):
        raise TFPickleError(f"{where}: variables is a {type(pairs).__name__}, not a list")
    for item in pairs:
        if not (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TFPickleError(f"{where}: a variable entry is not a (name, array) pair")
        vname, value = item
        if not isinstance(value, np.ndarray | np.generic | float | int):
            raise TFPickleError(f"{where}/{vname} is a {type(value).__name__}, not an array")
        arr = np.asarray(value)
        if arr.dtype.hasobject or arr.dtype.kind not in "fiub":
            raise TFPickleError(f"{where}/{vname} has dtype {arr.dtype}; expected numbers")
        if vname in variables:
            raise TFPickleError(f"{where}: variable {vname!r} stored twice")
        variables[vname] = arr
    return TFNetwork(
        name=name,
        version=version,
        static_kwargs=_plain_value(dict(kwargs), f"{where}.static_kwargs"),
        build_func_name=state["build_func_name"],
        build_module_src=state["build_module_src"],
        components=components,
        variables=variables,
        origin=stub.origin,
    )


def read_tf_pickle(path: str | Path) -> TFPickle:
    """Unpickle a TF-era network pickle at ``path`` safely (see the module docstring).

    Accepts the official 3-tuple ``(G, D, Gs)`` and a single pickled network (taken as ``Gs``).
    Raises :class:`TFPickleError` for truncated, corrupted or other files and
    :class:`UnsafePickleError` for any global outside :data:`ALLOWED_GLOBALS`.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TFPickleError(f"cannot read network pickle {path}: {exc}") from None
    if not data:
        raise TFPickleError(f"{path} is empty")
    if data[:1] != b"\x80":
        raise TFPickleError(
            f"{path} is not a binary pickle (starts with {data[:8]!r}); expected a TensorFlow-era "
            "StyleGAN / Progressive GAN network .pkl"
        )
    try:
        obj = TFUnpickler(io.BytesIO(data)).load()
    except NetworkPickleError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupted data in many shapes
        raise TFPickleError(
            f"{path} is truncated or corrupted ({type(exc).__name__}: {exc}); download it again"
        ) from None
    try:
        if isinstance(obj, _NetworkStub):
            gs = _to_network(obj, "network")
            return TFPickle(G=None, D=None, Gs=gs, origin=gs.origin, path=path)
        if isinstance(obj, tuple) and len(obj) == 3:
            nets = [
                None if o is None else _to_network(o, n)
                for o, n in zip(obj, ("G", "D", "Gs"), strict=True)
            ]
            origins = {n.origin for n in nets if n is not None}
            return TFPickle(
                *nets, origin=origins.pop() if len(origins) == 1 else "mixed", path=path
            )
    except NetworkPickleError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    raise TFPickleError(
        f"{path} holds a {type(obj).__name__}; a TF-era pickle holds a (G, D, Gs) tuple of networks"
    )


# --------------------------------------------------------------------------- builders

#: ``build_func_name`` of a generator -> a function turning that TFNetwork into a PyTorch module.
TF_BUILDERS: dict[str, Callable[[TFNetwork], nn.Module]] = {}


def register_tf_builder(name: str, fn: Callable[[TFNetwork], nn.Module]) -> None:
    """Register the builder for generators whose ``build_func_name`` is ``name`` (e.g. ``G_main``).

    A family module calls this at import time; :func:`tf_builder` imports every registered
    family's module (through its ``Family.generator``) before giving up on a name.
    """
    TF_BUILDERS[name] = fn


def tf_builder(name: str) -> Callable[[TFNetwork], nn.Module]:
    """The builder for ``build_func_name`` ``name`` (TFPickleError listing the known ones)."""
    if name not in TF_BUILDERS:
        import importlib

        from ganatlas.networks.registry import FAMILIES

        importlib.import_module("ganatlas.networks.stylegan2_tf")
        for fam in list(FAMILIES.values()):
            if fam.generator is not None:
                fam.generator()  # importing a family module registers its builders
    try:
        return TF_BUILDERS[name]
    except KeyError:
        known = ", ".join(sorted(TF_BUILDERS)) or "none"
        raise TFPickleError(
            f"no converter for TF networks built by {name!r} (known: {known})"
        ) from None


def build_tf_generator(net: TFNetwork) -> nn.Module:
    """Convert ``net`` with the builder registered for its ``build_func_name``."""
    return tf_builder(net.build_func_name)(net)


def load_tf_pickle(
    path: str | Path, which: str = "G_ema", device: str | torch.device = "cpu"
) -> nn.Module:
    """Load the generator ``which`` (``G_ema``/``Gs`` by default, or ``G``) of a TF-era pickle as
    an eval-mode PyTorch module without gradients on ``device``."""
    tfp = read_tf_pickle(path)
    net = tfp.network(which)
    try:
        g = build_tf_generator(net)
    except NetworkPickleError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    return g.eval().requires_grad_(False).to(device)


# --------------------------------------------------------------------------- conversion


def convert_tf_pickle(src: str | Path, dest: str | Path, allow_missing_d: bool = False) -> Path:
    """Write the official PyTorch snapshot format (stylegan2-ada-pytorch) of a TF-era pickle.

    ``G``, ``D`` and ``G_ema`` are the converted ``G``, ``D`` and ``Gs`` (a missing ``G`` is
    written as ``G_ema``); ``augment_pipe`` and ``training_set_kwargs`` are None, as NVIDIA's own
    converter leaves them. NVIDIA's ``legacy.load_network_pkl`` needs all three networks, so a
    file without a discriminator is refused unless ``allow_missing_d`` (``D`` is then None and
    the output loads in ganatlas only). Written with
    :func:`ganatlas.networks.persistence.save_network_pickle`, so only networks that format can
    hold (StyleGAN2) are convertible; others raise TFPickleError.
    """
    from ganatlas.networks.persistence import save_network_pickle

    tfp = read_tf_pickle(src)
    if tfp.Gs is None and tfp.G is None:
        raise TFPickleError(f"{src} holds no generator (G or Gs)")
    if tfp.D is None and not allow_missing_d:
        raise TFPickleError(
            f"{src} holds no discriminator (D), and NVIDIA's loader needs one; pass "
            "--allow-missing-d to write D=None (the result then loads in ganatlas only)"
        )
    nets = {}
    for key, net in (("G_ema", tfp.Gs), ("G", tfp.G)):
        if net is None:
            continue
        try:
            nets[key] = build_tf_generator(net).eval().requires_grad_(False)
        except NetworkPickleError as exc:
            raise type(exc)(f"{src}: {key}: {exc}") from None
    d = None
    if tfp.D is not None:
        from ganatlas.networks.stylegan2_tf_discriminator import convert_tf_discriminator

        try:
            d = convert_tf_discriminator(tfp.D).requires_grad_(False)
        except NetworkPickleError as exc:
            raise type(exc)(f"{src}: D: {exc}") from None
    g_ema = nets.get("G_ema", nets.get("G"))
    try:
        return save_network_pickle(dest, G=nets.get("G", g_ema), D=d, G_ema=g_ema)
    except NetworkPickleError as exc:
        raise TFPickleError(f"{src}: cannot write it as a PyTorch pickle: {exc}") from None
