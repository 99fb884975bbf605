"""Read and write official StyleGAN2-ADA / StyleGAN3 snapshot pickles without running their code.

An official snapshot (``network-snapshot-*.pkl``) is a plain pickle of a dict with ``G``, ``D``,
``G_ema``, ``augment_pipe`` and ``training_set_kwargs``. NVIDIA's ``torch_utils.persistence``
stores every network object as a call ``_reconstruct_persistent_obj(meta)`` where ``meta`` is a
dict ``{type: 'class', version: 6, module_src: <source text of the defining module>,
class_name, state}`` and ``state`` is the module's ``__dict__`` (``_parameters``, ``_buffers``,
``_modules``, ``_init_args``, ``_init_kwargs``, ...). Their loader *executes* ``module_src``.

This module never does. :class:`SnapshotUnpickler` maps the few globals the format needs to
local handlers (persistent objects become inert :class:`PersistentRecord`s, ``EasyDict`` a plain
dict subclass, tensors go through PyTorch's own rebuild functions and its ``weights_only``
loader for storages) and refuses every other global with an error naming it. The generator is
then rebuilt from ``_init_args``/``_init_kwargs`` with ganatlas's own network code and its
tensors loaded strictly by name.
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

PERSISTENCE_VERSION = 6
SNAPSHOT_KEYS = ("G", "D", "G_ema", "augment_pipe", "training_set_kwargs")

# Module names the official code bases use for their generators.
FAMILY_MODULES = {
    "stylegan2-ada": "training.networks",
    "stylegan2": "training.networks_stylegan2",
    "stylegan3": "training.networks_stylegan3",
}


class NetworkPickleError(ValueError):
    """The file is not a usable official network pickle (the message says why)."""


class UnsafePickleError(NetworkPickleError):
    """The pickle references a global outside the official format; nothing was executed."""


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict whose keys read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]


@dataclass
class PersistentRecord:
    """An inert persistent object: what ``_reconstruct_persistent_obj(meta)`` described.

    ``state`` is the object's stored ``__dict__``; ``module_src`` is kept as text only.
    """

    class_name: str
    module_src: str
    state: dict = field(default_factory=dict)
    version: int = PERSISTENCE_VERSION
    type: str = "class"

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args", ()))

    @property
    def init_kwargs(self) -> dict:
        return _plain(self.state.get("_init_kwargs", {}))

    def children(self) -> dict[str, Any]:
        """Submodules by attribute name (``None`` entries dropped)."""
        mods = self.state.get("_modules")
        if mods is not None and not isinstance(mods, dict):
            raise NetworkPickleError(
                f"_modules of a stored {self.class_name!r} is a {type(mods).__name__}: "
                "the file is corrupted"
            )
        return {k: v for k, v in (mods or {}).items() if v is not None}

    def class_names(self) -> set[str]:
        """Class names of this record and every persistent descendant (each visited once)."""
        names: set[str] = set()
        seen: set[int] = set()
        todo: list[tuple[PersistentRecord, int]] = [(self, 0)]
        budget = _Budget("the stored module tree")
        while todo:
            rec, depth = todo.pop()
            if id(rec) in seen:
                continue
            seen.add(id(rec))
            budget.step(depth)
            names.add(rec.class_name)
            todo.extend(
                (c, depth + 1) for c in rec.children().values() if isinstance(c, PersistentRecord)
            )
        return names


#: Budgets of the reader: nesting depth and objects visited when walking stored kwargs and the
#: module tree. Official networks need depth < 20 and a few thousand objects.
MAX_DEPTH = 64
MAX_OBJECTS = 200_000


class _Budget:
    """Counts objects visited; NetworkPickleError past :data:`MAX_OBJECTS`."""

    def __init__(self, what: str) -> None:
        self.what, self.count = what, 0

    def step(self, depth: int) -> None:
        self.count += 1
        if self.count > MAX_OBJECTS:
            raise NetworkPickleError(
                f"{self.what} has more than {MAX_OBJECTS:,} objects (shared or repeated "
                "structure); refused"
            )
        if depth > MAX_DEPTH:
            raise NetworkPickleError(f"{self.what} is nested deeper than {MAX_DEPTH}; refused")


def _plain(obj: Any, budget: _Budget | None = None, depth: int = 0, path: tuple = ()) -> Any:
    """EasyDicts (nested) as plain dicts/lists, for constructor kwargs.

    Refuses cycles, nesting deeper than :data:`MAX_DEPTH` and more than :data:`MAX_OBJECTS`
    objects in all (a few shared lists can stand for 2^40 of them).
    """
    budget = budget or _Budget("stored constructor kwargs")
    budget.step(depth)
    if isinstance(obj, dict | list | tuple):
        if id(obj) in path:
            raise NetworkPickleError("stored constructor kwargs contain a cycle; refused")
        path = (*path, id(obj))
    if isinstance(obj, dict):
        return {k: _plain(v, budget, depth + 1, path) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v, budget, depth + 1, path) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(v, budget, depth + 1, path) for v in obj)
    return obj


# --------------------------------------------------------------------------- reading


def safe_torch_load(path: str | Path) -> object:
    """``torch.load(path, weights_only=True)``; any refusal or damage becomes one ValueError line
    naming the file and the reason (never torch's advice to retry with ``weights_only=False``:
    that would run the file's code)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        text = " ".join(str(exc).split())
        name = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", text)
        operand = re.search(r"Unsupported operand \d+", text)
        if name:
            reason = f"it refers to the global {name.group(1)}, which is not a tensor type"
        elif operand:
            reason = operand.group(0)
        else:
            reason = text.split(". ")[0][:200]
        raise ValueError(
            f"{path} cannot be loaded as a weights-only PyTorch file ({reason}); ganatlas reads "
            "state dicts of tensors only and never runs code stored in a checkpoint"
        ) from None


def declared_far_beyond(declared: int, stored: int) -> bool:
    """True when stored kwargs declare far more values than the file holds: more than twice the
    stored count plus 2**24 (16.8 M) values. Refused before allocation; a smaller mismatch is left
    to the strict state-dict load, whose message names the tensors."""
    return declared > 2 * stored + (1 << 24)


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    """Handler for ``torch_utils.persistence._reconstruct_persistent_obj``: record, don't run."""
    if not isinstance(meta, dict):
        raise NetworkPickleError(
            f"persistent object meta must be a dict, got {type(meta).__name__}"
        )
    missing = [k for k in ("type", "version", "module_src", "class_name", "state") if k not in meta]
    if missing:
        raise NetworkPickleError(f"persistent object meta lacks {missing} (has {sorted(meta)})")
    if meta["type"] != "class":
        raise NetworkPickleError(f"persistent object type {meta['type']!r} unsupported ('class')")
    state = meta["state"]
    if not isinstance(state, dict):
        raise NetworkPickleError(f"state of {meta['class_name']!r} is {type(state).__name__}")
    return PersistentRecord(
        class_name=str(meta["class_name"]),
        module_src=str(meta["module_src"]),
        state=dict(state),
        version=int(meta["version"]),
        type=str(meta["type"]),
    )


def _load_storage(data: bytes) -> Any:
    """Handler for ``torch.storage._load_from_bytes``: a storage in ``torch.save``'s format.

    Read with PyTorch's own ``weights_only`` loader (which admits tensors and storages only).
    """
    if not isinstance(data, bytes | bytearray):
        raise NetworkPickleError(f"tensor storage must be bytes, got {type(data).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - report any failure as a format error
        raise NetworkPickleError(f"a tensor storage could not be read safely: {exc}") from None
    if not isinstance(storage, torch.TypedStorage | torch.UntypedStorage):
        raise NetworkPickleError(f"a tensor storage blob held a {type(storage).__name__}")
    return storage


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad, backward_hooks, *extra
):
    """Handler for ``torch._utils._rebuild_tensor_v2`` with its arguments checked."""
    if not isinstance(storage, torch.TypedStorage | torch.UntypedStorage):
        raise NetworkPickleError(f"tensor rebuilt from a {type(storage).__name__}, not a storage")
    if backward_hooks:
        raise NetworkPickleError("tensor carries backward hooks; refused")
    offset, size, stride = int(storage_offset), tuple(map(int, size)), tuple(map(int, stride))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage's deprecation warning
        _check_view(len(storage), offset, size, stride)
        return torch._utils._rebuild_tensor_v2(
            storage, offset, size, stride, bool(requires_grad), OrderedDict()
        )


def _check_view(n: int, offset: int, size: tuple, stride: tuple) -> None:
    """Refuse a tensor view that reaches outside its storage of ``n`` elements, or that
    overlaps itself (two indices on one element: no stored parameter or buffer does that).

    PyTorch's rebuild checks neither: a corrupted offset, size or stride would read whatever
    memory follows the storage, or silently repeat weights.
    """
    bad = len(size) != len(stride) or offset < 0 or min(size + stride, default=0) < 0
    if not bad and all(size):
        bad = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) >= n
        reach = 1  # elements spanned by the dims of smaller stride (size-1 dims span nothing)
        for st, s in sorted((st, s) for s, st in zip(size, stride, strict=True) if s > 1):
            bad = bad or st < reach
            reach = st * s
    if bad:
        raise NetworkPickleError(
            f"a tensor view (offset {offset}, size {list(size)}, stride {list(stride)}) reaches "
            f"outside its storage of {n} elements or overlaps itself: the file is corrupted"
        )


