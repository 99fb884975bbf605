"""Official snapshot pickles: written in NVIDIA's format, read without running any stored code."""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import os
import pickle
import pickletools
import re
import shlex
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from ganatlas.networks import FAMILIES, load_network
from ganatlas.networks.persistence import (
    ALLOWED_GLOBALS,
    SNAPSHOT_KEYS,
    EasyDict,
    NetworkPickleError,
    PersistentRecord,
    UnsafePickleError,
    load_network_pickle,
    module_to_record,
    read_snapshot,
    save_network_pickle,
)
from ganatlas.networks.stylegan2 import Generator

SMALL = dict(z_dim=8, w_dim=8, img_resolution=16, img_channels=3)


def sg2(layout: str = "sg3", seed: int = 0, c_dim: int = 0, **kw) -> Generator:
    """A small random StyleGAN2 generator (weights from ``seed``), eval mode."""
    torch.manual_seed(seed)
    syn = dict(channel_base=128, channel_max=16) | kw
    if layout == "ada":
        g = Generator(c_dim=c_dim, **SMALL, mapping_kwargs={"num_layers": 2}, synthesis_kwargs=syn)
    else:
        g = Generator(c_dim=c_dim, **SMALL, mapping_kwargs={"num_layers": 2}, **syn)
    with torch.no_grad():
        for t in g.state_dict().values():
            if t.is_floating_point() and t.ndim <= 1 and t.numel() > 1:
                t.add_(torch.randn_like(t) * 0.1)  # biases, w_avg: not all zero
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.2)
    return g.eval()


def pickle_globals(path: Path) -> set[str]:
    """``module.name`` of every global a pickle file references (following the memo)."""
    found: set[str] = set()
    pushed: list = []  # recent pushed values (strings, else None)
    memo: dict[int, object] = {}
    for op, arg, _ in pickletools.genops(path.read_bytes()):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            pushed.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = pushed[-1] if pushed else None
        elif op.name in ("BINGET", "LONG_BINGET", "GET"):
            pushed.append(memo.get(int(arg)))
        elif op.name == "STACK_GLOBAL":
            found.add(f"{pushed[-2]}.{pushed[-1]}")
            pushed.append(None)
        elif op.name == "GLOBAL":
            found.add(arg.replace(" ", "."))
            pushed.append(None)
        else:
            pushed.append(None)
    return found


def outputs(g: torch.nn.Module, seed: int = 5) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(2, g.z_dim, generator=gen)
    c = torch.randn(2, g.c_dim, generator=gen)
    with torch.no_grad():
        return g(z, c, truncation_psi=0.7, noise_mode="const")


