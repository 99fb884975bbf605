"""A ``network:`` value (catalogue name, URL or path) becomes a local file here, and only here.

The ``network`` rule (a localrule: it may download) writes ``{outdir}/network.json`` with
:func:`describe_network`; every later job loads the generator from that description
(:func:`load_from_info`) and never touches the internet. The network's defaults for the studies
(``det_size`` from :func:`ganatlas.networks.catalogue.default_det_size` unless its catalogue
entry says otherwise, walk defaults) are resolved once here and recorded in network.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganatlas.networks.base import network_summary
from ganatlas.networks.catalogue import CATALOGUE, default_det_size, lookup
from ganatlas.networks.download import sha256_file
from ganatlas.networks.registry import Family, family_of_file, family_of_kind

#: Walk defaults of a network without a catalogue entry.
DEFAULT_WALK = {"step_size": 0.01, "clamp_radius": "p99"}


@dataclass(frozen=True)
class ResolvedNetwork:
    """A network value resolved: its family, local file (None: built-in weights) and catalogue fields."""

    family: Family
    path: Path | None
    name: str
    kind: str | None = None
    det_size: int | None = None
    walk: dict[str, Any] = field(default_factory=dict)


def is_url(spec: str) -> bool:
    """True for http(s) and file URLs."""
    return str(spec).startswith(("http://", "https://", "file://"))


def resolve_network(spec: str, cache_dir: str | Path | None = None) -> ResolvedNetwork:
    """Resolve a catalogue name, URL (downloaded once into the cache) or local path."""
    spec = str(spec)
    entry = CATALOGUE.get(spec)
    expected_sha256 = None
    if entry is not None:
        family = family_of_kind(entry.kind)
        fields = dict(
            name=entry.name, kind=entry.kind, det_size=entry.det_size, walk=dict(entry.walk)
        )
        if entry.url is None:  # built-in weights (embedded DCGAN) or none at all (tiny)
            path = family.builtin() if family.builtin is not None else None
            return ResolvedNetwork(family, path, **fields)
        spec, expected_sha256 = entry.url, entry.sha256
    else:
        fields = dict(name=None, kind=None, det_size=None, walk={})
    if is_url(spec):
        from ganatlas.networks.download import fetch

        path = Path(fetch(spec, cache_dir=cache_dir, sha256=expected_sha256).path)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            if "/" not in spec and "." not in spec:
                lookup(spec)  # raises KeyError listing the catalogue
            names = ", ".join(sorted(CATALOGUE))
            raise FileNotFoundError(
                f"network {spec!r} is neither a catalogue name ({names}), a URL, nor an existing file"
            )
        path = path.resolve()
    family = family_of_kind(entry.kind) if entry is not None else family_of_file(path)
    fields["name"] = fields["name"] or path.stem
    return ResolvedNetwork(family, path, **fields)


def describe_network(spec: str, cache_dir: str | Path | None = None, which: str = "G_ema") -> dict:
    """Resolve ``spec``, load it once on CPU and return the JSON-able description.

    Keys: spec, name, kind, path, sha256, which, z_dim, c_dim, w_dim, num_ws, img_resolution,
    img_channels, num_params, det_size (the catalogue's, else :func:`default_det_size` of the
    resolution), walk (walk defaults: step_size, clamp_radius).
    """
    net = resolve_network(str(spec), cache_dir)
    g = net.family.load(net.path, "cpu", which)
    summary = network_summary(g)
    res = summary["img_resolution"]
    return {
        "spec": str(spec),
        "name": net.name,
        "kind": net.kind or summary["kind"],
        "path": str(net.path) if net.path is not None else None,
        "sha256": sha256_file(net.path) if net.path is not None else None,
        "which": which,
        **{k: summary[k] for k in ("z_dim", "c_dim", "w_dim", "num_ws", "img_resolution")},
        "img_channels": summary["img_channels"],
        "num_params": summary["num_params"],
        "det_size": int(net.det_size or default_det_size(res)),
        "walk": DEFAULT_WALK | net.walk,
    }


def read_info(info: str | Path | dict) -> dict:
    """A network description from a dict or a network.json path."""
    return info if isinstance(info, dict) else json.loads(Path(info).read_text())


class NetworkChangedError(RuntimeError):
    """The network file no longer matches the sha256 its network.json recorded."""


def verify_network_file(info: dict) -> None:
    """Raise NetworkChangedError when the file network.json describes changed since it was written.

    Shards rendered from the new weights next to shards from the old ones would mix two networks
    under one sha256; this check stops a job before that happens.
    """
    path, recorded = info.get("path"), info.get("sha256")
    if not path or not recorded:
        return
    if not Path(path).is_file():
        raise NetworkChangedError(
            f"network file {path} (recorded in network.json) is gone; restore it or rerun the "
            "network rule"
        )
    now = sha256_file(path)
    if now != recorded:
        raise NetworkChangedError(
            f"network file {path} changed since network.json was written (sha256 {recorded[:12]}... "
            f"recorded, {now[:12]}... now). Snakemake reruns the network rule and everything after "
            "it when the file's modification time is newer; if you restored an older copy, touch "
            "the file or delete network.json to rerun"
        )


def local_network_file(spec: str) -> list[str]:
    """``[path]`` when the ``network:`` value is a local file (a rule input, so that changing the
    file reruns the network rule and everything after it), else ``[]`` (catalogue name or URL)."""
    spec = str(spec)
    if spec in CATALOGUE or is_url(spec):
        return []
    path = Path(spec).expanduser()
    return [str(path)] if path.is_file() else []


def load_from_info(
    info: str | Path | dict, device: str | torch.device = "cpu", verify: bool = True
) -> torch.nn.Module:
    """Load the generator a network.json describes (no download: the path is local).

    verify: check the file's sha256 against the recorded one first (NetworkChangedError).
    """
    from ganatlas.networks import load_network

    info = read_info(info)
    if verify:
        verify_network_file(info)
    target = info["path"] if info.get("path") else info["spec"]
    g = load_network(target, device=device, which=info.get("which", "G_ema"))
    g.requires_grad_(False)
    return g.eval()