def _rebuild_parameter(data, requires_grad, backward_hooks, *state):
    """Handler for ``torch._utils._rebuild_parameter(_with_state)``."""
    if not isinstance(data, torch.Tensor):
        raise NetworkPickleError(f"parameter rebuilt from a {type(data).__name__}")
    if backward_hooks:
        raise NetworkPickleError("parameter carries backward hooks; refused")
    return nn.Parameter(data, requires_grad=bool(requires_grad))


def _rebuild_from_type_v2(func, new_type, args, state):
    """Handler for ``torch._tensor._rebuild_from_type_v2`` (plain tensors/parameters only)."""
    if new_type not in (torch.Tensor, nn.Parameter) or func not in _TENSOR_FUNCS:
        raise NetworkPickleError(f"tensor subclass {new_type!r} refused")
    t = func(*args)
    return t if new_type is torch.Tensor or isinstance(t, nn.Parameter) else nn.Parameter(t)


def _device(spec: Any, index: Any = None) -> torch.device:
    if not isinstance(spec, str) or spec.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise NetworkPickleError(f"device {spec!r} refused")
    return torch.device(spec) if index is None else torch.device(spec, int(index))


def numpy_global(name: str) -> Any:
    """numpy's ``multiarray.<name>`` under numpy 1 and 2 (``numpy.core`` / ``numpy._core``)."""
    for mod in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = __import__(mod, fromlist=[name])
        except ImportError:
            continue
        return getattr(module, name)
    raise NetworkPickleError(f"numpy lacks {name}")  # pragma: no cover


