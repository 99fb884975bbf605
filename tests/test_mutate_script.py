"""scripts/mutate.py (``make mutate``): which sites it mutates and what each mutation does."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mutate.py"


@pytest.fixture(scope="module")
def mutate():
    spec = importlib.util.spec_from_file_location("ganatlas_mutate_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = '''
def f(a, b):
    """Doc 7."""
    if not a < b:
        return a + 2 * b
    ax.text(0.5, 3, f"n={a}", fontsize=7)
    fig.subplots_adjust(left=0.1, wspace=0.2)
    ax.scatter(a, b, s=8, c=1)
    return a and b, 2.5
'''


def test_sites_skip_styling_and_cover_behaviour(mutate):
    tree = ast.parse(SOURCE)
    nodes = list(ast.walk(tree))
    found = [(getattr(nodes[i], "lineno", None), what) for i, what in mutate.sites(tree)]
    assert sorted(found) == sorted([
        (4, "drop not"), (4, "Lt -> LtE"), (5, "Add -> Sub"), (5, "constant 2"),
        (5, "Mult -> Div"), (8, "constant 1"), (9, "And -> Or"), (9, "constant 2.5"),
    ])  # fmt: skip
    # the text position, font size, margins and marker size are styling; c=1 is not


def test_each_mutation_changes_exactly_its_node(mutate):
    tree = ast.parse("def g(a, b):\n    return (not a) or (b + 1 <= 2.0)\n")
    nodes = list(ast.walk(tree))
    out = {what: ast.unparse(mutate.mutate(tree, i)).splitlines()[1].strip()
           for i, what in mutate.sites(tree)}  # fmt: skip
    assert out == {
        "Or -> And": "return not a and b + 1 <= 2.0",
        "drop not": "return a or b + 1 <= 2.0",
        "LtE -> Lt": "return not a or b + 1 < 2.0",
        "Add -> Sub": "return not a or b - 1 <= 2.0",
        "constant 1": "return not a or b + 2 <= 2.0",
        "constant 2.0": "return not a or b + 1 <= 4.0",
    }
    assert ast.unparse(tree) == ast.unparse(ast.parse(ast.unparse(nodes[0])))  # untouched


def test_every_guarded_module_and_test_exists(mutate):
    root = SCRIPT.parents[1]
    for module, tests in mutate.MODULES.items():
        assert (root / module).is_file(), module
        assert tests and all((root / t).is_file() for t in tests), module


def test_changed_line_names_the_mutation(mutate):
    tree = ast.parse("x = 1\ny = a < b\n")
    (index,) = [i for i, what in mutate.sites(tree) if what == "Lt -> LtE"]
    assert mutate.changed_line(tree, mutate.mutate(tree, index)) == "y = a < b  ==>  y = a <= b"
    assert mutate.changed_line(tree, tree) == "(no visible change)"
