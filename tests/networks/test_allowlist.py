"""Planted pickles of every dangerous family are refused by name with nothing run, by both
network readers (the exact allow-lists are pinned in test_persistence.py: ALLOW_LIST_PINS)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ganatlas.networks import persistence, tf_pickle
from ganatlas.networks.persistence import UnsafePickleError

DANGEROUS = [
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("builtins", "__import__"),
    ("builtins", "getattr"),
    ("builtins", "open"),
    ("os", "system"),
    ("posix", "system"),
    ("subprocess", "Popen"),
    ("subprocess", "check_output"),
    ("importlib", "import_module"),
    ("operator", "attrgetter"),
    ("operator", "methodcaller"),
    ("functools", "partial"),
    ("functools", "reduce"),
    ("pickle", "loads"),
    ("torch", "load"),
    ("numpy", "load"),
    ("torch.serialization", "load"),
    ("runpy", "run_path"),
]


def _unicode(text: str, short: bool) -> bytes:
    data = text.encode()
    return (b"\x8c" + bytes([len(data)]) if short else b"X" + struct.pack("<I", len(data))) + data


def planted(module: str, name: str, argument: str, protocol: int) -> bytes:
    """``module.name(argument)`` as a pickle: GLOBAL (protocol 2) or STACK_GLOBAL (4)."""
    if protocol == 2:
        head = b"\x80\x02c" + f"{module}\n{name}\n".encode()
    else:
        head = b"\x80\x04" + _unicode(module, True) + _unicode(name, True) + b"\x93"
    return head + _unicode(argument, False) + b"\x85R."


READERS = {
    "pytorch": persistence.load_network_pickle,
    "tensorflow": tf_pickle.read_tf_pickle,
}


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize(("module", "name"), DANGEROUS)
def test_dangerous_globals_are_refused_by_name_and_nothing_runs(
    tmp_path: Path, reader: str, module: str, name: str, protocol: int
) -> None:
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('x')"
    path = tmp_path / "evil.pkl"
    path.write_bytes(planted(module, name, payload, protocol))
    with pytest.raises(UnsafePickleError) as err:
        READERS[reader](path)
    assert f"refusing global {module}.{name}" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("reader", list(READERS))
def test_protocol_2_builtin_names_are_mapped_before_the_check(tmp_path: Path, reader: str) -> None:
    """``__builtin__.eval`` (how protocol 2 writes builtins) is Python 3's builtins.eval: refused."""
    path = tmp_path / "evil.pkl"
    path.write_bytes(planted("__builtin__", "eval", "1+1", 2))
    with pytest.raises(UnsafePickleError, match=r"refusing global builtins\.eval"):
        READERS[reader](path)


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("encoding", ["utf-16", "rot13", "zlib_codec"])
def test_codecs_encode_is_only_the_latin1_bytes_trick(
    tmp_path: Path, reader: str, encoding: str
) -> None:
    """``_codecs.encode`` is allowed only as protocol 2's way of storing bytes, ``(str, 'latin1')``;
    any other codec (compression bombs, text transforms) is refused."""
    path = tmp_path / "codec.pkl"
    body = _unicode("x" * 64, False) + _unicode(encoding, False)
    path.write_bytes(b"\x80\x02c_codecs\nencode\n" + body + b"\x86R.")
    with pytest.raises(UnsafePickleError, match=r"refusing _codecs\.encode other than"):
        READERS[reader](path)
    latin1 = tmp_path / "latin1.pkl"  # the allowed use reads (then fails: not a network)
    latin1.write_bytes(
        b"\x80\x02c_codecs\nencode\n"
        + _unicode("ab", False)
        + _unicode("latin1", False)
        + b"\x86R."
    )
    with pytest.raises(Exception) as err:
        READERS[reader](latin1)
    assert "_codecs.encode" not in str(err.value)