_TENSOR_FUNCS = (_rebuild_tensor_v2, _rebuild_parameter)

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): torch.Tensor,
    ("torch.nn.parameter", "Parameter"): nn.Parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("torch", "device"): _device,
    # numpy scalars/arrays appear as plain attributes (gains, sizes) in the stored __dict__s.
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    ALLOWED_GLOBALS[(_mod, "scalar")] = numpy_global("scalar")
    ALLOWED_GLOBALS[(_mod, "_reconstruct")] = numpy_global("_reconstruct")


def codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """``_codecs.encode(str, 'latin1')``: how protocol-2 pickles store bytes (nothing else)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("refusing _codecs.encode other than (str, 'latin1')")
    return text.encode("latin1")


ALLOWED_GLOBALS[("_codecs", "encode")] = codecs_encode


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python one: its memo is a dict
    """An unpickler that resolves only the globals of ``allowed`` and refuses all others by name.

    It is CPython's pure-Python unpickler: its memo is a dict, so a tiny file that stores an
    object at memo index 2^27 costs a dict entry, not a 2 GB array (the C unpickler's memo is a
    list). Network pickles are mostly tensor bytes, so it is as fast here. Protocol 0-2 names
    (``__builtin__.set``) are mapped to Python 3's as the standard unpickler does.
    """

    allowed: dict[tuple[str, str], Any] = {}
    format_name = "official StyleGAN pickle"

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3:
            import _compat_pickle

            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            else:
                module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        handler = self.allowed.get((module, name))
        if handler is not None:
            return handler
        self.refuse(module, name)

    def refuse(self, module: str, name: str) -> None:
        raise UnsafePickleError(
            f"refusing global {module}.{name}: it is not part of the {self.format_name} "
            "format, and nothing from this file was executed"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r}: not used by {self.format_name}s")


class SnapshotUnpickler(RestrictedUnpickler):
    """Resolves only :data:`ALLOWED_GLOBALS` (official StyleGAN2-ADA / StyleGAN3 snapshots)."""

    allowed = ALLOWED_GLOBALS

    def refuse(self, module: str, name: str) -> None:
        if module.startswith(("dnnlib.tflib", "tensorflow")) or module == "tfutil":
            raise NetworkPickleError(
                f"this is a TensorFlow-era StyleGAN pickle (it references {module}.{name}); "
                "load it with ganatlas.networks.load_network (which reads it with "
                "ganatlas.networks.tf_pickle) or convert it with 'ganatlas convert OLD.pkl NEW.pkl'"
            )
        super().refuse(module, name)


def read_snapshot(path: str | Path) -> Any:
    """Unpickle ``path`` safely: a dict of records/tensors (or a single record)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NetworkPickleError(f"cannot read network pickle {path}: {exc}") from None
    if not data:
        raise NetworkPickleError(f"{path} is empty")
    if data[:2] == b"PK":
        raise NetworkPickleError(
            f"{path} is a zip archive (a torch.save checkpoint?), not an official StyleGAN pickle"
        )
    if data[:1] != b"\x80":
        raise NetworkPickleError(
            f"{path} is not a pickle (starts with {data[:8]!r}); expected an official "
            "StyleGAN2-ADA/StyleGAN3 network-snapshot .pkl"
        )
    try:
        return SnapshotUnpickler(io.BytesIO(data)).load()
    except NetworkPickleError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    except RecursionError:
        raise NetworkPickleError(f"{path}: objects nested too deeply; refused") from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupted data in many shapes
        raise NetworkPickleError(
            f"{path} is truncated or corrupted ({type(exc).__name__}: {exc}); download it again"
        ) from None


