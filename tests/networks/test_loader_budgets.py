"""The network readers are bounded: each resource-abuse pickle is refused within a CPU-time and
memory bound, with an error naming the file; the writer's every protocol reads back; refused
``.pt`` files give one line.

The bound is CPU seconds of the loading process, not wall-clock time, so a busy machine does not
fail it; it is set far above what a bounded reader needs (each attack takes well under 1 CPU s
here) and far below what an unbounded one does (minutes to hours, or memory exhaustion). The
speed itself is a benchmark number (README, Safety), not a test."""

from __future__ import annotations

import json
import pickle
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganatlas.networks import FAMILIES
from ganatlas.networks.persistence import (
    PersistentRecord,
    load_network_pickle,
    module_to_record,
    save_network_pickle,
)

CPU_SECONDS, MEGABYTES = 10.0, 500

_PROBE = """
import json, resource, sys, time
import torch
from ganatlas.networks import load_network
path = sys.argv[1]
torch.nn.Linear(2, 2, device="meta")  # one-time imports of the meta device, paid once per process
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0 = time.perf_counter(), cpu()
try:
    load_network(path)
    error = None
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"error": error, "seconds": seconds, "cpu_seconds": cpu_seconds,
                  "mb": (after - before) / 1024}))
"""


def probe(path: Path) -> dict:
    """Load ``path`` in a fresh process: its error, wall and CPU seconds, peak memory growth (MB).

    The process gets 60 s and 4 GB of address space beyond its imports, so a regression fails
    this test instead of the machine."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _sg2_record() -> PersistentRecord:
    return module_to_record(FAMILIES["stylegan2"].small())


def shared_module_dag(path: Path, depth: int = 40) -> Path:
    """A generator whose submodules share children: 2^depth paths through ``depth`` records."""
    rec = _sg2_record()
    node = PersistentRecord("Leaf", "", {"_modules": {}})
    for i in range(depth):
        node = PersistentRecord(f"Node{i}", "", {"_modules": {"a": node, "b": node}})
    rec.state["_modules"]["extra"] = node
    return save_network_pickle(path, G=rec)


def shared_kwarg_lists(path: Path, depth: int = 40) -> Path:
    rec = _sg2_record()
    value: list = [1]
    for _ in range(depth):
        value = [value, value]
    rec.state["_init_kwargs"]["mapping_kwargs"]["layer_features_list"] = value
    return save_network_pickle(path, G=rec)


def cyclic_kwargs(path: Path) -> Path:
    rec = _sg2_record()
    loop: list = []
    loop.append(loop)
    rec.state["_init_kwargs"]["mapping_kwargs"]["loop"] = loop
    return save_network_pickle(path, G=rec)


def kwarg(path: Path, **update) -> Path:
    rec = _sg2_record()
    rec.state["_init_kwargs"].update(update)
    return save_network_pickle(path, G=rec)


def memo_index(path: Path) -> Path:
    """9 bytes: protocol 2, None, LONG_BINPUT 2^27, STOP."""
    path.write_bytes(b"\x80\x02N" + b"r" + struct.pack("<I", 1 << 27) + b".")
    return path


ATTACKS = {
    "shared submodules (2^40 paths)": (
        shared_module_dag,
        "is stored twice|stored module tree has more than",
    ),
    "shared lists in _init_kwargs": (shared_kwarg_lists, "kwargs has more than"),
    "cyclic _init_kwargs": (cyclic_kwargs, "contain a cycle"),
    "w_dim=25000": (lambda p: kwarg(p, w_dim=25000), "w_dim=25000 is outside 1..8192"),
    "w_dim=8000 in a tiny file": (
        lambda p: kwarg(p, w_dim=8000),
        "declare a network of .* values, but the file holds",
    ),
    "img_resolution=2^20": (
        lambda p: kwarg(p, img_resolution=1 << 20),
        "img_resolution=1048576 is outside 4..4096",
    ),
    "LONG_BINPUT 2^27 (9 bytes)": (memo_index, "is not a snapshot dict|holds a NoneType"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_resource_abuse_is_refused_quickly_in_bounded_memory(name: str, tmp_path: Path) -> None:
    build, message = ATTACKS[name]
    path = build(tmp_path / "abuse.pkl")
    assert path.stat().st_size < 128 * 1024  # each attack is a small file (a tiny network)
    result = probe(path)
    assert result["error"] is not None and "NetworkPickleError" in result["error"], result
    assert str(path) in result["error"]
    import re

    assert re.search(message, result["error"]), result["error"]
    assert result["cpu_seconds"] < CPU_SECONDS, result
    assert result["mb"] < MEGABYTES, result


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("family", ["stylegan2", "stylegan3"])
def test_the_writer_reads_back_at_every_protocol(family: str, protocol: int, tmp_path) -> None:
    g = FAMILIES[family].small()
    path = save_network_pickle(tmp_path / "g.pkl", G=g, protocol=protocol)
    assert pickle.loads.__module__  # the file is a real pickle of that protocol:
    assert path.read_bytes()[:2] == bytes([0x80, protocol])
    loaded = load_network_pickle(path)
    z = torch.randn(2, g.z_dim, generator=torch.Generator().manual_seed(0))
    c = torch.zeros(2, g.c_dim)
    with torch.no_grad():
        a = g.synthesis(g.mapping(z, c), noise_mode="const")
        b = loaded.synthesis(loaded.mapping(z, c), noise_mode="const")
    torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


class _Payload:
    pass


def test_refused_pt_file_is_one_line_without_unsafe_advice(tmp_path) -> None:
    from ganatlas.networks import load_network

    path = tmp_path / "evil.pt"
    torch.save({"main.0.weight": _Payload()}, path)
    with pytest.raises(ValueError) as err:
        load_network(str(path))
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    assert re.search(r"refers to the global [\w.]*_Payload, which is not a tensor type", text)
    assert "weights_only=False" not in text
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match=r"garbage.pth cannot be loaded as a weights-only"):
        load_network(str(garbage))


def test_kwarg_nesting_limit_is_exactly_max_depth() -> None:
    """Stored kwargs nested MAX_DEPTH deep are read; one level more is refused by name."""
    from ganatlas.networks.persistence import MAX_DEPTH, NetworkPickleError, _plain

    def nested(levels: int) -> list:
        obj: list | int = 7
        for _ in range(levels):
            obj = [obj]
        return obj

    assert _plain({"a": nested(MAX_DEPTH - 1)}) == {"a": nested(MAX_DEPTH - 1)}
    with pytest.raises(NetworkPickleError, match=f"nested deeper than {MAX_DEPTH}; refused"):
        _plain({"a": nested(MAX_DEPTH)})


def test_declared_size_rule_allows_real_networks_and_refuses_bombs() -> None:
    """The pre-allocation check: refused only beyond twice the stored values plus 2**24, so a
    1024 px StyleGAN2 (30.4 M values stored, declaring the same) loads, and a file holding
    nothing may still declare a small network."""
    from ganatlas.networks.persistence import declared_far_beyond

    assert not declared_far_beyond(30_370_060, 30_370_060)
    assert not declared_far_beyond(2 * 30_370_060 + 2**24, 30_370_060)
    assert declared_far_beyond(2 * 30_370_060 + 2**24 + 1, 30_370_060)
    assert not declared_far_beyond(2**24, 0) and declared_far_beyond(2**24 + 1, 0)
    assert declared_far_beyond(8000 * 8000 * 8, 1000)  # a w_dim=8000 mapping from a tiny file


def test_module_tree_nesting_limit_is_exactly_max_depth() -> None:
    """A stored module tree whose deepest submodule sits MAX_DEPTH levels below the root is read;
    one level more is refused by name."""
    from collections import OrderedDict

    from ganatlas.networks.persistence import (
        MAX_DEPTH,
        NetworkPickleError,
        PersistentRecord,
        record_state_dict,
    )

    def chain(levels: int) -> PersistentRecord:
        rec = None
        for _ in range(levels + 1):
            state = {"_parameters": OrderedDict(), "_buffers": OrderedDict(),
                     "_modules": OrderedDict({"m": rec} if rec else {})}  # fmt: skip
            rec = PersistentRecord(class_name="Block", module_src="", state=state)
        return rec

    assert record_state_dict(chain(MAX_DEPTH)) == {}
    with pytest.raises(NetworkPickleError, match=f"module tree is nested deeper than {MAX_DEPTH}"):
        record_state_dict(chain(MAX_DEPTH + 1))
