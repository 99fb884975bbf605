"""Official snapshot pickles: written in NVIDIA's format, read without running any stored code."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from ganatlas.networks import load_network
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
    with pytest.raises(NetworkPickleError, match="unknown network class 'Discriminator'"):
        load_network_pickle(path)
    odd = PersistentRecord(
        "Generator", src, {"_modules": {"body": PersistentRecord("FancyBlock", src, {})}}
    )
    path = save_network_pickle(tmp_path / "odd.pkl", G=odd)
    with pytest.raises(NetworkPickleError, match=r"unknown Generator class.*\['FancyBlock'\]"):
        load_network_pickle(path)
    with pytest.raises(NetworkPickleError, match="no network under 'G_emma'"):
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