def network_family(record: PersistentRecord) -> str:
    """``stylegan2-ada``, ``stylegan2`` or ``stylegan3`` for a stored Generator record.

    Decided from the class names of the stored submodules (SynthesisInput -> StyleGAN3,
    SynthesisBlock -> StyleGAN2) and the kwargs layout (nested ``synthesis_kwargs`` -> ada);
    the stored source text is only searched, never run.
    """
    if record.class_name == "Discriminator":
        raise NetworkPickleError(
            "this is a Discriminator, not a generator: load it with "
            "ganatlas.networks.stylegan2_discriminator.load_discriminator"
        )
    if record.class_name != "Generator":
        raise NetworkPickleError(
            f"unknown network class {record.class_name!r}: only Generator is supported"
        )
    names = record.class_names()
    src = record.module_src
    if "SynthesisInput" in names or "class SynthesisInput" in src:
        return "stylegan3"
    if "SynthesisBlock" in names or "class SynthesisBlock" in src:
        return "stylegan2-ada" if "synthesis_kwargs" in record.init_kwargs else "stylegan2"
    raise NetworkPickleError(
        "unknown Generator class: its submodules are "
        f"{sorted(names - {'Generator'})}, neither StyleGAN2 (SynthesisBlock) nor "
        "StyleGAN3 (SynthesisInput)"
    )


