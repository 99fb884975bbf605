"""Latent points by name: a small expression syntax, parsed and checked up front, then resolved
against a network to arrays.

A point is an expression and a space (``z``, ``w`` or ``w+``) with an optional truncation psi::

    a: seed:6                              # z of seed 6: NumPy RandomState(6).randn(z_dim)
    b: {expr: "seed:7", space: w}          # the same face's W (seed:N is mapped in w / w+)
    avg: {expr: w_avg, space: w}           # the network's average W
    smiling: {expr: "b + 2 * boundary:smile", space: w}
    mine: {expr: "latents/me.npz:w", space: w}
    odd: "a - b + 0.5*c"

Atoms: ``seed:N`` (N >= 0), ``w:N`` (W of seed N; w / w+ only), ``w_avg`` (w / w+ only),
``zero``, ``e:I`` (basis vector I of the point's space), ``boundary:NAME`` (the semantics
study's unit normal ``semantics/boundaries/<z|w>/NAME.npy``; w+ uses the W boundary), an explicit
``.npy`` / ``.npz`` file (``file.npz:key`` picks an array; without a key a single-array file or
the key named after the space), or the name of another point of the same space (a w point may
appear in a w+ one). Terms are joined by ``+`` / ``-`` **with spaces around them** (so that
``my-file.npy`` stays a path), each term an atom times an optional number (``0.5*c``, ``c * 0.5``, ``-a``).

Sizes: z points are ``[z_dim]``, w points ``[w_dim]``, w+ points ``[num_ws, w_dim]`` (a W-sized
atom is repeated over the layers). ``psi`` on a w / w+ point is applied to the final value,
``w_avg + psi * (p - w_avg)``; on a z point it is the mapping's truncation when the point is
rendered. Syntax, names, cycles, spaces and boundary availability are checked by
:func:`parse_points` before anything runs (errors name the key); sizes and files by
:func:`resolve_points`, before anything is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SPACES = ("z", "w", "w+")
ATOMS_HELP = (
    "seed:N, w:N, w_avg, zero, e:I, boundary:NAME, a .npy/.npz file (file.npz:key), "
    "or the name of another point"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_RESERVED = {"w_avg", "zero"}


class PointError(ValueError):
    """A bad point definition; the message names the config key."""


@dataclass(frozen=True)
class Term:
    """``coef * atom``: kind in seed, wseed, w_avg, zero, basis, boundary, file, ref."""

    coef: float
    kind: str
    arg: Any = None


@dataclass(frozen=True)
class PointSpec:
    """A parsed point: its name, expression text, terms, space and optional psi."""

    name: str
    expr: str
    terms: tuple[Term, ...]
    space: str = "z"
    psi: float | None = None


def _atom(text: str, key: str) -> tuple[str, Any]:
    if m := re.fullmatch(r"seed:(\d+)", text):
        return "seed", int(m.group(1))
    if m := re.fullmatch(r"w:(\d+)", text):
        return "wseed", int(m.group(1))
    if m := re.fullmatch(r"e:(\d+)", text):
        return "basis", int(m.group(1))
    if m := re.fullmatch(r"boundary:([A-Za-z0-9_.-]+)", text):
        return "boundary", m.group(1)
    if text in _RESERVED:
        return text, None
    if re.search(r"\.(npy|npz)(:[A-Za-z0-9_]+)?$", text):
        path, _, array = text.partition(".npz:") if ".npz:" in text else (text, "", "")
        return "file", (path + ".npz" if array else path, array or None)
    if _NAME.match(text):
        return "ref", text
    raise PointError(f"{key}: cannot read {text!r} as a point; allowed: {ATOMS_HELP}")


def parse_expression(expr: Any, key: str) -> tuple[Term, ...]:
    """Terms of ``expr`` (see the module docstring); PointError naming ``key`` when unreadable."""
    if isinstance(expr, bool) or not isinstance(expr, str) or not expr.strip():
        raise PointError(f"{key}: expected a point expression (a string), got {expr!r}")
    text = expr.strip()
    sign = 1.0
    if text.startswith("-") and not text.startswith("- "):
        text, sign = text[1:], -1.0
    elif text.startswith("- "):
        text, sign = text[2:].strip(), -1.0
    parts = re.split(r"\s+([+-])\s+", text)
    signs = [sign] + [1.0 if op == "+" else -1.0 for op in parts[1::2]]
    terms = []
    for s, part in zip(signs, parts[0::2], strict=True):
        part = part.strip()
        if m := re.fullmatch(rf"({_NUMBER})\s*\*\s*(\S+)", part):
            coef, atom = float(m.group(1)), m.group(2)
        elif m := re.fullmatch(rf"(\S+?)\s*\*\s*({_NUMBER})", part):
            coef, atom = float(m.group(2)), m.group(1)
        elif " " in part or "*" in part or not part:
            raise PointError(
                f"{key}: cannot read the term {part!r} of {expr!r}; write terms as "
                f"'[number *] atom' joined by ' + ' or ' - ' (spaces around the operator)"
            )
        else:
            coef, atom = 1.0, part
        kind, arg = _atom(atom, key)
        terms.append(Term(s * coef, kind, arg))
    return tuple(terms)


def _spec(name: str, value: Any, key: str) -> PointSpec:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"expr", "space", "psi"})
        if unknown:
            raise PointError(f"{key}: unknown key(s) {unknown}; allowed: expr, space, psi")
        expr, space, psi = value.get("expr"), value.get("space", "z"), value.get("psi")
    else:
        expr, space, psi = value, "z", None
    if space not in SPACES:
        raise PointError(f"{key}.space: got {space!r}; allowed: {', '.join(SPACES)}")
    if psi is not None and (isinstance(psi, bool) or not isinstance(psi, (int, float))):
        raise PointError(f"{key}.psi: a number or null, got {psi!r}")
    terms = parse_expression(expr, f"{key}.expr" if isinstance(value, Mapping) else key)
    for t in terms:
        if t.kind in ("wseed", "w_avg") and space == "z":
            atom = "w_avg" if t.kind == "w_avg" else f"w:{t.arg}"
            raise PointError(f"{key}: {atom} is a W vector; give the point space: w (or w+)")
    return PointSpec(str(name), str(expr), terms, space, None if psi is None else float(psi))


def parse_points(
    points: Mapping[str, Any],
    prefix: str = "points",
    boundaries: Mapping[str, list[str]] | None = None,
) -> dict[str, PointSpec]:
    """Parse every named point; check names, references (defined, same space, no cycles) and
    boundaries (``boundaries``: space -> trained attribute names; None skips that check).

    Raises PointError naming ``<prefix>.<name>`` and what is allowed.
    """
    if not isinstance(points, Mapping):
        raise PointError(f"{prefix}: expected a mapping of point names, got {points!r}")
    specs: dict[str, PointSpec] = {}
    for name, value in points.items():
        key = f"{prefix}.{name}"
        if not isinstance(name, str) or not _NAME.match(name) or name in _RESERVED:
            raise PointError(
                f"{key}: a point name is a word of letters, digits and _ (not w_avg or zero)"
            )
        specs[name] = _spec(name, value, key)
    for name, spec in specs.items():
        key = f"{prefix}.{name}"
        for t in spec.terms:
            if t.kind == "ref":
                if t.arg not in specs:
                    raise PointError(
                        f"{key}: unknown point {t.arg!r}; defined points: "
                        f"{', '.join(specs) or '(none)'}; atoms: {ATOMS_HELP}"
                    )
                if specs[t.arg].space != spec.space and (specs[t.arg].space, spec.space) != (
                    "w",
                    "w+",
                ):
                    raise PointError(
                        f"{key}: {t.arg!r} is a {specs[t.arg].space} point, {name!r} a "
                        f"{spec.space} point; points in one expression share their space (a w point may "
                        f"be used in a w+ point)"
                    )
            if t.kind == "boundary" and boundaries is not None:
                space = "w" if spec.space == "w+" else spec.space
                trained = boundaries.get(space, [])
                if t.arg not in trained:
                    raise PointError(
                        f"{key}: boundary:{t.arg} was not trained in {space} (semantics "
                        f"boundaries in {space}: {', '.join(trained) or 'none'}; add it to "
                        f"semantics.attributes and {space} to semantics.spaces)"
                    )
    for name in specs:
        _check_cycle(name, specs, [], prefix)
    return specs


def _check_cycle(name: str, specs: dict[str, PointSpec], stack: list[str], prefix: str) -> None:
    if name in stack:
        chain = " -> ".join([*stack[stack.index(name) :], name])
        raise PointError(f"{prefix}.{stack[0]}: points refer to each other in a cycle: {chain}")
    for t in specs[name].terms:
        if t.kind == "ref":
            _check_cycle(t.arg, specs, [*stack, name], prefix)


def boundaries_used(specs: Mapping[str, PointSpec]) -> list[tuple[str, str]]:
    """Sorted (space, attribute) of every ``boundary:`` atom (w+ points read the w boundary)."""
    out = {
        ("w" if s.space == "w+" else s.space, t.arg)
        for s in specs.values()
        for t in s.terms
        if t.kind == "boundary"
    }
    return sorted(out)


def files_used(specs: Mapping[str, PointSpec]) -> list[str]:
    """Sorted explicit files named by the points (rule inputs)."""
    return sorted({t.arg[0] for s in specs.values() for t in s.terms if t.kind == "file"})


def seed_z(seed: int, z_dim: int) -> np.ndarray:
    """``[z_dim]`` float32: ``np.random.RandomState(seed).randn(1, z_dim)[0]``, as the source drew."""
    return np.random.RandomState(int(seed)).randn(1, int(z_dim))[0].astype(np.float32)


@dataclass(frozen=True)
class Network:
    """What resolving needs of a generator: sizes, ``w_avg [w_dim]``, ``map_z(z [N, z_dim]) -> w
    [N, w_dim]`` (row 0 of the mapping's ws, no truncation) and whether it has W+ styles."""

    z_dim: int
    w_dim: int
    num_ws: int
    w_avg: np.ndarray
    map_z: Callable[[np.ndarray], np.ndarray]
    name: str = "network"
    has_wplus: bool = True


def network_of(g: Any, name: str = "network", device: str = "cpu") -> Network:
    """:class:`Network` of a ganatlas generator ``g`` (a Z-only one has ``num_ws == 1``)."""
    import torch

    def map_z(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            zt = torch.as_tensor(np.asarray(z, np.float32), device=device)
            c = torch.zeros(len(zt), g.c_dim, device=device) if g.c_dim else None
            return g.mapping(zt, c)[:, 0].float().cpu().numpy()

    return Network(
        int(g.z_dim), int(g.w_dim), int(g.num_ws),
        g.w_avg.detach().float().cpu().numpy().reshape(-1), map_z, name, int(g.num_ws) > 1,
    )  # fmt: skip


def _load_file(path: str, array: str | None, space: str, key: str, base: Path | None) -> np.ndarray:
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    if not p.is_file():
        raise PointError(f"{key}: latent file not found: {p}")
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    with np.load(p, allow_pickle=False) as data:
        names = list(data.files)
        if array is None:
            candidates = [n for n in names if n in (space, space.replace("+", "s"), "ws")]
            array = names[0] if len(names) == 1 else (candidates[0] if candidates else None)
        if array is None or array not in names:
            raise PointError(
                f"{key}: {p} has arrays {names}; name one as {path}:KEY"
                if array is None
                else f"{key}: {p} has no array {array!r}; it has {names}"
            )
        return data[array]


def _fit(arr: np.ndarray, space: str, net: Network, key: str, what: str) -> np.ndarray:
    """``arr`` as the point's size: [z_dim] / [w_dim] / [num_ws, w_dim] (a [1, D] row squeezed,
    a W vector repeated for w+)."""
    arr = np.asarray(arr, dtype=np.float32)
    dim = net.z_dim if space == "z" else net.w_dim
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if space == "w+":
        if arr.shape == (dim,):
            return np.repeat(arr[None], net.num_ws, axis=0)
        if arr.shape == (net.num_ws, dim):
            return arr
        want = f"[{dim}] or [{net.num_ws}, {dim}]"
    else:
        if arr.shape == (dim,):
            return arr
        want = f"[{dim}]"
    raise PointError(
        f"{key}: {what} has shape {list(arr.shape)}; a {space} point of {net.name} needs {want}"
    )


def resolve_points(
    specs: Mapping[str, PointSpec],
    net: Network,
    boundary_file: Callable[[str, str], str | Path] | None = None,
    base_dir: str | Path | None = None,
    prefix: str = "points",
) -> dict[str, np.ndarray]:
    """Every point as an array (float32): z ``[z_dim]``, w ``[w_dim]``, w+ ``[num_ws, w_dim]``.

    boundary_file(space, attribute) -> the boundary's ``.npy``. PointError naming the key for a
    W+ point on a Z-only network, an out-of-range basis index, a missing file or a wrong size.
    """
    base = Path(base_dir) if base_dir is not None else None
    done: dict[str, np.ndarray] = {}

    def value(name: str) -> np.ndarray:
        if name in done:
            return done[name]
        spec, key = specs[name], f"{prefix}.{name}"
        space = spec.space
        if space == "w+" and not net.has_wplus:
            raise PointError(
                f"{key}.space: w+ needs a network with per-layer styles; {net.name} is Z-only "
                f"(num_ws = {net.num_ws}); allowed here: z, w"
            )
        dim = net.z_dim if space == "z" else net.w_dim
        total = np.zeros((net.num_ws, dim) if space == "w+" else (dim,), np.float32)
        for t in spec.terms:
            if t.kind == "seed":
                z = seed_z(t.arg, net.z_dim)
                part = z if space == "z" else net.map_z(z[None])[0]
            elif t.kind == "wseed":
                part = net.map_z(seed_z(t.arg, net.z_dim)[None])[0]
            elif t.kind == "w_avg":
                part = net.w_avg
            elif t.kind == "zero":
                part = np.zeros(dim, np.float32)
            elif t.kind == "basis":
                if t.arg >= dim:
                    raise PointError(f"{key}: e:{t.arg} is out of range; {space} has {dim} axes")
                part = np.eye(dim, dtype=np.float32)[t.arg]
            elif t.kind == "boundary":
                if boundary_file is None:
                    raise PointError(f"{key}: boundary:{t.arg} needs the semantics boundaries")
                bspace = "w" if space == "w+" else space
                path = Path(boundary_file(bspace, t.arg))
                if not path.is_file():
                    raise PointError(f"{key}: boundary:{t.arg} ({bspace}) not found at {path}")
                part = np.load(path).reshape(-1)
            elif t.kind == "file":
                part = _load_file(t.arg[0], t.arg[1], space, key, base)
            else:
                part = value(t.arg)
            what = f"file {t.arg[0]}" if t.kind == "file" else f"{t.kind} {t.arg}"
            total = total + np.float32(t.coef) * _fit(part, space, net, key, what)
        if spec.psi is not None and space != "z":
            total = net.w_avg + np.float32(spec.psi) * (total - net.w_avg)
        done[name] = total.astype(np.float32)
        return done[name]

    return {name: value(name) for name in specs}
