"""The plugin guide keeps up with the code: every hook documented in docs/plugins.md and
tested by a test named `test_hook_<name>`; no hook is firstresult; every built-in plugin
listed; docs/categories.md and pos/taxonomy.py name the same codes."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from pos.plugin import hookspecs
from pos.taxonomy import CATEGORIES

ROOT = Path(__file__).parent.parent
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def hook_names() -> list[str]:
    return sorted(name for name in dir(hookspecs)
                  if hasattr(getattr(hookspecs, name), "pos_spec"))


def test_hooks_found() -> None:
    assert {"pos_declare_settings", "pos_register_restrictions",
            "pos_register_payment_channels", "pos_redemption_committed",
            "pos_redemption_voided"} <= set(hook_names())


@pytest.mark.parametrize("hook", hook_names())
def test_hook_is_prefixed_and_never_firstresult(hook: str) -> None:
    assert hook.startswith("pos_")
    options = getattr(hookspecs, hook).pos_spec
    assert not options.get("firstresult"), f"{hook} must collect every plugin's answer"
    assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring in hookspecs.py"


@pytest.mark.parametrize("hook", hook_names())
def test_hook_is_documented(hook: str) -> None:
    assert re.search(rf"^### `{hook}`$", GUIDE, re.MULTILINE), \
        f"docs/plugins.md has no '### `{hook}`' section"


def _test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    return names


@pytest.mark.parametrize("hook", hook_names())
def test_hook_has_a_test(hook: str) -> None:
    assert f"test_hook_{hook}" in _test_names(), f"no test named test_hook_{hook}"


def test_every_built_in_plugin_is_listed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for name in project["project"]["entry-points"]["pos"]:
        assert f"`{name}`" in GUIDE, f"docs/plugins.md does not list the plugin {name}"


def test_categories_document_matches_the_taxonomy() -> None:
    text = (ROOT / "docs" / "categories.md").read_text(encoding="utf-8")
    text = text[text.index("\n## "):]  # the code tables, after the rules' summary
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|$", text, re.MULTILINE))
    assert set(rows) == set(CATEGORIES)
    for code, (_, label) in CATEGORIES.items():
        assert label in rows[code], (code, label, rows[code])
