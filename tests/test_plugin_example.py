"""The example package under examples/ is installed with pip, as a plugin author's users
would, and exercised through its `pos` entry point in the real app."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from pos.config import PluginsConfig
from pos.plugin.manager import build_plugins
from tests.conftest import ADMIN, World, basket

EXAMPLE = Path(__file__).parent.parent / "examples" / "fresh-produce"


def _installed_is_current() -> bool:
    if not any(ep.name == "fresh_produce" for ep in entry_points(group="pos")):
        return False
    spec = importlib.util.find_spec("pos_fresh_produce")
    if spec is None or spec.origin is None:
        return False
    source = EXAMPLE / "pos_fresh_produce" / "__init__.py"
    return Path(spec.origin).read_bytes() == source.read_bytes()


@pytest.fixture(scope="module")
def example_installed() -> None:
    """pip-install the example (not editable: an editable install's path hook would only
    be seen by a new interpreter). Left installed: other test runs may be loading plugins
    at the same moment, and a vanishing entry point would break them."""
    if not _installed_is_current():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        str(EXAMPLE)], check=True, cwd=EXAMPLE.parent)
        importlib.invalidate_caches()
    assert _installed_is_current()


def test_the_example_is_found_through_its_entry_point(example_installed: None) -> None:
    (ep,) = [ep for ep in entry_points(group="pos") if ep.name == "fresh_produce"]
    assert ep.value == "pos_fresh_produce"
    plugins = build_plugins(PluginsConfig(settings={"fresh_produce": {
        "max_line_total": "5000", "also_cover": "eggs, milk"}}))
    assert plugins.rules["fresh_produce"].plugin == "fresh_produce"
    assert plugins.settings["fresh_produce"] == {"max_line_total": 5000,
                                                 "also_cover": ("eggs", "milk")}
    assert "fresh_produce" not in build_plugins(
        PluginsConfig(disabled=("fresh_produce",))).rules


async def test_the_example_rule_decides_at_the_till(example_installed: None,
                                                    world: World) -> None:
    listed = {p["name"]: p for p in
              (await (await world.client.get("/v1/plugins", headers=ADMIN)).json())["plugins"]}
    assert listed["fresh_produce"]["module"] == "pos_fresh_produce"
    assert listed["fresh_produce"]["rules"] == ["fresh_produce"]
    assert {s["key"] for s in listed["fresh_produce"]["settings"]} == \
        {"max_line_total", "also_cover"}

    shop = await world.shop("Greengrocer")
    program = await world.program(restrictions=["fresh_produce", "categories"],
                                  rule_settings={"categories": {"allowed": [
                                      "fruit_vegetables", "sweets"]}}, partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post("/v1/quotes", json={
        "token": voucher["token"],
        "basket": basket(("fruit_vegetables", 3, 600), ("sweets", 1, 900))},
        headers=shop.headers())
    q: dict[str, Any] = await resp.json()
    assert resp.status == 200, q
    assert [(line["eligible"], line["rule"]) for line in q["lines"]] == \
        [(True, "fresh_produce"), (False, "fresh_produce")]
    assert q["lines"][1]["reason"] == "sweets item：本券只支付新鲜蔬果。"  # noqa: RUF001
    assert q["lines"][1]["reason_code"] == "not_fresh"
    assert q["covered"] == 1800


def test_the_examples_own_tests_pass(example_installed: None) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
