# ruff: noqa: RUF001
"""Batch issuance through the real API and the real database: every row checked first,
one bad row refuses the whole list, a batch is issued at most once."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from pos.api.app import create_app
from pos.config import Config
from pos.vouchers import beneficiary_list
from tests.conftest import ADMIN, World, make_config
from tests.issuance_support import connect, csv_bytes, exported, ledger_ok, quote, upload


def rows(n: int, prefix: str = "child") -> list[dict[str, str]]:
    return [{"ref": f"{prefix}-{i:05d}", "holder_ref": f"vol-{i % 7}",
             "note": f"county {i % 6}"} for i in range(n)]


async def counts(config: Config) -> tuple[int, int]:
    async with connect(config) as conn:
        vouchers = await conn.fetchval("SELECT count(*) FROM vouchers")
        batches = await conn.fetchval("SELECT count(*) FROM issuances")
    return vouchers, batches


async def test_csv_list_issues_every_row_once_and_the_tokens_work(
        world: World, config: Config) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    data = csv_bytes(rows(25))

    status, first = await upload(world.client, program, data)
    assert status == 201, first
    assert (first["voucher_count"], first["created"]) == (25, True)

    status, again = await upload(world.client, program, data)
    assert status == 200, again
    assert (again["id"], again["created"]) == (first["id"], False)
    assert await counts(config) == (25, 1)

    listed = await exported(world.client, first["id"])
    assert [r["ref"] for r in listed] == [f"child-{i:05d}" for i in range(25)]
    assert [int(r["line"]) for r in listed] == list(range(2, 27))  # CSV lines, header = 1
    status, quoted = await quote(world, shop, token=listed[0]["token"])
    assert status == 200, quoted
    assert quoted["voucher"]["id"] == listed[0]["voucher_id"]
    status, quoted = await quote(world, shop, code=listed[-1]["code"])
    assert status == 200, quoted
    assert quoted["voucher"]["balance"] == 30000
    assert listed[3]["holder_link"].endswith(f"/v/{listed[3]['code']}")

    voucher = await world.voucher(listed[1]["voucher_id"])
    assert (voucher["holder_ref"], voucher["note"]) == ("vol-1", "county 1")
    assert (voucher["issuance_id"], voucher["issuance_line"]) == (first["id"], 3)
    resp = await world.client.get(f"/v1/programs/{program}/issuances", headers=ADMIN)
    (listed_batch,) = (await resp.json())["issuances"]
    assert (listed_batch["id"], listed_batch["voucher_count"]) == (first["id"], 25)
    resp = await world.client.get(f"/v1/issuances/{first['id']}", headers=ADMIN)
    assert (await resp.json())["source"] == "api"
    await ledger_ok(config)


async def test_one_bad_row_refuses_the_whole_list_and_names_every_bad_row(
        world: World, config: Config) -> None:
    program = await world.program()
    good = rows(5)
    bad = [
        *good[:2],
        {"ref": "", "holder_ref": "vol-1"},             # line 4: missing
        {"ref": "has space"},                           # line 5: bad characters
        good[2],
        {"ref": "child-00000"},                         # line 7: duplicate of line 2
        {"ref": "ok-1", "holder_ref": "名字"},          # line 8: bad holder reference
        {"ref": "ok-2", "note": "x" * 501},             # line 9: note too long
        *good[3:],
    ]
    status, problem = await upload(world.client, program, csv_bytes(bad), lang="en")
    assert status == 422, problem
    assert problem["code"] == "batch_invalid"
    assert problem["bad_rows"] == 5
    by_line = {r["line"]: r for r in problem["rows"]}
    assert sorted(by_line) == [4, 5, 7, 8, 9]
    assert by_line[4]["problems"] == ["ref is missing"]
    assert "also on line 2" in by_line[7]["problems"][0]
    assert "holder_ref" in by_line[8]["problems"][0]
    assert "note" in by_line[9]["problems"][0]
    assert problem["detail"].startswith("5 row(s) of this list cannot be issued")
    # The officer reads the same report in Chinese (the default), every row of it.
    status, problem = await upload(world.client, program, csv_bytes(bad))
    assert status == 422
    assert problem["detail"] == (
        "这份名单有 5 行不能发券，因此一张券也没有发（第一处：第 4 行：缺少 ref）。"
        "请改正报告中列出的行，再发送整份名单。")
    said = {r["line"]: r["problems"] for r in problem["rows"]}
    assert said[4] == ["缺少 ref"]
    assert said[7] == ["ref child-00000 在第 2 行也出现过"]
    assert said[9] == ["note 须是最多 500 个可打印字符的文字"]
    assert await counts(config) == (0, 0)


async def test_a_beneficiary_who_already_holds_a_voucher_refuses_the_list(
        world: World, config: Config) -> None:
    program = await world.program()
    await world.post(f"/v1/programs/{program}/vouchers",
                     {"beneficiaries": [{"ref": "child-00003"}]})
    status, problem = await upload(world.client, program, csv_bytes(rows(6)), lang="en")
    assert status == 422
    assert [(r["line"], r["ref"]) for r in problem["rows"]] == [(5, "child-00003")]
    assert "already holds" in problem["rows"][0]["problems"][0]
    assert await counts(config) == (1, 0)


@pytest.mark.parametrize("header, detail", [
    (("ref", "name"), "'name'"),
    (("holder_ref",), "no ref column"),
])
async def test_a_list_with_personal_or_missing_columns_is_refused(
        world: World, header: tuple[str, ...], detail: str) -> None:
    program = await world.program()
    status, problem = await upload(world.client, program,
                                   csv_bytes([{"ref": "a", "name": "Li"}], header=header),
                                   lang="en")
    assert status == 422
    assert problem["code"] == "batch_unreadable"
    assert detail in problem["detail"]


async def test_json_upload_with_a_named_batch_and_a_conflicting_reuse(
        world: World, config: Config) -> None:
    program = await world.program()
    batch_id = str(uuid.uuid4())
    body = json.dumps({"beneficiaries": rows(3)}).encode()
    status, created = await upload(world.client, program, body,
                                   content_type="application/json", batch_id=batch_id)
    assert status == 201, created
    assert created["id"] == batch_id
    other = json.dumps(rows(3, prefix="other")).encode()
    status, problem = await upload(world.client, program, other,
                                   content_type="application/json", batch_id=batch_id)
    assert status == 409
    assert problem["code"] == "issuance_conflict"
    assert await counts(config) == (3, 1)


async def test_two_uploads_of_the_same_list_at_once_issue_it_once(
        world: World, config: Config) -> None:
    program = await world.program()
    data = csv_bytes(rows(300))
    results = await asyncio.gather(*(upload(world.client, program, data) for _ in range(3)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 200, 201], results
    assert len({body["id"] for _, body in results}) == 1
    assert await counts(config) == (300, 1)
    await ledger_ok(config)


async def test_overlapping_lists_at_once_issue_one_and_refuse_the_other(
        world: World, config: Config) -> None:
    program = await world.program()
    shared = rows(400)
    first, second = csv_bytes(shared + rows(5, "a")), csv_bytes(shared[::-1] + rows(5, "b"))
    results = await asyncio.gather(upload(world.client, program, first),
                                   upload(world.client, program, second))
    statuses = sorted(status for status, _ in results)
    assert statuses[0] == 201 and statuses[1] in (409, 422), results
    refused = next(body for status, body in results if status != 201)
    assert refused["code"] in ("already_issued", "batch_invalid")
    assert await counts(config) == (405, 1)
    await ledger_ok(config)


async def test_a_list_can_be_checked_without_issuing(world: World, config: Config) -> None:
    program = await world.program()
    data = csv_bytes(rows(7))
    resp = await world.client.post(f"/v1/programs/{program}/issuances?check=1", data=data,
                                   headers={**ADMIN, "Content-Type": "text/csv"})
    checked = await resp.json()
    assert resp.status == 200, checked
    assert (checked["checked_only"], checked["voucher_count"]) == (True, 7)
    assert await counts(config) == (0, 0)
    status, issued = await upload(world.client, program, data)
    assert (status, issued["id"]) == (201, checked["id"])  # the batch it said it would be
    resp = await world.client.post(f"/v1/programs/{program}/issuances?check=1",
                                   data=csv_bytes([{"ref": "bad ref"}]),
                                   headers={**ADMIN, "Content-Type": "text/csv"})
    assert (resp.status, (await resp.json())["code"]) == (422, "batch_invalid")


async def test_bad_requests_are_problems_not_errors(world: World) -> None:
    program = await world.program()
    status, problem = await upload(world.client, program, b"ref\na\n",
                                   content_type="application/xml")
    assert (status, problem["code"]) == (415, "unsupported_media_type")
    status, problem = await upload(world.client, program, b"\xff\xfeGBK bytes\n")
    assert (status, problem["code"]) == (422, "batch_unreadable")
    status, problem = await upload(world.client, program, b"ref\n")
    assert (status, problem["code"]) == (422, "batch_unreadable")
    status, problem = await upload(world.client, program, b"[1, 2", content_type="application/json")
    assert (status, problem["code"]) == (422, "batch_unreadable")
    status, problem = await upload(world.client, program, b"ref\na\n", batch_id="nope")
    assert (status, problem["code"]) == (422, "validation_error")
    status, problem = await upload(world.client, str(uuid.uuid4()), b"ref\na\n")
    assert (status, problem["code"]) == (404, "not_found")
    resp = await world.client.post(f"/v1/programs/{program}/issuances", data=b"ref\na\n",
                                   headers={"Content-Type": "text/csv"})
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"


async def test_an_upload_over_the_limit_is_refused(
        aiohttp_client: Any, database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", POS_VOUCHERS_MAX_UPLOAD_BYTES="200")
    client: TestClient[Any, Any] = await aiohttp_client(create_app(config))
    world = World(client)
    program = await world.program()
    status, problem = await upload(client, program, csv_bytes(rows(50)))
    assert (status, problem["code"]) == (413, "payload_too_large")
    await client.close()


def test_the_same_list_hashes_the_same_whatever_its_spelling() -> None:
    def digest(data: bytes) -> bytes:
        content = beneficiary_list.ContentHash("p")
        for raw in beneficiary_list.read_rows(io.BytesIO(data), "csv"):
            row, problems = beneficiary_list.check_row(raw)
            assert row is not None, problems
            content.add(row)
        return content.digest()

    plain = b"ref,holder_ref\na-1,v\nb-2,\n"
    excel = b"\xef\xbb\xbfREF , Holder_Ref\r\n a-1 ,v\r\nb-2,\r\n\r\n"
    assert digest(plain) == digest(excel)
    assert digest(plain) != digest(b"ref,holder_ref\na-1,v\nb-3,\n")


@pytest.mark.parametrize("data, content_type", [
    (b'[{"ref": 123}, {"ref": "a", "holder_ref": 5}, {"ref": "b", "note": ["x"]}, 7, null]',
     "application/json"),
    (b'{"beneficiaries": [], "extra": 1}', "application/json"),
    (b'{"beneficiaries": []}', "application/json"),
    (b'"just a string"', "application/json"),
    (b"ref\x00,note\na,b\n", "text/csv"),
    (b'ref,note\n"unterminated,b\n', "text/csv"),
    (b"ref,ref\na,b\n", "text/csv"),
    (b"ref\na,extra,fields\n", "text/csv"),
    (b"", "text/csv"),
    ("ref\n" + "\u202e" * 10 + "\n", "text/csv"),
])
async def test_odd_lists_are_refused_as_problems(
        world: World, config: Config, data: bytes | str, content_type: str) -> None:
    program = await world.program()
    raw = data.encode() if isinstance(data, str) else data
    status, problem = await upload(world.client, program, raw, content_type=content_type)
    assert status == 422, problem
    assert problem["code"] in ("batch_invalid", "batch_unreadable")
    assert await counts(config) == (0, 0)
