"""The shape of the code holds: packages import only downward, no module of `pos` is over
400 lines, and no two modules share a name (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POS = ROOT / "pos"

# Low to high. A module may import its own layer and any lower one, never a higher one.
# The first layer holds the shared leaves and three pure modules that live with their
# domain but import only leaves: the request models (every body the API takes), what is
# wrong with a body in words (which the models raise) and the credit plan of a new voucher
# (which storage writes).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("pos.errors", "pos.config", "pos.money", "pos.taxonomy", "pos.codes", "pos.roles",
     "pos.ids", "pos.messages", "pos.problem_texts", "pos.api.requests",
     "pos.api.field_errors",
     "pos.vouchers.credits", "pos.logs", "pos.metrics", "pos.private_files"),
    ("pos.db",),
    ("pos.plugin",),
    ("pos.storage",),
    ("pos.printing",),
    ("pos.signing",),
    ("pos.service",),
    ("pos.vouchers",),
    ("pos.till",),
    ("pos.events",),
    ("pos.reports",),
    ("pos.settlement",),
    ("pos.accounts",),
    ("pos.console",),
    ("pos.api",),
    ("pos.cli",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The layer of a module: its longest matching prefix wins (pos.api.requests is a leaf
    although it lives in pos.api)."""
    best, best_len = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("pos.")}


MODULES = sorted(p for p in POS.rglob("*.py") if p.name != "__init__.py" or p.parent != POS)


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in MODULES if layer_of(module_name(p)) < 0]
    assert unplaced == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_run_downward(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    upward = []
    for target in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
        theirs = layer_of(target)
        if theirs > mine:
            upward.append(f"{me} (layer {mine}) imports {target} (layer {theirs})")
    assert upward == []


def test_no_module_is_over_400_lines() -> None:
    long = {module_name(p): n for p in MODULES
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.stem for p in MODULES if p.name != "__init__.py")
    assert {name: n for name, n in names.items() if n > 1} == {}


def test_every_package_says_what_it_owns() -> None:
    for init in POS.rglob("__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{module_name(init)} has no docstring"
