"""The HTTP contract: problem+json refusals that change nothing, auth, OpenAPI, config."""

from __future__ import annotations

import ast
import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from pos.config import Config
from pos.errors import CATALOGUE
from tests.conftest import ADMIN, World, basket, new_key

ROOT = Path(__file__).parent.parent


async def _counts(db: asyncpg.Connection[Any]) -> tuple[int, ...]:
    return tuple([
        await db.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
        for table in ("programs", "vouchers", "redemptions", "ledger_entries",
                      "idempotency_keys", "credits")
    ])


def _line(**changes: Any) -> dict[str, Any]:
    line = {"sku": "A", "category": "food", "description": "Rice", "quantity": 1,
            "unit_price": 1000}
    line.update(changes)
    return line


BAD_BASKETS = [
    ("float price", [_line(unit_price=10.5)]),
    ("string quantity", [_line(quantity="2")]),
    ("negative price", [_line(unit_price=-1)]),
    ("zero quantity", [_line(quantity=0)]),
    ("absurd price", [_line(unit_price=10**15)]),
    ("absurd quantity", [_line(quantity=10**9)]),
    ("no lines", []),
    ("unknown field", [_line(discount=5)]),
    ("bad gtin", [_line(gtin="12ab")]),
    ("bad category", [_line(category="DROP TABLE")]),
    ("too many lines", [_line()] * 201),
]


@pytest.mark.parametrize(("name", "lines"), BAD_BASKETS, ids=[n for n, _ in BAD_BASKETS])
async def test_bad_baskets_are_refused_and_change_nothing(
    world: World, db: asyncpg.Connection[Any], name: str, lines: list[Any]
) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    before = await _counts(db)
    for path in ("/v1/quotes", "/v1/redemptions"):
        resp = await world.client.post(
            path, json={"token": voucher["token"], "basket": {"currency": "CNY", "lines": lines}},
            headers=shop.headers(new_key()))
        problem = await resp.json()
        assert 400 <= resp.status < 500, problem
        assert resp.content_type == "application/problem+json"
        assert problem["code"] == "validation_error"
        assert {"type", "title", "status", "detail"} <= set(problem)
    assert await _counts(db) == before