def record_state_dict(
    record: PersistentRecord,
    prefix: str = "",
    _seen: set[int] | None = None,
    _budget: _Budget | None = None,
    _depth: int = 0,
) -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a record tree, keyed like ``nn.Module.state_dict``.

    A submodule stored twice (official networks share none) and trees past the reader's budgets
    are refused.
    """
    seen = set() if _seen is None else _seen
    budget = _budget or _Budget("the stored module tree")
    budget.step(_depth)
    if id(record) in seen:
        raise NetworkPickleError(
            f"submodule {prefix.rstrip('.') or 'root'} is stored twice; refused"
        )
    seen.add(id(record))
    out: dict[str, torch.Tensor] = {}
    skip = _state_field(record, "_non_persistent_buffers_set", (set, frozenset, list, tuple))
    for kind in ("_parameters", "_buffers"):
        for name, t in _state_field(record, kind, (dict,)).items():
            _check_name(prefix, name, "tensor")
            if t is None or (kind == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise NetworkPickleError(f"{prefix}{name} is a {type(t).__name__}, not a tensor")
            out[prefix + name] = t
    for name, child in record.children().items():
        _check_name(prefix, name, "submodule")
        if not isinstance(child, PersistentRecord):
            raise NetworkPickleError(f"submodule {prefix}{name} is a {type(child).__name__}")
        out.update(record_state_dict(child, f"{prefix}{name}.", seen, budget, _depth + 1))
    return out


#: Ranges of the constructor kwargs a network may declare (inclusive), checked before anything
#: is built: official networks sit far inside them.
KWARG_BOUNDS: dict[str, tuple[int, int]] = {
    "z_dim": (0, 8192),
    "w_dim": (1, 8192),
    "c_dim": (0, 65536),
    "img_resolution": (4, 4096),
    "img_channels": (1, 4),
    "channel_base": (1, 1 << 18),
    "channel_max": (1, 4096),
    "num_layers": (0, 64),
    "num_ws": (1, 128),
    "num_fp16_res": (0, 16),
    "conv_kernel": (1, 7),
    "filter_size": (1, 16),
    "num_critical": (0, 16),
    "embed_features": (0, 8192),
    "layer_features": (0, 8192),
}


def check_kwargs(kwargs: Any, where: str = "") -> None:
    """NetworkPickleError when a stored constructor kwarg is outside :data:`KWARG_BOUNDS`."""
    if isinstance(kwargs, dict):
        for key, value in kwargs.items():
            name = f"{where}{key}"
            if isinstance(value, dict):
                check_kwargs(value, name + ".")
            elif key in KWARG_BOUNDS and value is not None:
                lo, hi = KWARG_BOUNDS[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not (lo <= value <= hi)
                ):
                    raise NetworkPickleError(
                        f"stored kwarg {name}={value!r} is outside {lo}..{hi}; refused"
                    )
    res = kwargs.get("img_resolution") if isinstance(kwargs, dict) else None
    if isinstance(res, int) and res & (res - 1):
        raise NetworkPickleError(f"stored kwarg img_resolution={res} is not a power of two")


def declared_size(cls: type, args: tuple, kwargs: dict) -> int | None:
    """Values (parameters + buffers) the network ``cls(*args, **kwargs)`` would hold, counted on
    PyTorch's meta device (nothing allocated); None when it cannot be built there."""
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = cls(*args, **kwargs)
    except Exception:  # any failure: the real build below reports it
        return None
    return sum(t.numel() for t in g.state_dict().values())


def _state_field(record: PersistentRecord, key: str, types: tuple) -> Any:
    """``record.state[key]`` (empty when absent), refused unless one of ``types``."""
    value = record.state.get(key)
    if value is None:
        return {}
    if not isinstance(value, types):
        raise NetworkPickleError(
            f"{key} of a stored {record.class_name!r} is a {type(value).__name__}: "
            "the file is corrupted"
        )
    return value


def _check_name(prefix: str, name: Any, what: str) -> None:
    if not isinstance(name, str):
        raise NetworkPickleError(
            f"a {what} under {prefix or 'the top level'!r} is named by a {type(name).__name__}, "
            "not a string: the file is corrupted"
        )


def rebuild_module(
    cls: type[nn.Module], record: PersistentRecord, what: str, kwargs_of: str
) -> nn.Module:
    """``cls`` rebuilt from a record's stored constructor arguments, its tensors loaded strictly
    by name: the kwargs are checked against :data:`KWARG_BOUNDS` and a declared size far beyond
    the stored tensors is refused before anything is allocated. ``what`` names the module and
    ``kwargs_of`` the owner of the kwargs in error messages; a record of another persistence
    version is refused."""
    if record.version != PERSISTENCE_VERSION:
        raise NetworkPickleError(
            f"persistence version {record.version} unsupported (expected {PERSISTENCE_VERSION})"
        )
    args, kwargs = _plain(record.init_args), record.init_kwargs
    check_kwargs(kwargs)
    sd = record_state_dict(record)
    stored = sum(t.numel() for t in sd.values())
    declared = declared_size(cls, args, kwargs)
    if declared is not None and declared_far_beyond(declared, stored):
        raise NetworkPickleError(
            f"the stored {kwargs_of} kwargs declare a network of {declared:,} values, but the "
            f"file holds {stored:,}; refused before allocating it"
        )
    try:
        module = cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise NetworkPickleError(
            f"cannot rebuild the {what} from its stored kwargs {kwargs}: {exc}"
        ) from None
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise NetworkPickleError(
            f"the pickle's tensors do not match the rebuilt {what}: " + " ".join(str(exc).split())
        ) from None
    return module


