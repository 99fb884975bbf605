"""Resolve the workflow's ``network:`` value to a local file and describe it in JSON.

The ``network`` rule (a localrule: it may download) writes ``{outdir}/network.json``; every later
job loads the generator from that description and never touches the internet.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ganatlas.networks import CATALOGUE, is_url, load_network


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve_network(spec: str, cache_dir: str | Path | None = None) -> tuple[str | None, dict]:
    """Return (local path or None for built-ins, catalogue fields) for a name, URL or path."""
    entry = CATALOGUE.get(spec)
    fields: dict[str, Any] = {"name": spec, "kind": None, "det_size": None, "walk": {}}
    if entry is not None:
        fields.update(
            name=entry.name, kind=entry.kind, det_size=entry.det_size, walk=dict(entry.walk)
        )
        if entry.kind == "dcgan-embedded":
            from ganatlas.networks.dcgan import embedded_weights_path

            return str(embedded_weights_path()), fields
        if entry.kind == "tiny":
            return None, fields
        spec = entry.url or spec
    if is_url(spec):
        from ganatlas.networks.download import fetch

        return str(fetch(spec, cache_dir=cache_dir).path), fields
    path = Path(spec).expanduser()
    if not path.is_file():
        names = ", ".join(sorted(CATALOGUE))
        raise FileNotFoundError(
            f"network {spec!r} is neither a catalogue name ({names}), a URL, nor an existing file"
        )
    fields["name"] = path.stem
    return str(path.resolve()), fields


def describe_network(spec: str, cache_dir: str | Path | None = None, which: str = "G_ema") -> dict:
    """Resolve ``spec``, load it once on CPU and return the JSON-able description.

    Keys: spec, name, kind, path, sha256, which, z_dim, c_dim, w_dim, num_ws, img_resolution,
    img_channels, num_params, det_size (catalogue suggestion or a size scaled to the resolution),
    walk (catalogue walk defaults: step_size, clamp_radius).
    """
    path, fields = resolve_network(str(spec), cache_dir)
    g = load_network(path if path is not None else spec, device="cpu", which=which)
    res = int(g.img_resolution)
    det_size = fields["det_size"] or (640 if res >= 512 else max(160, min(640, 5 * res)))
    walk = {"step_size": 0.01, "clamp_radius": "p99"} | fields["walk"]
    return {
        "spec": str(spec),
        "name": fields["name"],
        "kind": fields["kind"] or type(g).__module__.rsplit(".", 1)[-1],
        "path": path,
        "sha256": sha256_file(path) if path is not None else None,
        "which": which,
        "z_dim": int(g.z_dim),
        "c_dim": int(g.c_dim),
        "w_dim": int(g.w_dim),
        "num_ws": int(g.num_ws),
        "img_resolution": res,
        "img_channels": int(g.img_channels),
        "num_params": int(sum(p.numel() for p in g.parameters())),
        "det_size": int(det_size),
        "walk": walk,
    }


def read_info(info: str | Path | dict) -> dict:
    """A network description from a dict or a network.json path."""
    return info if isinstance(info, dict) else json.loads(Path(info).read_text())


def load_from_info(info: str | Path | dict, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Load the generator a network.json describes (no download: the path is local)."""
    info = read_info(info)
    target = info["path"] if info.get("path") else info["spec"]
    g = load_network(target, device=device, which=info.get("which", "G_ema"))
    g.requires_grad_(False)
    return g.eval()
