"""Mutation testing, by hand (``make mutate``): plant one small bug at a time in the core modules
and check that their tests fail.

    .venv/bin/python scripts/mutate.py [--per-module N] [--seed S] [--only MODULE ...] [--lines N ...]

Each mutant changes one operator or constant of a module (``+``/``-``, ``*``/``/``, comparisons,
``and``/``or``, ``not`` dropped, ``True``/``False``, an integer +1, a float x2), found by walking
the module's AST; up to ``--per-module`` mutants per module are drawn with a fixed seed. The
module's tests (``MODULES`` below) run with ``-x`` and a time limit; a mutant is *killed* when they
fail (or time out: listed apart, to rerun by hand on a busy machine) and *survives* when they
pass. The original file is restored after every mutant, also on Ctrl-C. Prints a table, the
survivors (module, line, the mutation), which a developer either kills with a new test or explains
as equivalent, and the timeouts. Never run in CI.
"""

from __future__ import annotations

import argparse
import ast
import copy
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: module -> the tests that guard it.
MODULES: dict[str, list[str]] = {
    "ganatlas/networks/persistence.py": [
        "tests/networks/test_persistence.py",
        "tests/networks/test_allowlist.py",
        "tests/networks/test_loader_budgets.py",
        "tests/test_untrusted_files.py",
    ],
    "ganatlas/networks/ops.py": ["tests/networks/test_ops.py", "tests/networks/test_stylegan2.py"],
    "ganatlas/networks/filtered_lrelu.py": ["tests/networks/test_filtered_lrelu.py"],
    "ganatlas/networks/stylegan2_discriminator.py": [
        "tests/networks/test_stylegan2_discriminator.py"
    ],
    "ganatlas/networks/stylegan2_tf_discriminator.py": [
        "tests/networks/test_stylegan2_discriminator.py"
    ],
    "ganatlas/latent.py": ["tests/test_latent.py"],
    "ganatlas/studies/walk/walk.py": ["tests/studies/walk/test_walk.py"],
    "ganatlas/studies/walk/report.py": ["tests/studies/walk/test_walk_report.py"],
    "ganatlas/studies/semantics/boundary.py": [
        "tests/studies/semantics/test_boundary.py",
        "tests/studies/semantics/test_boundary_edges.py",
        "tests/studies/semantics/test_protocol.py",
        "tests/studies/semantics/test_conditional.py",
    ],
    "ganatlas/faces/scrfd.py": ["tests/faces/test_faces.py"],
    "ganatlas/faces/detect.py": [
        "tests/faces/test_faces.py",
        "tests/faces/test_images.py",
        "tests/test_colour_order.py",
    ],
    "ganatlas/networks/tf_pickle.py": [
        "tests/networks/test_tf_pickle.py",
        "tests/networks/test_allowlist.py",
        "tests/networks/test_families.py",
    ],
    "ganatlas/networks/stylegan2.py": [
        "tests/networks/test_stylegan2.py",
        "tests/networks/test_nvidia_api.py",
    ],
    "ganatlas/networks/stylegan3.py": ["tests/networks/test_stylegan3.py"],
    "ganatlas/networks/stylegan2_tf.py": [
        "tests/networks/test_tf_pickle.py",
        "tests/networks/test_stylegan2_discriminator.py",
    ],
    "ganatlas/networks/stylegan1.py": ["tests/networks/test_stylegan1.py"],
    "ganatlas/networks/progan.py": ["tests/networks/test_progan.py"],
    "ganatlas/faces/mtcnn.py": ["tests/faces/test_mtcnn.py", "tests/test_colour_order.py"],
    "ganatlas/faces/embedders.py": [
        "tests/faces/test_embedders.py",
        "tests/test_colour_order_studies.py",
    ],
    "ganatlas/interpolation.py": ["tests/points/test_interpolation.py"],
    "ganatlas/studies/monsters/radial.py": [
        "tests/studies/monsters/test_radial.py",
        "tests/studies/monsters/test_monsters_tables.py",
    ],
    "ganatlas/studies/monsters/embedmap.py": [
        "tests/studies/monsters/test_boundary_map.py",
        "tests/studies/monsters/test_monsters_tables.py",
    ],
    "ganatlas/studies/semantics/effects.py": ["tests/studies/semantics/test_effects.py"],
    "ganatlas/studies/projection/ssim.py": ["tests/studies/projection/test_ssim.py"],
}