def build_generator(record: PersistentRecord) -> nn.Module:
    """Rebuild the generator a record describes with ganatlas's modules and load its tensors."""
    family = network_family(record)
    from ganatlas.networks.registry import family_of_kind

    g = rebuild_module(family_of_kind(family).generator(), record, f"{family} Generator", family)
    g.family = family
    return g


def load_network_pickle(
    path: str | Path, which: str = "G_ema", device: str | torch.device = "cpu"
) -> nn.Module:
    """Load the generator ``which`` (``G_ema`` or ``G``) of an official snapshot pickle.

    Returns an eval-mode module without gradients on ``device``; raises
    :class:`NetworkPickleError` (or :class:`UnsafePickleError`) for anything else.
    """
    data = read_snapshot(path)
    if isinstance(data, PersistentRecord):
        record = data
    elif isinstance(data, dict):
        keys = sorted(str(k) for k in data)
        record = data.get(which)
        if record is None:
            if not any(data.get(k) is not None for k in ("G", "G_ema")) and data.get("D"):
                raise NetworkPickleError(
                    f"{path} holds only a discriminator (keys: {keys}); a generator "
                    "('G_ema' or 'G') is needed"
                )
            raise NetworkPickleError(
                f"{path} has no network under {which!r} (keys with a value: "
                f"{[k for k in keys if data.get(k) is not None]}); use which='G_ema' or 'G'"
            )
    else:
        raise NetworkPickleError(f"{path} holds a {type(data).__name__}, not a snapshot dict")
    if not isinstance(record, PersistentRecord):
        raise NetworkPickleError(f"{path}[{which!r}] is a {type(record).__name__}, not a network")
    try:
        g = build_generator(record)
    except NetworkPickleError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    except RecursionError:
        raise NetworkPickleError(f"{path}: the stored network is nested too deeply") from None
    return g.eval().requires_grad_(False).to(device)


# --------------------------------------------------------------------------- writing


class _GlobalName:
    """A global reference written as ``GLOBAL module name`` (the module need not exist here)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pragma: no cover - only a pickling marker
        raise RuntimeError(f"{self.module}.{self.name} is a pickling marker")


_RECONSTRUCT = _GlobalName("torch_utils.persistence", "_reconstruct_persistent_obj")
_EASYDICT = _GlobalName("dnnlib.util", "EasyDict")


class _SnapshotPickler(pickle._Pickler):  # the pure-Python pickler lets us add savers
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_global_name(self, obj: _GlobalName) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    def _save_easydict(self, obj: EasyDict) -> None:
        self.save(_EASYDICT)
        self.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ)
        self.memoize(obj)
        self._batch_setitems(iter(obj.items()))

    def _save_record(self, obj: PersistentRecord) -> None:
        meta = {
            "type": obj.type,
            "version": obj.version,
            "module_src": obj.module_src,
            "class_name": obj.class_name,
            "state": obj.state,
        }
        self.save_reduce(_RECONSTRUCT, (meta,), obj=obj)

    dispatch[_GlobalName] = _save_global_name
    dispatch[EasyDict] = _save_easydict
    dispatch[PersistentRecord] = _save_record


def placeholder_source(module_name: str, class_names: set[str]) -> str:
    """The ``module_src`` text ganatlas writes: no network code, only an import of the official
    module by name.

    ganatlas never runs it. NVIDIA's loader runs ``module_src`` and then looks the classes up in
    it: with their code base on the path the import finds their own classes there, so their
    loader (``legacy.load_network_pkl``) reads the file as one of their snapshots.
    """
    listed = ", ".join(sorted(class_names))
    return (
        f'"""Written by ganatlas for {module_name}: no network source code is stored.\n'
        f"Classes in this pickle: {listed}. ganatlas rebuilds them from their kwargs;\n"
        f"NVIDIA's loader finds them in its own {module_name} through the import below.\n"
        '"""\n'
        f"from {module_name} import *  # noqa: F403\n"
    )


def _simple(v: Any) -> bool:
    """Plain data a module keeps in its ``__dict__`` and NVIDIA's pickles store: numbers, strings,
    None, numeric numpy arrays (StyleGAN3's ``size``/``in_size``/``out_size``) and lists/tuples
    of those."""
    if isinstance(v, bool | int | float | str | type(None)):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "biuf"
    if isinstance(v, list | tuple):
        return all(_simple(x) for x in v)
    return False