CONFIGS = {
    "ada-resnet-c4": dict(layout="ada", c_dim=4, architecture="resnet", conv_clamp=256),
    "ada-skip-fp16": dict(layout="ada", num_fp16_res=2),
    "sg3-orig-c2": dict(layout="sg3", c_dim=2, architecture="orig", num_fp16_res=0),
    "sg3-skip-fp16": dict(layout="sg3", num_fp16_res=4, conv_clamp=None),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_roundtrip_official_format(tmp_path: Path, name: str) -> None:
    G, G_ema = sg2(seed=1, **CONFIGS[name]), sg2(seed=2, **CONFIGS[name])
    path = save_network_pickle(
        tmp_path / "snap.pkl", G=G, G_ema=G_ema, training_set_kwargs={"resolution": 16}
    )
    for which, src in (("G_ema", G_ema), ("G", G)):
        h = load_network_pickle(path, which=which)
        assert h.family == ("stylegan2-ada" if name.startswith("ada") else "stylegan2")
        assert h.layout == src.layout and h._init_kwargs == src._init_kwargs
        assert list(h.state_dict()) == list(src.state_dict())
        for key, t in src.state_dict().items():
            assert torch.equal(h.state_dict()[key], t), key
        assert torch.equal(outputs(h), outputs(src))
        assert not any(p.requires_grad for p in h.parameters()) and not h.training
    assert not torch.equal(outputs(load_network_pickle(path, "G")), outputs(G_ema))


def test_written_file_has_the_official_structure(tmp_path: Path) -> None:
    g = sg2(layout="ada", c_dim=3)
    path = save_network_pickle(tmp_path / "snap.pkl", G=g, training_set_kwargs={"use_labels": True})
    data = read_snapshot(path)
    assert tuple(data) == SNAPSHOT_KEYS
    rec = data["G_ema"]
    assert isinstance(rec, PersistentRecord) and rec.class_name == "Generator" and rec.version == 6
    assert "training.networks:" in rec.module_src and "def " not in rec.module_src
    assert rec.state["_init_kwargs"]["synthesis_kwargs"] == {"channel_base": 128, "channel_max": 16}
    assert isinstance(rec.state["_init_kwargs"]["mapping_kwargs"], EasyDict)
    mapping = rec.children()["mapping"]
    assert mapping.class_name == "MappingNetwork"
    assert set(mapping.state["_buffers"]) == {"w_avg"}
    assert isinstance(mapping.state["_parameters"], OrderedDict)
    # The stored __dict__ as NVIDIA's loader restores it: the public plain attributes, nn.Module's
    # (empty) hook tables, and the constructor arguments only under _init_args/_init_kwargs.
    assert rec.state["z_dim"] == g.z_dim == 8 and rec.state["img_resolution"] == g.img_resolution
    assert rec.state["c_dim"] == 3 and rec.state["training"] is g.training
    assert mapping.state["num_ws"] == g.num_ws and mapping.state["w_avg_beta"] == 0.995
    for table in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks"):
        assert rec.state[table] == OrderedDict() and isinstance(rec.state[table], OrderedDict)
    assert rec.state["_init_args"] == () and "_init_kwargs" in rec.state
    assert (
        isinstance(data["training_set_kwargs"], EasyDict) and data["training_set_kwargs"].use_labels
    )
    assert data["D"] is None and data["augment_pipe"] is None
    assert pickle_globals(path) == {
        "torch_utils.persistence._reconstruct_persistent_obj",
        "dnnlib.util.EasyDict",
        "collections.OrderedDict",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_tensor_v2",
        "torch.storage._load_from_bytes",
    }
    assert {tuple(name.rsplit(".", 1)) for name in pickle_globals(path)} <= set(ALLOWED_GLOBALS)


def test_numpy_attributes_and_foreign_state_load(tmp_path: Path) -> None:
    """NVIDIA's stored __dict__s hold numpy float64 gains and hook dicts; they must load."""
    g = sg2()
    rec = module_to_record(g)
    layer = rec.children()["synthesis"].children()["b8"].children()["conv0"]
    layer.state["act_gain"] = np.float64(np.sqrt(2))
    layer.state["in_size"] = np.array([8, 8])
    layer.state["_forward_hooks"] = OrderedDict()
    path = save_network_pickle(tmp_path / "np.pkl", G=rec)
    assert {"numpy.dtype"} <= pickle_globals(path)
    assert torch.equal(outputs(load_network_pickle(path)), outputs(g))


def test_load_network_dispatches_pickles(tmp_path: Path) -> None:
    g = sg2(c_dim=2)
    path = save_network_pickle(tmp_path / "net.pkl", G=g)
    h = load_network(path)
    assert (h.z_dim, h.c_dim, h.w_dim, h.num_ws, h.img_resolution) == (8, 2, 8, 6, 16)
    assert torch.equal(outputs(h), outputs(g))
    h = load_network(f"file://{path}", cache_dir=tmp_path / "cache")
    assert torch.equal(outputs(h), outputs(g))


# --------------------------------------------------------------------------- bad input


def _marker_payload(marker: Path) -> dict:
    """Pickle-able objects whose unpickling would create ``marker`` if executed."""

    class System:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    class Exec:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    class Popen:
        def __reduce__(self):
            return (subprocess.Popen, (["touch", str(marker)],))

    return {"system": System(), "exec": Exec(), "popen": Popen()}


@pytest.mark.parametrize("kind,named", [("system", "system"), ("exec", "builtins.exec"),
                                        ("popen", "subprocess.Popen")])  # fmt: skip
def test_malicious_globals_are_refused(tmp_path: Path, kind: str, named: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    payload = _marker_payload(marker)[kind]
    path.write_bytes(pickle.dumps({"G_ema": payload, "D": None}))
    with pytest.raises(UnsafePickleError, match=f"refusing global .*{named}") as err:
        load_network_pickle(path)
    assert "nothing from this file was executed" in str(err.value)
    assert not marker.exists()


# --------------------------------------------------------------------------- the allow-list pin

# Every network-pickle reader and the exact set of globals its ``find_class`` resolves:
# reader (its Unpickler class) -> (the table it resolves from, the pinned ``(module, name)``s).
# Any change to an allow-list must change this table on purpose: it is a security decision.
# A new reader gets its own entry here: test_every_reader_is_pinned fails until it has one.
ALLOW_LIST_PINS: dict[str, tuple[str, frozenset[tuple[str, str]]]] = {
    "ganatlas.networks.persistence.SnapshotUnpickler": (
        "ganatlas.networks.persistence.ALLOWED_GLOBALS",
        frozenset({
            ("torch_utils.persistence", "_reconstruct_persistent_obj"),
            ("dnnlib.util", "EasyDict"),
            ("dnnlib", "EasyDict"),
            ("collections", "OrderedDict"),
            ("builtins", "set"),
            ("builtins", "frozenset"),
            ("torch._utils", "_rebuild_tensor_v2"),
            ("torch._utils", "_rebuild_parameter"),
            ("torch._utils", "_rebuild_parameter_with_state"),
            ("torch._tensor", "_rebuild_from_type_v2"),
            ("torch", "Tensor"),
            ("torch.nn.parameter", "Parameter"),
            ("torch.storage", "_load_from_bytes"),
            ("torch", "device"),
            ("numpy", "dtype"),
            ("numpy", "ndarray"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("_codecs", "encode"),
        }),
    ),
    "ganatlas.networks.tf_pickle.TFUnpickler": (
        "ganatlas.networks.tf_pickle.ALLOWED_GLOBALS",
        frozenset({
            ("dnnlib.tflib.network", "Network"),
            ("tfutil", "Network"),
            ("dnnlib.util", "EasyDict"),
            ("dnnlib", "EasyDict"),
            ("numpy", "dtype"),
            ("numpy", "ndarray"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("_codecs", "encode"),
        }),
    ),
    # The base class the two readers share resolves nothing by itself.
    "ganatlas.networks.persistence.RestrictedUnpickler": (
        "ganatlas.networks.persistence.RestrictedUnpickler.allowed",
        frozenset(),
    ),
}  # fmt: skip


def _import_dotted(dotted: str):
    """``pkg.mod.Attr[.attr...]`` -> the object (the longest importable prefix is imported)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _probe_globals(pinned: frozenset[tuple[str, str]]) -> set[tuple[str, str]]:
    """Globals to ask a reader about: every name of the modules a pickle gadget reaches for,
    of the modules the format uses, the pinned ones and dotted paths below them (protocol 4
    resolves ``name`` as an attribute path)."""
    probes = set(pinned)
    modules = (
        "builtins os posix nt subprocess importlib operator functools pickle copyreg sys shutil "
        "runpy codecs types io ctypes collections torch torch._utils torch._tensor torch.storage "
        "torch.serialization torch.nn.parameter numpy numpy._core.multiarray"
    ).split()
    for modname in modules:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        probes |= {(modname, n) for n in dir(mod)}
        if modname == "numpy._core.multiarray":  # numpy 1's name for the same module
            probes |= {("numpy.core.multiarray", n) for n in dir(mod)}
    for module, name in pinned:
        probes |= {
            (module, f"{name}.{attr}")
            for attr in ("__globals__", "__init__", "__class__", "__reduce_ex__", "__builtins__")
        }
        probes |= {(f"{module}.{name}", "__call__"), (module.upper(), name), (module, name + " ")}
    for module in ("torch_utils.persistence", "dnnlib", "dnnlib.util"):  # NVIDIA's code only
        probes |= {
            (module, n)
            for n in (
                "persistent_class",
                "_src_to_module",
                "open_url",
                "call_func_by_name",
                "construct_class_by_name",
            )
        }
    return probes


def _resolved_by(reader: type, module: str, name: str) -> tuple[bool, object]:
    """(True, handler) if ``reader`` resolves the global, (False, None) if it refuses it."""
    try:
        return True, reader(io.BytesIO(b"")).find_class(module, name)
    except NetworkPickleError:  # UnsafePickleError, or the TF-era pointer
        return False, None


@pytest.mark.parametrize("reader", sorted(ALLOW_LIST_PINS))
def test_allow_list_is_exactly_the_pinned_set(reader: str) -> None:
    table, pinned = ALLOW_LIST_PINS[reader]
    assert set(_import_dotted(table)) == pinned, "the allow-list table changed: review and re-pin"
    cls = _import_dotted(reader)
    accepted = {g for g in _probe_globals(pinned) if _resolved_by(cls, *g)[0]}
    assert accepted == pinned, (
        f"{reader}.find_class resolves {sorted(accepted - pinned)} beyond the pinned set"
        f" and refuses {sorted(pinned - accepted)}"
    )


def test_snapshot_reader_handlers_are_inert_stand_ins() -> None:
    """What each allowed global resolves to: ganatlas's checked handlers, never the original
    function (``torch.storage._load_from_bytes`` runs an unrestricted ``torch.load`` in some
    PyTorch versions; NVIDIA's ``_reconstruct_persistent_obj`` executes stored source)."""
    from ganatlas.networks import persistence as P

    mm = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    want = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): P._reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): P.EasyDict,
        ("dnnlib", "EasyDict"): P.EasyDict,
        ("collections", "OrderedDict"): OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("torch._utils", "_rebuild_tensor_v2"): P._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): P._rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): P._rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): P._rebuild_from_type_v2,
        ("torch", "Tensor"): torch.Tensor,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch.storage", "_load_from_bytes"): P._load_storage,
        ("torch", "device"): P._device,
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy.core.multiarray", "scalar"): mm.scalar,
        ("numpy.core.multiarray", "_reconstruct"): mm._reconstruct,
        ("numpy._core.multiarray", "scalar"): mm.scalar,
        ("numpy._core.multiarray", "_reconstruct"): mm._reconstruct,
        ("_codecs", "encode"): P.codecs_encode,
    }
    assert set(want) == ALLOW_LIST_PINS["ganatlas.networks.persistence.SnapshotUnpickler"][1]
    for (module, name), handler in want.items():
        ok, got = _resolved_by(P.SnapshotUnpickler, module, name)
        assert ok and got is handler, f"{module}.{name} resolves to {got!r}, not {handler!r}"