#: Keyword arguments that only style a figure or format text (font sizes, line widths, figure
#: sizes, transparency, label rotation, subplot spacing, JSON indent, print flushing), anywhere.
#: Constants under them are not mutation sites: no test should pin a figure's look, so such
#: mutants say nothing about the tests (the runs before this rule counted them; see README).
STYLE_KWARGS = frozenset({
    "fontsize", "linewidth", "lw", "linewidths", "markersize", "ms", "alpha", "figsize", "dpi",
    "rotation", "labelpad", "zorder", "capsize", "elinewidth", "markeredgewidth", "mew", "ha",
    "va", "wspace", "hspace", "height_ratios", "width_ratios", "indent", "flush", "ncol",
    "markerscale",
})  # fmt: skip
#: Placement keywords, styling only in these calls (text and title positions, subplot margins).
PLACEMENT_CALLS = frozenset({"text", "suptitle", "set_title", "subplots_adjust", "legend"})
PLACEMENT_KWARGS = frozenset({"x", "y", "left", "right", "top", "bottom", "pad", "loc"})


def styling_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes that only style a figure: values of :data:`STYLE_KWARGS`, placement
    keywords of :data:`PLACEMENT_CALLS`, a scatter's marker size ``s`` and the position (first
    two arguments) of ``.text(x, y, ...)``."""
    marked: list[ast.AST] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        for kw in node.keywords:
            if (
                kw.arg in STYLE_KWARGS
                or (name in PLACEMENT_CALLS and kw.arg in PLACEMENT_KWARGS)
                or (name in ("scatter", "scatterplot") and kw.arg == "s")
            ):
                marked.append(kw.value)
        if name == "text" and isinstance(func, ast.Attribute):
            marked.extend(node.args[:2])
    return {id(sub) for value in marked for sub in ast.walk(value)}


_SWAP = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip


def sites(tree: ast.AST) -> list[tuple[int, str]]:
    """(index in ast.walk order, description) of every mutable node except those that only style
    a figure (:func:`styling_nodes`); docstrings are dropped by the caller."""
    styling = styling_nodes(tree)
    out = []
    for i, node in enumerate(ast.walk(tree)):
        if id(node) in styling:
            continue
        if isinstance(node, ast.BinOp | ast.BoolOp) and type(node.op) in _SWAP:
            out.append((i, f"{type(node.op).__name__} -> {_SWAP[type(node.op)].__name__}"))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAP:
            out.append((i, f"{type(node.ops[0]).__name__} -> {_SWAP[type(node.ops[0])].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((i, "drop not"))
        elif isinstance(node, ast.Constant) and type(node.value) in (bool, int, float):
            out.append((i, f"constant {node.value!r}"))
    return out


def mutate(tree: ast.AST, index: int) -> ast.AST:
    """A copy of ``tree`` with node number ``index`` (ast.walk order) mutated."""
    tree = copy.deepcopy(tree)
    nodes = list(ast.walk(tree))
    node = nodes[index]
    if isinstance(node, ast.BinOp | ast.BoolOp):
        node.op = _SWAP[type(node.op)]()
    elif isinstance(node, ast.Compare):
        node.ops[0] = _SWAP[type(node.ops[0])]()
    elif isinstance(node, ast.UnaryOp):
        for parent in nodes:  # replace ``not x`` by ``x`` in its parent
            for field, value in ast.iter_fields(parent):
                if value is node:
                    setattr(parent, field, node.operand)
                elif isinstance(value, list) and node in value:
                    value[value.index(node)] = node.operand
    elif isinstance(node.value, bool):
        node.value = not node.value
    elif isinstance(node.value, int):
        node.value += 1
    else:
        node.value = node.value * 2 if node.value else 1.0
    return tree


def changed_line(tree: ast.AST, mutant: ast.AST) -> str:
    """The first source line (as ``ast.unparse`` writes it) that differs: ``old  ==>  new``."""
    for a, b in zip(ast.unparse(tree).splitlines(), ast.unparse(mutant).splitlines(), strict=False):
        if a != b:
            return f"{a.strip()}  ==>  {b.strip()}"
    return "(no visible change)"


def docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def run_tests(tests: list[str], timeout: float) -> bool | None:
    """True when the tests pass, False when they fail, None when they time out."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m",
           "not slow", *tests]  # fmt: skip
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return proc.returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-module", type=int, default=12, help="mutants drawn per module")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None, help="modules to mutate (paths)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per mutant's test run")
    ap.add_argument(
        "--lines", type=int, nargs="*", default=None, help="only mutants on these lines"
    )
    ap.add_argument(
        "--all-sites",
        action="store_true",
        help="with --lines: every mutation site on those lines, not only the drawn ones (to "
        "recheck a survivor after its module changed, which changes the draw)",
    )
    args = ap.parse_args(argv)
    rows, survivors, timeouts = [], [], []
    for module, tests in MODULES.items():
        path = REPO / module
        original = path.read_text()
        tree = ast.parse(original)
        nodes = list(ast.walk(tree))
        skip = docstring_nodes(tree)
        candidates = [(i, d) for i, d in sites(tree) if id(nodes[i]) not in skip]
        # drawn per module from (seed, module path): --only mutates the same sites as a full run,
        # and adding a module to MODULES does not change the other modules' mutants
        rng = random.Random(f"{args.seed}:{module}")
        chosen = sorted(rng.sample(candidates, min(args.per_module, len(candidates))))
        if args.only and module not in args.only:
            continue
        if args.lines:
            pool = candidates if args.all_sites else chosen
            chosen = [(i, d) for i, d in pool if getattr(nodes[i], "lineno", None) in args.lines]
        if run_tests(tests, args.timeout) is not True:
            print(
                f"{module}: its tests fail (or time out) without a mutation; skipped",
                file=sys.stderr,
            )
            continue
        killed = 0
        t0 = time.perf_counter()
        try:
            for index, what in chosen:
                mutant = mutate(tree, index)
                path.write_text(ast.unparse(mutant) + "\n")
                passed = run_tests(tests, args.timeout)
                line = getattr(nodes[index], "lineno", "?")
                if passed:
                    survivors.append(f"{module}:{line}: {what}: `{changed_line(tree, mutant)}`")
                    print(f"  survived {module}:{line}: {what}", file=sys.stderr, flush=True)
                else:
                    killed += 1
                    if passed is None:  # counted as killed (a hang), but listed: check by hand
                        timeouts.append(f"{module}:{line}: {what}")
                        print(f"  timed out {module}:{line}: {what}", file=sys.stderr, flush=True)
        finally:
            path.write_text(original)
        rows.append((module, len(chosen), killed, time.perf_counter() - t0))
        print(f"{module}: {killed}/{len(chosen)} killed", file=sys.stderr, flush=True)
    total = sum(r[1] for r in rows)
    dead = sum(r[2] for r in rows)
    print("| module | mutants | killed | score | minutes |\n|---|---|---|---|---|")
    for module, n, k, sec in rows:
        print(f"| `{module}` | {n} | {k} | {k / max(n, 1):.0%} | {sec / 60:.1f} |")
    print(f"| all | {total} | {dead} | {dead / max(total, 1):.0%} | |")
    print("\nsurvivors:\n" + "\n".join(f"- {s}" for s in survivors))
    print("\ntimed out (counted as killed; on a busy machine rerun them with --lines):\n"
          + "\n".join(f"- {s}" for s in timeouts))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