async def test_malformed_and_oversized_bodies(world: World, db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop()
    before = await _counts(db)
    cases = [
        (b"{not json", 422, "validation_error"),
        (b"", 422, "validation_error"),
        (b"[]", 422, "validation_error"),
        (json.dumps({"token": "t", "basket": basket(("food", 1, 1)),
                     "pad": "x" * 100_000}).encode(), 413, "payload_too_large"),
    ]
    for raw, status, code in cases:
        resp = await world.client.post("/v1/redemptions", data=raw,
                                       headers={**shop.headers(new_key()),
                                                "Content-Type": "application/json"})
        problem = await resp.json()
        assert (resp.status, problem["code"]) == (status, code), problem
        assert resp.content_type == "application/problem+json"
    resp = await world.client.post("/v1/programs", data=b"\xff\xfe", headers={
        **ADMIN, "Content-Type": "application/json"})
    assert resp.status == 422
    assert await _counts(db) == before


async def test_bad_program_definitions(world: World, db: asyncpg.Connection[Any]) -> None:
    before = await _counts(db)
    base = {"name": "P", "restrictions": ["any"], "face_value": 100,
            "valid_from": "2026-01-01", "valid_until": "2026-12-31"}
    for changes in ({"face_value": 1.5}, {"face_value": -1}, {"currency": "XXX"},
                    {"restrictions": ["no_such_rule"]}, {"valid_until": "2025-01-01"},
                    {"uses": 8}, {"channels": ["teleport"]}, {"valid_from": "yesterday"},
                    {"face_value": 0}):
        resp = await world.client.post("/v1/programs", json={**base, **changes}, headers=ADMIN)
        problem = await resp.json()
        assert (resp.status, problem["code"]) == (422, "validation_error"), (changes, problem)
    assert await _counts(db) == before


async def test_authentication_and_roles(world: World) -> None:
    shop = await world.shop()
    resp = await world.client.post("/v1/merchants", json={"name": "x"})
    assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")
    resp = await world.client.post("/v1/merchants", json={"name": "x"},
                                   headers={"Authorization": "Bearer wrong"})
    assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")
    resp = await world.client.post("/v1/merchants", json={"name": "x"}, headers=shop.headers())
    assert (resp.status, (await resp.json())["code"]) == (403, "forbidden")
    resp = await world.client.post("/v1/quotes", json={}, headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (403, "forbidden")
    resp = await world.client.post("/v1/quotes", json={},
                                   headers={"Authorization": "Bearer till_forged"})
    assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")


async def test_unknown_things_are_not_found(world: World) -> None:
    for path in ("/v1/vouchers/not-a-uuid", "/v1/vouchers/00000000-0000-0000-0000-000000000000",
                 "/v1/programs/00000000-0000-0000-0000-000000000000", "/nowhere"):
        resp = await world.client.get(path, headers=ADMIN)
        assert (resp.status, (await resp.json())["code"]) == (404, "not_found")
    resp = await world.client.delete("/v1/programs", headers=ADMIN)
    assert resp.status == 405 and resp.content_type == "application/problem+json"


def full_width(text: str) -> str:
    """`text` as a Chinese input method in full-width mode types it."""
    return "".join("\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch
                   for ch in text)


async def test_a_code_typed_in_full_width_is_read(world: World) -> None:
    """A Chinese input method left in full-width mode types full-width letters, digits and
    dashes: the same code."""
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    for typed in (full_width(voucher["code"]), full_width(voucher["code"].lower()),
                  full_width(voucher["code"].replace("-", " "))):
        resp = await world.client.post("/v1/quotes", json={
            "code": typed, "basket": basket(("food", 1, 100))}, headers=shop.headers())
        data = await resp.json()
        assert resp.status == 200, (typed, data)
        assert data["voucher"]["id"] == voucher["id"]


async def test_manual_code_typos_and_rate_limit(world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    code = voucher["code"]
    typo = ("1" if code[0] != "1" else "2") + code[1:]
    resp = await world.client.post("/v1/quotes", json={
        "code": typo, "basket": basket(("food", 1, 100))}, headers=shop.headers())
    # A wrong code is about the voucher, never the till's credential: not 401.
    assert (resp.status, (await resp.json())["code"]) == (422, "invalid_token")
    resp = await world.client.post("/v1/quotes", json={
        "code": code.lower().replace("-", " "), "basket": basket(("food", 1, 100))},
        headers=shop.headers())
    assert resp.status == 200
    # Editing the basket re-quotes a code the till found: never a guess, never throttled.
    for quantity in range(1, 31):
        resp = await world.client.post("/v1/quotes", json={
            "code": code, "basket": basket(("food", quantity, 100))}, headers=shop.headers())
        assert resp.status == 200
    # Wrong codes count, and each gets the same answer until the till is throttled.
    answers = []
    for _ in range(25):
        resp = await world.client.post("/v1/quotes", json={
            "code": typo, "basket": basket(("food", 1, 100))}, headers=shop.headers())
        answer = await resp.json()
        answer.pop("request_id", None)  # each request's own id, for support
        answers.append((resp.status, answer))
    refused = [a for a in answers if a[0] != 429]
    assert refused and all(a == refused[0] for a in refused), refused
    assert refused[0][0] == 422
    assert answers[-1][0] == 429 and answers[-1][1]["code"] == "rate_limited"
    # Another till is not held back by this one's guesses.
    other = await world.shop("Other")
    resp = await world.client.post("/v1/quotes", json={
        "code": typo, "basket": basket(("food", 1, 100))}, headers=other.headers())
    assert resp.status == 422
    # The token path is not limited: a forged token cannot be guessed.
    resp = await world.client.post("/v1/quotes", json={
        "token": voucher["token"], "basket": basket(("food", 1, 100))}, headers=shop.headers())
    assert resp.status == 200


async def test_openapi_matches_the_routes(world: World) -> None:
    resp = await world.client.get("/v1/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for route in world.client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method in ("HEAD", "OPTIONS") or path is None:
            continue
        routed.add((path, route.method))
    assert documented == routed
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for must in ("/v1/quotes", "/v1/redemptions", "/v1/redemptions/{id}/void", "/healthz",
                 "/.well-known/jwks.json", "/v1/programs/{id}/vouchers"):
        assert must in doc["paths"]


def test_every_staff_write_is_named_in_chinese_for_the_audit_log() -> None:
    """The audit log's Chinese page names each write by its route's `summary_zh`: a route a
    staff member can change something through without one would show up as a bare route."""
    from pos.api.app import ROUTE_TABLES

    unnamed = [f"{spec.method} {spec.path}" for table in ROUTE_TABLES for spec in table.specs
               if spec.method != "GET" and spec.auth not in ("none", "till", "metrics")
               and spec.action is None]
    assert unnamed == []


async def test_health_and_jwks(world: World) -> None:
    resp = await world.client.get("/healthz")
    assert (await resp.json()) == {"status": "ok"}
    # Every page's browser asks for /favicon.ico: it gets the icon, not a 404.
    resp = await world.client.get("/favicon.ico")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert (await resp.read()).lstrip().startswith(b"<svg")


def test_config_toml_documents_every_key() -> None:
    documented = tomllib.loads((ROOT / "config.toml").read_text())
    for section in dataclasses.fields(Config):
        table = documented.get(section.name)
        assert table is not None, f"config.toml lacks [{section.name}]"
        section_type = type(getattr(Config(), section.name))
        keys = {f.name for f in dataclasses.fields(section_type)} - {"settings"}
        assert keys <= set(table), (section.name, keys - set(table))


def test_environment_overrides_every_key(tmp_path: Path) -> None:
    from pos.config import load_config

    config = load_config(ROOT / "config.toml", env={
        "POS_SERVER_HOST": "0.0.0.0", "POS_SERVER_PORT": "9999",  # noqa: S104
        "POS_DATABASE_URL": "postgresql://db/x", "POS_DATA_DIR": str(tmp_path),
        "POS_ADMIN_TOKEN": "secret", "POS_PLUGINS_DISABLED": "any,cash",
        "POS_PLUGINS_CATEGORIES_ALWAYS_DENIED": "alcohol"})
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9999)  # noqa: S104
    assert config.database.url == "postgresql://db/x" and config.data.dir == str(tmp_path)
    assert config.admin.token == "secret"
    assert config.plugins.disabled == ("any", "cash")
    assert config.plugins.settings["categories"]["always_denied"] == "alcohol"


def _unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    import base64

    def b64(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(claims)}.AAAA"


async def test_inputs_that_once_gave_500_get_a_clear_refusal(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    """Found by review: each of these reached the database or a parser unchecked."""
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    before = await _counts(db)

    def problem_of(resp: Any) -> None:
        assert 400 <= resp.status < 500, resp.status

    for kid in ("\ud800", "a\x00b", "x" * 100):
        token = _unsigned_token({"alg": "EdDSA", "kid": kid}, {"jti": voucher["id"]})
        for path in ("/v1/quotes", "/v1/redemptions"):
            resp = await world.client.post(
                path, json={"token": token, "basket": basket(("food", 1, 100))},
                headers=shop.headers(new_key()))
            assert (resp.status, (await resp.json())["code"]) == (422, "invalid_token")

    nul_line = {"sku": "a\x00", "category": "food", "description": "Rice", "quantity": 1,
                "unit_price": 100}
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"],
                                 "basket": {"currency": "CNY", "lines": [nul_line]}},
        headers=shop.headers(new_key()))
    assert (resp.status, (await resp.json())["code"]) == (422, "validation_error")
    resp = await world.client.post("/v1/merchants", json={"name": "a\x00b"}, headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (422, "validation_error")
    resp = await world.client.post("/v1/settlements", json={
        "period_end": "2026-01-01", "by": "me\x00"}, headers=ADMIN)
    problem_of(resp)

    base = {"name": "P", "restrictions": ["any"], "face_value": 100,
            "valid_from": "2026-01-01", "valid_until": "2026-12-31"}
    for dates in ({"valid_until": "9999-12-31"}, {"valid_from": "0001-01-01"}):
        resp = await world.client.post("/v1/programs", json={**base, **dates}, headers=ADMIN)
        assert (resp.status, (await resp.json())["code"]) == (422, "validation_error")

    resp = await world.client.get(f"/v1/programs/{program}/report",
                                  headers={"Cookie": "pos_reports=².abc"})
    problem_of(resp)
    resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/qr.png?module=%C2%B2",
                                  headers=ADMIN)
    problem_of(resp)
    resp = await world.client.post("/reports/login", data=b"token=\xff", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    problem_of(resp)
    resp = await world.client.post(f"/v1/programs/{program}/issuances?check=1",
                                   data=b"[" * 20000 + b"]" * 20000,
                                   headers={**ADMIN, "Content-Type": "application/json"})
    problem_of(resp)
    assert await _counts(db) == before


def _problem_codes_in_source() -> set[str]:
    """Every problem code the source names: catalogue entries used by name, and codes
    given as strings to a problem class."""
    root = Path(__file__).resolve().parent.parent
    names = {entry.code.upper(): entry.code for entry in CATALOGUE.values()}
    found: set[str] = set()
    for path in [*root.joinpath("pos").rglob("*.py"), *root.joinpath("plugins").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Name) \
                    and node.func.id.endswith("Problem") and node.func.id != "PluginProblem":
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
            if isinstance(node, ast.Name) and node.id in names:
                found.add(names[node.id])
    return found


def test_every_problem_code_is_declared_once_in_the_catalogue() -> None:
    undeclared = _problem_codes_in_source() - set(CATALOGUE)
    assert undeclared == set()
    assert all(100 <= entry.status < 600 and entry.title for entry in CATALOGUE.values())


async def test_openapi_lists_every_problem_code(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/v1/openapi.json")).json()
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]["code"]["enum"]) == set(CATALOGUE)
    listed = {row["code"]: row["status"] for row in problem["x-problem-codes"]}
    assert listed == {code: entry.status for code, entry in CATALOGUE.items()}


def _query_reads(tree: ast.AST) -> dict[str, set[str]]:
    """Function name -> the query parameters it reads: `<request>.query.get("n")`,
    `<request>.query["n"]`, `"n" in <request>.query`, the same through a local `query`, and
    `query_id(request, "n")`."""
    def is_query(node: ast.expr) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "query") or (
            isinstance(node, ast.Name) and node.id == "query")

    reads: dict[str, set[str]] = {}
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        names = reads.setdefault(function.name, set())
        for node in ast.walk(function):
            key: ast.expr | None = None
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "get" and is_query(node.func.value) and node.args):
                key = node.args[0]
            elif isinstance(node, ast.Subscript) and is_query(node.value):
                key = node.slice
            elif (isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In)
                  and is_query(node.comparators[0])):
                key = node.left
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id == "query_id" and len(node.args) == 2):
                key = node.args[1]  # pos.api.state.query_id(request, "name")
            # An identifier: `"\x00" in query` tests a text that is named query.
            if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                    and key.value.isidentifier()):
                names.add(key.value)
    return reads