def test_every_reader_is_pinned() -> None:
    """Every Unpickler in the package (a class deriving from one, or defining find_class) has
    an entry in ALLOW_LIST_PINS: a new reader cannot arrive without a pinned allow-list."""
    root = Path(__file__).resolve().parents[2] / "ganatlas"
    readers = set()
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(b) for b in node.bases]
            defines = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
            if any(b.endswith("Unpickler") for b in bases) or "find_class" in defines:
                readers.add(f"{module}.{node.name}")
    assert readers == set(ALLOW_LIST_PINS)


# Planted pickles: for each dangerous family, a pickle written opcode by opcode whose
# unrestricted unpickling creates a marker file. The reader must refuse the *first* global it
# meets (named in the error as module.name) before anything runs.


class _Planted:
    """A pickle program: ``emit`` writes an expression; the result is ``{"G_ema": expr}``.

    Expressions: ``str``, ``bytes``, a ``list`` of them, ``("g", module, name)`` (a global,
    written with GLOBAL or STACK_GLOBAL), ``("call", f, *args)`` (REDUCE),
    ``("let", key, value, body)`` (evaluate ``value`` first, memoize it, then ``body``, where
    ``("get", key)`` reads it back).
    """

    def __init__(self, protocol: int, opcode: str) -> None:
        self.protocol, self.opcode = protocol, opcode
        self.out = bytearray()
        self.memo: dict[str, int] = {}

    def emit(self, e) -> None:
        out = self.out
        if isinstance(e, str):
            b = e.encode()
            if self.protocol >= 4 and len(b) < 256:
                out += pickle.SHORT_BINUNICODE + bytes([len(b)]) + b
            else:
                out += pickle.BINUNICODE + struct.pack("<I", len(b)) + b
        elif isinstance(e, bytes):
            out += pickle.BINBYTES + struct.pack("<I", len(e)) + e
        elif isinstance(e, list):
            out += pickle.EMPTY_LIST + pickle.MARK
            for item in e:
                self.emit(item)
            out += pickle.APPENDS
        elif e[0] == "g":
            _, module, name = e
            if self.opcode == "GLOBAL":
                out += pickle.GLOBAL + f"{module}\n{name}\n".encode()
            else:
                self.emit(module)
                self.emit(name)
                out += pickle.STACK_GLOBAL
        elif e[0] == "call":
            self.emit(e[1])
            out += pickle.MARK
            for arg in e[2:]:
                self.emit(arg)
            out += pickle.TUPLE + pickle.REDUCE
        elif e[0] == "let":
            _, key, value, body = e
            self.emit(value)
            self.memo[key] = len(self.memo)
            out += pickle.BINPUT + bytes([self.memo[key]]) + pickle.POP
            self.emit(body)
        elif e[0] == "get":
            out += pickle.BINGET + bytes([self.memo[e[1]]])
        else:  # pragma: no cover - a mistake in a payload table
            raise ValueError(e)

    def dumps(self, payload) -> bytes:
        self.out = bytearray(pickle.EMPTY_DICT)
        self.emit("G_ema")
        self.emit(payload)
        body = bytes(self.out + pickle.SETITEM + pickle.STOP)
        head = pickle.PROTO + bytes([self.protocol])
        if self.protocol >= 4:
            head += pickle.FRAME + struct.pack("<Q", len(body))
        return head + body


