"""The settlement exporter hook: a plugin adds a format, gets its own settings, is refused
when it clashes, and a failing exporter never records a digest for a broken file."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pos import hookimpl
from pos.config import Config, PluginsConfig, load_config
from pos.errors import ConfigError
from pos.plugin.exporter_types import BatchHeader, ExportContext, ExporterRegistry
from pos.plugin.manager import build_plugins
from pos.plugin.types import Setting
from tests.conftest import ADMIN, ADMIN_TOKEN, World
from tests.settlement_support import redeem, settle


class FixedWidth:
    """Every line as `<redemption id> <amount padded to width>`."""

    name = "fixed_width"
    description = "Fixed-width text for an old bank system."
    media_type = "text/plain; charset=ascii"
    extension = "txt"

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> str | None:
        return "Only CNY batches." if batch.currency != "CNY" else None

    async def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        width = int(ctx.settings["width"])
        yield f"{ctx.batch.merchant_id} {ctx.batch.total:>{width}}\n".encode()
        async for chunk in ctx.lines():
            yield b"".join(f"{line.redemption_id} {line.amount:>{width}}\n".encode()
                           for line in chunk)


class FixedWidthPlugin:
    @hookimpl
    def pos_declare_settings(self) -> list[Setting]:
        return [Setting("width", int, 12, "Width of the amount column.")]

    @hookimpl
    def pos_register_settlement_exporters(self, register: ExporterRegistry,
                                          settings: Mapping[str, Any]) -> None:
        register.add(FixedWidth())


class Broken:
    name = "broken"
    description = "Fails half way."
    media_type = "text/plain"
    extension = "txt"

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> str | None:
        if batch.line_count > 1:
            raise RuntimeError("cannot check")
        return None

    async def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        yield b"first part\n"
        raise RuntimeError("disk on fire")


class BrokenPlugin:
    @hookimpl
    def pos_register_settlement_exporters(self, register: ExporterRegistry,
                                          settings: Mapping[str, Any]) -> None:
        register.add(Broken())


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    # POS_PLUGINS_<NAME>_<KEY> reaches tables config.toml has; this test's plugin has none,
    # so its width comes from the file the test writes.
    toml = tmp_path / "config.toml"
    toml.write_text((Path(__file__).parent.parent / "config.toml").read_text(encoding="utf-8")
                    + "\n[plugins.fixed_width]\nwidth = 8\n", encoding="utf-8")
    return load_config(toml, env={"POS_DATABASE_URL": database_url,
                                  "POS_DATA_DIR": str(tmp_path / "data"),
                                  "POS_ADMIN_TOKEN": ADMIN_TOKEN})


@pytest.fixture
def exporters(temporary_plugin: Any) -> None:
    temporary_plugin("fixed_width", FixedWidthPlugin())
    temporary_plugin("broken_exporter", BrokenPlugin())


async def test_hook_pos_register_settlement_exporters(exporters: None, world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    vouchers = await world.issue(program, 2)
    made = [await redeem(world, shop, v, ("food", 1, 1500)) for v in vouchers]
    (batch,) = (await settle(world))["batches"]

    resp = await world.client.get("/v1/settlement-formats", headers=ADMIN)
    formats = {f["name"]: f for f in (await resp.json())["formats"]}
    assert formats["fixed_width"] == {
        "name": "fixed_width", "plugin": "fixed_width", "extension": "txt",
        "description": "Fixed-width text for an old bank system.",
        "media_type": "text/plain; charset=ascii", "languages": []}

    resp = await world.client.get(f"/v1/settlements/{batch['id']}/export/fixed_width",
                                  headers=ADMIN)
    raw = await resp.read()
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/plain; charset=ascii"
    lines = raw.decode().splitlines()
    assert lines[0] == f"{shop.merchant_id}     3000", "width 8 from [plugins.fixed_width]"
    assert sorted(lines[1:]) == sorted(f"{m['id']}     1500" for m in made)
    resp = await world.client.get(f"/v1/settlements/{batch['id']}", headers=ADMIN)
    (export,) = (await resp.json())["exports"]
    assert (export["format"], export["sha256"]) == ("fixed_width",
                                                    hashlib.sha256(raw).hexdigest())

    resp = await world.client.get("/v1/plugins", headers=ADMIN)
    plugins = {p["name"]: p for p in (await resp.json())["plugins"]}
    assert plugins["fixed_width"]["exporters"] == ["fixed_width"]
    assert plugins["export_pain001"]["exporters"] == ["pain001"]


async def test_a_failing_exporter_records_nothing(exporters: None, world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    vouchers = await world.issue(program, 2)
    await redeem(world, shop, vouchers[0], ("food", 1, 1500))
    (one,) = (await settle(world))["batches"]
    await redeem(world, shop, vouchers[1], ("food", 1, 1500))
    await redeem(world, shop, (await world.issue(program))[0], ("food", 1, 100))
    (two,) = (await settle(world))["batches"]

    resp = await world.client.get(f"/v1/settlements/{two['id']}/export/broken", headers=ADMIN)
    data = await resp.json()
    assert (resp.status, data["code"], data["plugin"]) == (502, "plugin_error", "broken_exporter")

    resp = await world.client.get(f"/v1/settlements/{one['id']}/export/broken", headers=ADMIN)
    assert resp.status == 200  # the headers had gone out when the exporter failed
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
    resp = await world.client.get(f"/v1/settlements/{one['id']}", headers=ADMIN)
    assert (await resp.json())["exports"] == [], "no digest for a broken file"


def test_two_plugins_cannot_register_one_format() -> None:
    class Clash:
        @hookimpl
        def pos_register_settlement_exporters(self, register: ExporterRegistry,
                                              settings: Mapping[str, Any]) -> None:
            register.add(FixedWidth())

    with pytest.raises(ConfigError, match="'fixed_width' is registered by both"):
        build_plugins(PluginsConfig(), {"fixed_width": FixedWidthPlugin(), "clash": Clash()})
