"""Test helper: write TensorFlow-era network pickles as NVIDIA's TF code bases stored them.

No TensorFlow and none of NVIDIA's code: a :class:`FakeTFNetwork` is pickled as an object of
class ``dnnlib.tflib.network.Network`` (or Progressive GAN's ``tfutil.Network``) whose state is
the dict their ``__getstate__`` returned, and numpy values are written with the globals that
numpy 1.x (the TF era) used: ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``,
``numpy.dtype`` and ``numpy.core.multiarray.scalar``. The opcodes are the pickle module's own
(``pickle._Pickler`` with savers added for these classes).

Usage::

    mapping = FakeTFNetwork.dnnlib("G_mapping", "G_mapping", kwargs, [("Dense0/weight", w), ...])
    gs = FakeTFNetwork.dnnlib("Gs", "G_main", kwargs, [("dlatent_avg", a)], {"mapping": mapping})
    write_tf_pickle(path, (g, d, gs))
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DNNLIB_NETWORK = ("dnnlib.tflib.network", "Network")
TFUTIL_NETWORK = ("tfutil", "Network")
NUMPY_MULTIARRAY = "numpy.core.multiarray"  # the module name numpy 1.x wrote


@dataclass
class FakeTFNetwork:
    """A network as it is pickled: the class to name and the state dict to store."""

    cls: tuple[str, str]
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def dnnlib(
        cls,
        name: str,
        build_func_name: str,
        static_kwargs: dict,
        variables: list[tuple[str, Any]],
        components: dict[str, FakeTFNetwork] | None = None,
        build_module_src: str = "# module source (never run by ganatlas)\n",
        version: int = 4,
    ) -> FakeTFNetwork:
        """A ``dnnlib.tflib.network.Network`` state (StyleGAN, StyleGAN2-TF)."""
        state = {
            "version": version,
            "name": name,
            "static_kwargs": dict(static_kwargs),
            "components": dict(components or {}),
            "build_module_src": build_module_src,
            "build_func_name": build_func_name,
            "variables": list(variables),
        }
        return cls(DNNLIB_NETWORK, state)

    @classmethod
    def tfutil(
        cls,
        name: str,
        build_func_name: str,
        static_kwargs: dict,
        variables: list[tuple[str, Any]],
        build_module_src: str = "# module source (never run by ganatlas)\n",
    ) -> FakeTFNetwork:
        """A Progressive GAN ``tfutil.Network`` state (version 2, no components)."""
        state = {
            "version": 2,
            "name": name,
            "static_kwargs": dict(static_kwargs),
            "build_module_src": build_module_src,
            "build_func_name": build_func_name,
            "variables": list(variables),
        }
        return cls(TFUTIL_NETWORK, state)


class RawGlobal:
    """Written as a reference to the global ``module.name`` (any module name, even unknown)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class Call:
    """Written as ``func(*args)`` (REDUCE) with ``func`` a :class:`RawGlobal`; for malicious files."""

    def __init__(self, func: RawGlobal, args: tuple) -> None:
        self.func, self.args = func, args


class TFPickler(pickle._Pickler):  # the pure-Python pickler, so savers can be added per type
    dispatch = pickle._Pickler.dispatch.copy()

    def _write_global(self, module: str, name: str) -> None:
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())

    def save_raw_global(self, obj: RawGlobal) -> None:
        self._write_global(obj.module, obj.name)

    def save_call(self, obj: Call) -> None:
        self.save(obj.func)
        self.save(tuple(obj.args))
        self.write(pickle.REDUCE)

    def save_network(self, obj: FakeTFNetwork) -> None:
        self._write_global(*obj.cls)
        self.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ)
        self.memoize(obj)
        self.save(obj.state)
        self.write(pickle.BUILD)

    def save_dtype(self, obj: np.dtype) -> None:
        _cls, args, state = obj.__reduce__()
        self._write_global("numpy", "dtype")
        self.save(tuple(args))
        self.write(pickle.REDUCE)
        self.memoize(obj)
        self.save(state)
        self.write(pickle.BUILD)

    def save_ndarray(self, obj: np.ndarray) -> None:
        obj = np.ascontiguousarray(obj)
        _fn, (_sub, shape0, tag), state = obj.__reduce__()
        self._write_global(NUMPY_MULTIARRAY, "_reconstruct")
        self.save((RawGlobal("numpy", "ndarray"), shape0, tag))
        self.write(pickle.REDUCE)
        self.memoize(obj)
        self.save(state)
        self.write(pickle.BUILD)

    def save_scalar(self, obj: np.generic) -> None:
        self._write_global(NUMPY_MULTIARRAY, "scalar")
        self.save((obj.dtype, obj.tobytes()))
        self.write(pickle.REDUCE)

    dispatch[RawGlobal] = save_raw_global
    dispatch[Call] = save_call
    dispatch[FakeTFNetwork] = save_network
    dispatch[np.ndarray] = save_ndarray
    for _t in (np.float32, np.float64, np.int32, np.int64, np.bool_):
        dispatch[_t] = save_scalar
    for _t in {type(np.dtype(c)) for c in ("f4", "f8", "i4", "i8", "?", "u1", "i1")}:
        dispatch[_t] = save_dtype


def dumps_tf_pickle(obj: Any, protocol: int = 4) -> bytes:
    """The pickle bytes of ``obj`` (a ``(G, D, Gs)`` tuple, a network, or anything)."""
    import io

    buf = io.BytesIO()
    TFPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def write_tf_pickle(path: str | Path, obj: Any, protocol: int = 4) -> Path:
    """Write ``obj`` to ``path`` (see :func:`dumps_tf_pickle`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps_tf_pickle(obj, protocol=protocol))
    return path