def _g(dotted: str) -> tuple:
    module, name = dotted.rsplit(".", 1)
    return ("g", module, name)


def _planted_payloads(marker: Path) -> dict[str, object]:
    """First global met -> an expression that creates ``marker`` when unpickled unrestricted."""
    m = str(marker)
    py, shell, argv = f"open({m!r}, 'w').close()", f"touch {shlex.quote(m)}", ["touch", m]
    os_module = ("g", "shutil", "os")  # any importable module holding a reference to os

    def via_getattr(module_expr):
        return ("call", ("call", _g("builtins.getattr"), module_expr, "system"), shell)

    inner = _Planted(2, "GLOBAL").dumps(("call", _g("os.system"), shell))
    return {
        # eval / exec
        "builtins.eval": ("call", _g("builtins.eval"), py),
        "builtins.exec": ("call", _g("builtins.exec"), py),
        "builtins.compile": (
            "let", "code", ("call", _g("builtins.compile"), py, "<planted>", "exec"),
            ("call", _g("builtins.exec"), ("get", "code")),
        ),
        # os / subprocess
        "os.system": ("call", _g("os.system"), shell),
        "posix.system": ("call", _g("posix.system"), shell),
        "subprocess.Popen": ("call", _g("subprocess.Popen"), argv),
        "subprocess.check_output": ("call", _g("subprocess.check_output"), argv),
        # importlib
        "importlib.import_module": (
            "let", "os", ("call", _g("importlib.import_module"), "os"), via_getattr(("get", "os")),
        ),
        "builtins.__import__": (
            "let", "os", ("call", _g("builtins.__import__"), "os"), via_getattr(("get", "os")),
        ),
        # getattr chains and callable-building gadgets
        "builtins.getattr": via_getattr(os_module),
        "operator.attrgetter": (
            "call", ("call", ("call", _g("operator.attrgetter"), "system"), os_module), shell,
        ),
        "operator.methodcaller": (
            "call", ("call", _g("operator.methodcaller"), "system", shell), os_module,
        ),
        "functools.partial": ("call", ("call", _g("functools.partial"), _g("os.system"), shell)),
        "functools.reduce": (
            "call",
            ("call", _g("functools.reduce"), _g("builtins.getattr"), ["system"], os_module),
            shell,
        ),
        # files and nested unrestricted unpickling
        "builtins.open": ("call", _g("builtins.open"), m, "w"),
        "pickle.loads": ("call", _g("pickle.loads"), inner),
    }  # fmt: skip


PLANTED = list(_planted_payloads(Path("marker")))
ENCODINGS = {"p2-GLOBAL": (2, "GLOBAL"), "p4-STACK_GLOBAL": (4, "STACK_GLOBAL"),
             "p4-GLOBAL": (4, "GLOBAL")}  # fmt: skip


def _planted_file(tmp_path: Path, dangerous: str, encoding: str) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    data = _Planted(*ENCODINGS[encoding]).dumps(_planted_payloads(marker)[dangerous])
    path = tmp_path / f"planted-{dangerous}-{encoding}.pkl"
    path.write_bytes(data)
    return path, marker


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("dangerous", PLANTED)
def test_planted_dangerous_global_is_refused_by_name(
    tmp_path: Path, dangerous: str, encoding: str
) -> None:
    path, marker = _planted_file(tmp_path, dangerous, encoding)
    opcodes = {op.name for op, _, _ in pickletools.genops(path.read_bytes())}
    assert ("STACK_GLOBAL" if "STACK" in encoding else "GLOBAL") in opcodes
    assert dangerous in pickle_globals(path)  # the file really names that global
    with pytest.raises(UnsafePickleError, match=re.escape(f"refusing global {dangerous}:")) as err:
        load_network_pickle(path)
    assert "nothing from this file was executed" in str(err.value)
    time.sleep(0.05)  # a spawned process (Popen) would have had time to create the marker
    assert not marker.exists()


@pytest.mark.skipif(os.name != "posix", reason="the payloads use os.system/posix and touch")
@pytest.mark.parametrize("dangerous", PLANTED)
def test_planted_pickles_are_live(tmp_path: Path, dangerous: str) -> None:
    """Control: unpickled *without* restrictions (in a child process), each planted pickle does
    create its marker, so the refusal test above guards a real payload."""
    for encoding in ENCODINGS:
        path, marker = _planted_file(tmp_path, dangerous, encoding)
        code = "import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read())"
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True)
        deadline = time.monotonic() + 10  # Popen returns before its child has run
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), f"{dangerous} ({encoding}) did not run unrestricted"
        marker.unlink()


def test_stored_module_source_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    g = sg2()
    rec = module_to_record(g)
    evil = f"import os\nos.system('touch {marker}')\nopen({str(marker)!r}, 'w')\n"

    def poison(r: PersistentRecord) -> None:
        r.module_src = evil
        for child in r.children().values():
            poison(child)

    poison(rec)
    path = save_network_pickle(tmp_path / "evil_src.pkl", G=rec)
    h = load_network_pickle(path)  # loads: the source text is only data
    assert torch.equal(outputs(h), outputs(g))
    assert not marker.exists()