def _easy(obj: Any) -> Any:
    """Dicts inside init kwargs become EasyDicts, as in NVIDIA's configs."""
    if isinstance(obj, dict):
        return EasyDict({k: _easy(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return type(obj)(_easy(v) for v in obj)
    return obj


def module_to_record(module: nn.Module, module_name: str | None = None) -> PersistentRecord:
    """Describe a ganatlas network module as NVIDIA's persistence would store it.

    ``module_name`` defaults to the official module of the network's family.
    """
    if module_name is None:
        module_name = _official_module_name(module)
    names = {type(m).__name__ for m in module.modules()}
    src = placeholder_source(module_name, names)
    return _to_record(module, src, is_root=True)


def _official_module_name(module: nn.Module) -> str:
    mod = type(module).__module__
    if mod.endswith("stylegan3"):
        return FAMILY_MODULES["stylegan3"]
    if mod.endswith("stylegan2_discriminator"):  # stylegan2-ada-pytorch's Discriminator layout
        return FAMILY_MODULES["stylegan2-ada"]
    if mod.endswith("stylegan2"):
        layout = getattr(module, "layout", "sg3")
        return FAMILY_MODULES["stylegan2-ada" if layout == "ada" else "stylegan2"]
    raise NetworkPickleError(f"cannot write a {type(module).__name__} from {mod} as official")


def _to_record(module: nn.Module, src: str, is_root: bool = False) -> PersistentRecord:
    if is_root and not hasattr(module, "_init_kwargs"):
        raise NetworkPickleError(
            f"cannot write {type(module).__name__}: it does not record its constructor kwargs"
        )
    state: dict[str, Any] = {"training": module.training}
    for k, v in vars(module).items():
        if not k.startswith("_") and k != "training" and _simple(v):
            state[k] = v
    state["_parameters"] = OrderedDict(module._parameters)
    state["_buffers"] = OrderedDict(module._buffers)
    state["_non_persistent_buffers_set"] = set(module._non_persistent_buffers_set)
    state["_modules"] = OrderedDict(
        (k, None if m is None else _to_record(m, src)) for k, m in module._modules.items()
    )
    # nn.Module's own (empty) hook tables, so that a loader which restores the stored __dict__
    # as is (NVIDIA's) gets a complete module; registered hooks are not stored.
    for k, v in vars(module).items():
        if k.startswith("_") and k not in state and k not in ("_init_args", "_init_kwargs"):
            if isinstance(v, dict) and not v:
                state[k] = OrderedDict()
            elif isinstance(v, set) and not v:
                state[k] = set()
            elif isinstance(v, bool) or v is None:
                state[k] = v
    state["_init_args"] = _easy(tuple(getattr(module, "_init_args", ())))
    state["_init_kwargs"] = _easy(dict(getattr(module, "_init_kwargs", {})))
    state["_init_kwargs"] = dict(state["_init_kwargs"])  # top level is a plain dict
    return PersistentRecord(class_name=type(module).__name__, module_src=src, state=state)


def save_network_pickle(
    path: str | Path,
    G: nn.Module | PersistentRecord | None = None,
    D: nn.Module | PersistentRecord | None = None,
    G_ema: nn.Module | PersistentRecord | None = None,
    augment_pipe: nn.Module | PersistentRecord | None = None,
    training_set_kwargs: dict | None = None,
    protocol: int = 4,
) -> Path:
    """Write a snapshot pickle in the official format (``G_ema`` defaults to ``G``).

    Networks are stored as persistent records with ganatlas's placeholder ``module_src``;
    tensors are pickled by PyTorch. Loadable by :func:`load_network_pickle` (and, for the
    generator classes, by NVIDIA's code, which would execute the placeholder text instead).
    """

    def conv(obj: Any) -> Any:
        if obj is None or isinstance(obj, PersistentRecord):
            return obj
        if isinstance(obj, nn.Module):
            return module_to_record(obj)
        raise TypeError(f"cannot store a {type(obj).__name__} as a network")

    g_rec = conv(G)
    data = {
        "G": g_rec,
        "D": conv(D),
        "G_ema": conv(G_ema) if G_ema is not None else g_rec,
        "augment_pipe": conv(augment_pipe),
        "training_set_kwargs": None if training_set_kwargs is None else _easy(training_set_kwargs),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        _SnapshotPickler(fh, protocol=protocol).dump(data)
    tmp.replace(path)
    return path