async def test_openapi_lists_every_query_parameter_a_route_reads(
    client: TestClient[Any, Any]
) -> None:
    """What a handler reads from the query string is in the document, on that route; what
    a shared helper reads (the console's ?lang=, the audit filters) on some route."""
    doc = await (await client.get("/v1/openapi.json")).json()
    declared = {op["operationId"]: {p["name"] for p in op.get("parameters", [])
                                    if p["in"] == "query"}
                for ops in doc["paths"].values() for op in ops.values()}
    anywhere = set().union(*declared.values())
    handlers = {}
    for ops in doc["paths"].values():
        for method, op in ops.items():
            handlers[op["operationId"].removeprefix(f"{method}_")] = op["operationId"]
    checked = 0
    for module in sorted((ROOT / "pos" / "api").glob("*.py")):
        for function, names in _query_reads(ast.parse(module.read_text())).items():
            for name in names:
                assert name in anywhere, (module.name, function, name)
                if function in handlers:
                    assert name in declared[handlers[function]], (module.name, function, name)
                    checked += 1
    assert checked >= 8  # the handlers that read their query themselves were found
    audit = {p["name"]: p for p in doc["paths"]["/v1/audit-log"]["get"]["parameters"]}
    assert audit["before"]["schema"] == {"type": "integer", "minimum": 1,
                                         "maximum": 2**63 - 1}
    assert {"actor", "table", "object"} <= set(audit)