def test_malicious_storage_blob_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    blob = pickle.dumps(_marker_payload(marker)["system"])

    class Storage:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (blob,))

    path = tmp_path / "evil_storage.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Storage()}))
    with pytest.raises(NetworkPickleError, match="storage could not be read safely"):
        load_network_pickle(path)
    assert not marker.exists()


def test_truncated_corrupted_and_foreign_files(tmp_path: Path) -> None:
    good = save_network_pickle(tmp_path / "good.pkl", G=sg2()).read_bytes()
    cases = {
        "truncated.pkl": (good[: len(good) // 2], "truncated or corrupted"),
        "empty.pkl": (b"", "is empty"),
        "text.pkl": (b"hello world, not a network", "is not a pickle"),
        "zip.pkl": (b"PK\x03\x04" + b"\0" * 40, "zip archive"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(NetworkPickleError, match=message):
            load_network_pickle(tmp_path / name)
    with pytest.raises(NetworkPickleError, match="cannot read network pickle"):
        load_network_pickle(tmp_path / "missing.pkl")


def _tensor_data_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the tensor storages (the BINBYTES payloads) inside a snapshot pickle."""
    import pickletools

    ranges = []
    for op, arg, pos in pickletools.genops(data):
        if op.name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8") and len(arg) > 64:
            head = {"SHORT_BINBYTES": 2, "BINBYTES": 5, "BINBYTES8": 9}[op.name]
            ranges.append((pos + head, pos + head + len(arg)))
    return ranges


def test_flipped_bytes_give_a_clear_error_or_are_caught_by_the_sha256(tmp_path: Path) -> None:
    """A flipped byte in the pickle's structure (opcodes, records, kwargs) is a NetworkPickleError
    or loads a network; it never escapes as another exception. A flipped byte in tensor data
    cannot be seen by the reader (the format has no checksums): it loads with other weights, and
    the workflow's sha256 check (network.json) refuses the file."""
    from ganatlas.networks.resolve import NetworkChangedError, describe_network, load_from_info

    good = save_network_pickle(tmp_path / "good.pkl", G=sg2())
    data = good.read_bytes()
    ranges = _tensor_data_ranges(data)
    assert ranges and sum(b - a for a, b in ranges) > len(data) // 2  # mostly tensor bytes
    in_data = np.zeros(len(data), bool)
    for a, b in ranges:
        in_data[a:b] = True
    structure = np.flatnonzero(~in_data[2:]) + 2
    rng = np.random.default_rng(0)
    outcomes = {"error": 0, "loaded": 0}
    for pos in rng.choice(structure, size=60, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        path = tmp_path / "flip.pkl"
        path.write_bytes(bytes(bad))
        try:
            load_network_pickle(path)
            outcomes["loaded"] += 1
        except NetworkPickleError as exc:
            assert str(path) in str(exc)
            outcomes["error"] += 1
    assert outcomes["error"] >= 30, outcomes  # most structural damage is reported
    info = describe_network(str(good))
    a, b = max(ranges, key=lambda r: r[1] - r[0])  # the largest storage: raw values at its end
    bad = bytearray(data)
    bad[b - 16] ^= 0xFF
    good.write_bytes(bytes(bad))
    damaged = load_network_pickle(good)  # the reader cannot tell
    original = load_network_pickle(save_network_pickle(tmp_path / "again.pkl", G=sg2()))
    assert any(
        not torch.equal(x, y)
        for x, y in zip(damaged.state_dict().values(), original.state_dict().values(), strict=True)
    )
    with pytest.raises(NetworkChangedError, match="changed since network.json was written"):
        load_from_info(info)


def _byte_roles(data: bytes) -> tuple[dict[str, set[int]], dict[int, int]]:
    """Positions of a snapshot pickle's bytes by role, from its opcodes and PyTorch's legacy
    storage layout (each storage blob ends with the storage's raw bytes).

    ``opcode``: every opcode byte. ``string``: length and text of every string. ``tensor_meta``:
    storage offset, sizes and strides of every tensor (the ints between a storage and its
    ``requires_grad`` flag), less the strides of size-1 dims (any value is valid there).
    ``kwargs``: the bytes of the generator's own ``_init_kwargs``. ``data``: raw tensor bytes.
    ``rest``: everything else (values of stored attributes, memo indices, frame and
    storage-blob headers). Also returned: data byte -> where its storage's raw bytes start.
    """
    roles: dict[str, set[int]] = {k: set() for k in ("opcode", "string", "tensor_meta", "data")}
    ops = list(pickletools.genops(data))
    memo: dict[int, object] = {}
    data_start: dict[int, int] = {}
    strings: list[object] = []  # per op: the string it pushes (or fetches from the memo)
    last, in_meta = None, False
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        roles["opcode"].add(pos)
        value = None
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"):
            roles["string"].update(range(pos + 1, end))
            value = arg
        elif op.name in ("BINGET", "LONG_BINGET"):
            value = memo.get(arg)
        elif op.name in ("SHORT_BINBYTES", "BINBYTES", "BINBYTES8"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nbytes = torch.load(io.BytesIO(arg), weights_only=True).nbytes()
            roles["data"].update(range(end - nbytes, end))
            data_start.update(dict.fromkeys(range(end - nbytes, end), end - nbytes))
            in_meta = True
            meta = []  # (arg bytes, value) of the storage offset, then sizes, then strides
        elif op.name in ("NEWFALSE", "NEWTRUE") and in_meta:
            in_meta = False
            ndim = (len(meta) - 1) // 2
            sizes = [v for _, v in meta[1 : 1 + ndim]]
            for j, (span, _) in enumerate(meta):  # a size-1 dim's stride is arbitrary
                if j <= ndim or sizes[j - 1 - ndim] != 1:
                    roles["tensor_meta"].update(span)
        elif in_meta and op.name in ("BININT1", "BININT2", "BININT", "LONG1"):
            meta.append((range(pos + 1, end), arg))
        if op.name == "MEMOIZE":
            memo[len(memo)] = last
        elif op.name in ("BINPUT", "LONG_BINPUT"):
            memo[arg] = last
        else:
            last = value
        strings.append(value)
    # The root generator's _init_kwargs: from its key (the last before the top-level "D").
    d_pos = next(pos for (_, _, pos), s in zip(ops, strings, strict=True) if s == "D")
    kw_pos = max(
        pos
        for (_, _, pos), s in zip(ops, strings, strict=True)
        if s == "_init_kwargs" and pos < d_pos
    )
    roles["kwargs"] = set(range(kw_pos, d_pos))
    roles["rest"] = set(range(len(data))) - set().union(*roles.values())
    return roles, data_start


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise TimeoutError after ``seconds`` (POSIX main thread; elsewhere no limit)."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expire(*_):
        raise TimeoutError(f"still loading after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# Stored, but never read by the forward pass: the 4x4 block has no image to upsample.
UNREAD_TENSORS = {"synthesis.b4.resample_filter"}


def test_flipped_bytes_fail_clearly_or_carry_into_one_tensor(tmp_path: Path) -> None:
    """A flipped byte in the file's structure (opcodes, strings, tensor offsets/sizes/strides,
    the generator's kwargs) is a NetworkPickleError: never another exception, never a hang,
    never a silent load. A flipped byte of tensor data loads (the format has no checksum) and
    changes exactly that byte of that one tensor, which changes the image: nothing hides or
    spreads the damage. Any other byte (a stored attribute value, which ganatlas does not use;
    a storage header field PyTorch ignores) gives an error or the very same network."""
    g = sg2()
    good = save_network_pickle(tmp_path / "good.pkl", G=g).read_bytes()
    roles, data_start = _byte_roles(good)
    sd0, out0 = g.state_dict(), outputs(g)
    assert len(roles["data"]) == sum(t.numel() * t.element_size() for t in sd0.values())
    assert min(len(v) for v in roles.values()) > 20
    rng = np.random.default_rng(0)
    sample = {"opcode": 60, "string": 30, "tensor_meta": 60, "kwargs": 40, "rest": 50, "data": 30}
    bad_path = tmp_path / "flipped.pkl"
    problems = []
    for role, n in sample.items():
        positions = sorted(roles[role])
        for pos in map(int, rng.choice(positions, size=min(n, len(positions)), replace=False)):
            bad = bytearray(good)
            bad[pos] ^= 0xFF
            bad_path.write_bytes(bytes(bad))
            try:
                with _time_limit(10):
                    h = load_network_pickle(bad_path)
            except NetworkPickleError:
                if role == "data":
                    problems.append(f"data byte {pos}: refused")
                continue
            except Exception as exc:  # noqa: BLE001 - the wrong type is what we report
                problems.append(f"{role} byte {pos}: {type(exc).__name__}: {exc}")
                continue
            sd = h.state_dict()
            changed = [k for k, t in sd0.items() if k not in sd or not torch.equal(sd[k], t)]
            if role == "rest" and not changed and h._init_kwargs == g._init_kwargs:
                continue
            if role == "data" and list(sd) == list(sd0) and len(changed) == 1:
                (key,) = changed
                want = bytearray(sd0[key].contiguous().numpy().tobytes())
                want[pos - data_start[pos]] ^= 0xFF
                exact = sd[key].contiguous().numpy().tobytes() == want
                if exact and (key in UNREAD_TENSORS or not torch.equal(outputs(h), out0)):
                    continue
            problems.append(f"{role} byte {pos}: loaded, tensors changed: {changed[:4]}")
    assert not problems, "\n".join(problems)


def test_tensorflow_pickle_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tf.pkl"
    path.write_bytes(b"\x80\x02cdnnlib.tflib.network\nNetwork\nq\x00)\x81q\x01}q\x02b.")
    with pytest.raises(NetworkPickleError, match="TensorFlow-era .*dnnlib.tflib.network.Network"):
        load_network_pickle(path)


def test_discriminator_only_and_unknown_classes(tmp_path: Path) -> None:
    src = "# placeholder\n"
    disc = PersistentRecord("Discriminator", src, {"_parameters": {}, "_modules": {}})
    path = save_network_pickle(tmp_path / "d.pkl", D=disc)
    with pytest.raises(NetworkPickleError, match=r"only a discriminator \(keys: "):
        load_network_pickle(path)
    path = save_network_pickle(tmp_path / "dg.pkl", G_ema=disc)
    with pytest.raises(NetworkPickleError, match="a Discriminator, not a generator.*load_discrim"):
        load_network_pickle(path)
    path = save_network_pickle(tmp_path / "dx.pkl", G_ema=PersistentRecord("Critic", src, {}))
    with pytest.raises(NetworkPickleError, match="unknown network class 'Critic'"):
        load_network_pickle(path)
    odd = PersistentRecord(
        "Generator", src, {"_modules": {"body": PersistentRecord("FancyBlock", src, {})}}
    )
    path = save_network_pickle(tmp_path / "odd.pkl", G=odd)
    with pytest.raises(NetworkPickleError, match=r"unknown Generator class.*\['FancyBlock'\]"):
        load_network_pickle(path)
    with pytest.raises(
        NetworkPickleError,
        match=r"no network under 'G_emma' \(keys with a value: \['G', 'G_ema'\]\); use which='G_ema' or 'G'",
    ):
        load_network_pickle(save_network_pickle(tmp_path / "g.pkl", G=sg2()), which="G_emma")


def test_mismatched_kwargs_or_tensors(tmp_path: Path) -> None:
    rec = module_to_record(sg2())
    rec.state["_init_kwargs"]["unheard_of"] = 3
    with pytest.raises(NetworkPickleError, match="cannot rebuild the stylegan2 Generator"):
        load_network_pickle(save_network_pickle(tmp_path / "kw.pkl", G=rec))
    rec = module_to_record(sg2())
    del (
        rec.children()["synthesis"]
        .children()["b8"]
        .children()["conv1"]
        .state["_parameters"]["weight"]
    )
    with pytest.raises(NetworkPickleError, match="do not match.*Missing.*b8.conv1.weight"):
        load_network_pickle(save_network_pickle(tmp_path / "t.pkl", G=rec))
    rec = module_to_record(sg2())
    conv1 = rec.children()["synthesis"].children()["b8"].children()["conv1"]
    conv1.state["_buffers"]["stray_filter"] = torch.ones(3)
    with pytest.raises(
        NetworkPickleError, match=r"do not match.*Unexpected.*b8\.conv1\.stray_filter"
    ):
        load_network_pickle(save_network_pickle(tmp_path / "x.pkl", G=rec))


def test_tensor_views_must_fit_their_storage_without_overlap() -> None:
    """The reader's tensor rebuild refuses views outside their storage (PyTorch's own rebuild
    would read the memory that follows) and views that overlap themselves."""
    from ganatlas.networks.persistence import _rebuild_tensor_v2

    base = torch.arange(24.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated, and what pickles hold
        storage = base.storage()
    good = [
        (0, (2, 3, 4), (12, 4, 1)),
        (0, (4, 3, 2), (1, 4, 12)),  # a transposed layout: no overlap
        (0, (2, 1, 12), (12, 999, 1)),  # a size-1 dim's stride is arbitrary
        (0, (2, 1, 12), (12, 0, 1)),  # ... small or zero: it spans nothing
        (0, (3, 1, 8), (8, 5, 1)),
        (23, (1,), (1,)),
        (4, (20,), (1,)),
        (0, (0, 5), (5, 1)),  # empty
        (5, (), ()),  # a scalar
    ]
    for offset, size, stride in good:
        t = _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
        assert torch.equal(t, base.as_strided(size, stride, offset))
    bad = [
        (1, (2, 3, 4), (12, 4, 1)),  # runs one element past the end
        (0, (2, 3, 4), (12, 4, 2)),
        (0, (25,), (1,)),
        (-1, (2,), (1,)),
        (0, (2, 3, 4), (11, 4, 1)),  # overlaps itself
        (0, (4, 6), (0, 1)),  # an expanded view
        (0, (2, 3), (3,)),
    ]
    for offset, size, stride in bad:
        with pytest.raises(NetworkPickleError, match="outside its storage .* or overlaps itself"):
            _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())


def test_corrupted_record_fields_are_named(tmp_path: Path) -> None:
    """Wrong types where the format has dicts, sets and string names, and an overlapping
    tensor view, are NetworkPickleErrors (before: TypeError, AttributeError, RuntimeError, or a
    silent load)."""

    def conv1(rec: PersistentRecord) -> PersistentRecord:
        return rec.children()["synthesis"].children()["b8"].children()["conv1"]

    def tensor_named_by_tuple(rec):
        params = conv1(rec).state["_parameters"]
        params[("weight",)] = params.pop("weight")

    def overlapping_bias(rec):
        bias = conv1(rec).state["_parameters"]["bias"]
        conv1(rec).state["_parameters"]["bias"] = torch.nn.Parameter(
            bias.detach().clone().as_strided(bias.shape, (0,))
        )

    cases = {
        "named by a tuple": tensor_named_by_tuple,
        "_modules of a stored 'SynthesisBlock' is a Tensor": (
            lambda rec: (
                rec.children()["synthesis"].children()["b8"].state.update(_modules=torch.zeros(2))
            )
        ),
        "_buffers of a stored 'SynthesisLayer' is a list": (
            lambda rec: conv1(rec).state.update(_buffers=[1, 2])
        ),
        "_non_persistent_buffers_set of a stored 'SynthesisLayer' is a int": (
            lambda rec: conv1(rec).state.update(_non_persistent_buffers_set=3)
        ),
        "overlaps itself": overlapping_bias,
    }
    for message, corrupt in cases.items():
        rec = module_to_record(sg2())
        corrupt(rec)
        path = save_network_pickle(tmp_path / "bad.pkl", G=rec)
        with pytest.raises(NetworkPickleError, match=re.escape(message)):
            load_network_pickle(path)


def test_loading_never_imports_foreign_modules(tmp_path: Path) -> None:
    path = save_network_pickle(tmp_path / "g.pkl", G=sg2())
    code = (
        "import sys; from ganatlas.networks.persistence import load_network_pickle; "
        f"load_network_pickle({str(path)!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch_utils', 'dnnlib', 'training')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_easydict_behaves_like_nvidias() -> None:
    d = EasyDict(a=1)
    d.b = 2
    assert d == {"a": 1, "b": 2} and d.a == 1
    with pytest.raises(AttributeError):
        _ = d.missing
    buf = io.BytesIO()
    pickle.dump(d, buf)
    assert pickle.loads(buf.getvalue()) == d


# --------------------------------------------------------------------------- StyleGAN3


SG3_CONFIGS = {
    "T": dict(channel_base=256, channel_max=32),
    "R": dict(channel_base=512, channel_max=64, conv_kernel=1, use_radial_filters=True),
}


@pytest.mark.parametrize("cfg", list(SG3_CONFIGS))
def test_stylegan3_roundtrip(tmp_path: Path, cfg: str) -> None:
    from ganatlas.networks.stylegan3 import Generator as StyleGAN3

    torch.manual_seed(0)
    g = StyleGAN3(
        z_dim=8, c_dim=2, w_dim=8, img_resolution=16, img_channels=3,
        mapping_kwargs={"num_layers": 2}, num_layers=4, **SG3_CONFIGS[cfg],
    ).eval()  # fmt: skip
    with torch.no_grad():
        for key, t in g.state_dict().items():
            if key.endswith(("magnitude_ema", "w_avg")):
                t.uniform_(0.5, 1.5)  # not the constructor's values
    path = save_network_pickle(tmp_path / f"sg3{cfg}.pkl", G=g)
    rec = read_snapshot(path)["G_ema"]
    assert "training.networks_stylegan3" in rec.module_src
    assert "SynthesisInput" in rec.class_names()
    h = load_network(path)
    assert h.family == "stylegan3" and type(h) is StyleGAN3
    assert h._init_kwargs == g._init_kwargs
    assert list(h.state_dict()) == list(g.state_dict())
    for key, t in g.state_dict().items():
        assert torch.equal(h.state_dict()[key], t), key
    assert torch.equal(outputs(h), outputs(g))


def test_non_persistent_buffers_in_a_record_are_ignored(tmp_path: Path) -> None:
    """A buffer listed in ``_non_persistent_buffers_set`` is not part of the state dict: a record
    that stores one still loads (strictly), and a persistent buffer of that name would not."""
    g = sg2()
    rec = module_to_record(g)
    state = rec.children()["mapping"].state
    state["_buffers"]["scratch"] = torch.ones(3)
    state["_non_persistent_buffers_set"] = {"scratch"}
    loaded = load_network_pickle(save_network_pickle(tmp_path / "np.pkl", G=rec))
    torch.testing.assert_close(loaded.mapping.w_avg, g.mapping.w_avg)
    state["_non_persistent_buffers_set"] = set()
    with pytest.raises(NetworkPickleError, match="scratch"):
        load_network_pickle(save_network_pickle(tmp_path / "p.pkl", G=rec))


#: The constructor-kwarg ranges the readers accept (inclusive), pinned: widening one must
#: change this table on purpose.
KWARG_BOUND_PINS = {
    "z_dim": (0, 8192), "w_dim": (1, 8192), "c_dim": (0, 65536), "img_resolution": (4, 4096),
    "img_channels": (1, 4), "channel_base": (1, 1 << 18), "channel_max": (1, 4096),
    "num_layers": (0, 64), "num_ws": (1, 128), "num_fp16_res": (0, 16), "conv_kernel": (1, 7),
    "filter_size": (1, 16), "num_critical": (0, 16), "embed_features": (0, 8192),
    "layer_features": (0, 8192),
}  # fmt: skip


@pytest.mark.parametrize("key", list(KWARG_BOUND_PINS))
def test_kwarg_bounds_hold_exactly_at_their_edges(key: str) -> None:
    """Each bound accepts its two edges and refuses one past them, naming the key and range;
    nested kwargs (``mapping_kwargs``) are checked too."""
    from ganatlas.networks.persistence import KWARG_BOUNDS, check_kwargs

    assert KWARG_BOUNDS == KWARG_BOUND_PINS
    lo, hi = KWARG_BOUND_PINS[key]
    for edge in (lo, hi):
        if key != "img_resolution" or (edge & (edge - 1)) == 0:
            check_kwargs({key: edge})
    for bad in (lo - 1, hi + 1):
        with pytest.raises(NetworkPickleError, match=rf"kwarg {key}={bad} is outside {lo}\.\.{hi}"):
            check_kwargs({key: bad})
        with pytest.raises(NetworkPickleError, match=rf"mapping_kwargs\.{key}={bad} is outside"):
            check_kwargs({"mapping_kwargs": {key: bad}})


def test_img_resolution_must_be_a_power_of_two() -> None:
    from ganatlas.networks.persistence import check_kwargs

    for res in (4, 256, 1024, 4096):
        check_kwargs({"img_resolution": res})
    for res in (6, 1000, 1023, 1025):
        with pytest.raises(NetworkPickleError, match=f"img_resolution={res} is not a power of two"):
            check_kwargs({"img_resolution": res})


def test_written_stylegan3_records_keep_the_array_attributes_nvidias_forward_reads(
    tmp_path: Path,
) -> None:
    """NVIDIA's loader restores each stored ``__dict__`` and its StyleGAN3 forward reads numpy
    attributes (``SynthesisInput.size``, ``SynthesisLayer.in_size``/``out_size``): they are
    written (a written SG3 pickle once lacked them, and NVIDIA's code failed on ``self.size``),
    and the file still reads back through the restricted reader. The network has run before it
    is written: its private caches (resampling plans) are not stored."""
    g = FAMILIES["stylegan3"].small()
    z = torch.randn(2, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = g(z, None, noise_mode="const")
    assert any(getattr(m, "_matrix_cache", None) for m in g.modules())
    path = save_network_pickle(tmp_path / "sg3.pkl", G=g)
    rec = read_snapshot(path)["G_ema"]

    def find(r: PersistentRecord, name: str) -> list[PersistentRecord]:
        out = [r] if r.class_name == name else []
        for child in r.children().values():
            out += find(child, name)
        return out

    (inp,) = find(rec, "SynthesisInput")
    assert isinstance(inp.state["size"], np.ndarray)
    np.testing.assert_array_equal(inp.state["size"], g.synthesis.input.size)
    layers = find(rec, "SynthesisLayer")
    assert len(layers) == g.synthesis.num_layers + 1  # + ToRGB
    for lr in layers:
        assert lr.state["in_size"].dtype.kind in "iu" and lr.state["out_size"].shape == (2,)
    assert not any(lr.state.get("_matrix_cache") for lr in layers)  # no cached plans stored
    loaded = load_network_pickle(path)
    with torch.no_grad():
        torch.testing.assert_close(loaded(z, None, noise_mode="const"), before, rtol=0, atol=0)
