"""The fast paths of batch issuance hand out exactly what the plain ones would: hand-built
tokens are PyJWT's tokens, table-driven codes are the readable definition's codes, the
list written while issuing is the batch as exported afterwards, and its tokens and codes
work at the till."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import random
import uuid
from pathlib import Path

import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pos import codes
from pos.api.state import SERVICES
from pos.cli.voucher_commands import issue_and_list
from pos.config import Config
from pos.signing import tokens
from pos.vouchers.batch_writer import random_voucher_ids
from pos.vouchers.fresh_list import csv_text
from tests.conftest import World
from tests.issuance_support import connect, csv_bytes, exported, ledger_ok, quote, upload


def test_a_hand_built_token_is_the_pyjwt_token_and_verifies_the_same() -> None:
    key = Ed25519PrivateKey.generate()
    for issuer, audience, kid in (("pos-vouchers", "pos-till", "k20261201-1"),
                                  ("心愿 \"issuer\"", "till/\u00e9", "k.1_-")):
        signer = tokens.TokenSigner(key, kid, issuer=issuer, audience=audience)
        for iat in (0, 1_767_225_600, 2**40):
            jti, prg, nbf, exp = str(uuid.uuid4()), str(uuid.uuid4()), iat - 86_400, iat + 10**8
            claims = {"iss": issuer, "aud": audience, "jti": jti, "prg": prg, "iat": iat,
                      "nbf": nbf, "exp": exp}
            by_hand = signer.sign(voucher_id=jti, program_id=prg, iat=iat, nbf=nbf, exp=exp)
            assert by_hand == jwt.encode(claims, key, algorithm="EdDSA",
                                         headers={"kid": kid, "typ": "JWT"})
            assert by_hand == tokens.sign(key, kid, issuer=issuer, audience=audience,
                                          voucher_id=jti, program_id=prg, iat=iat, nbf=nbf,
                                          exp=exp)
            parsed = tokens.parse(by_hand, 4096)
            assert parsed.header == {"alg": "EdDSA", "kid": kid, "typ": "JWT"}
            assert parsed.claims == claims
            verifier = tokens.TokenVerifier(
                issuer=issuer, audience=audience, leeway=0, max_bytes=4096,
                lookup_key=lambda _kid: key.public_key())
            if iat == 1_767_225_600:  # in force now (the others are refused on their times)
                assert verifier.verify(by_hand) == tokens.VoucherClaims(
                    jti, prg, kid, iat, nbf, exp)


def _readable_code(secret: bytes, voucher_id: str, generation: int) -> str:
    """The manual code as first written: HMAC, 60 bits, 12 symbols, Luhn mod 32."""
    digest = hmac.new(secret, f"{voucher_id}:{generation}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> 4
    body = "".join(codes.ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(12)))
    total, factor = 0, 2
    for ch in reversed(body):
        addend = factor * codes.ALPHABET.index(ch)
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    full = body + codes.ALPHABET[(32 - total % 32) % 32]
    return "-".join(full[i:i + 4] for i in range(0, len(full), 4))


def test_codes_are_the_readable_definitions_codes() -> None:
    rng = random.Random(15)
    for n in range(2000):
        secret, voucher_id = rng.randbytes(32), str(uuid.UUID(int=rng.getrandbits(128)))
        code = codes.derive_code(secret, voucher_id, n)
        assert code == _readable_code(secret, voucher_id, n)
        body = codes.derive_body(secret, voucher_id, n)
        assert codes.normalise(code) == body and codes.format_code(body) == code


def test_voucher_ids_are_random_version_4_uuids() -> None:
    ids = random_voucher_ids(5000)
    parsed = [uuid.UUID(i) for i in ids]
    assert all(p.version == 4 and p.variant == uuid.RFC_4122 for p in parsed)
    assert [str(p) for p in parsed] == ids and len(set(ids)) == 5000
    assert random_voucher_ids(0) == []


@pytest.mark.parametrize("rows", [
    [["2", "child-1", "", "id", "active", "ABCD", "a.b-_c", "http://x/v/ABCD", ""]],
    [["2", "a,b", 'say "hi"', "line\nbreak", "cr\r", ""], ["3", "", "", "", "", ""]],
])
def test_csv_text_is_what_the_csv_module_writes(rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    assert csv_text(rows) == buffer.getvalue()


def _staged(folder: Path) -> list[Path]:
    return list(folder.glob(".issuing-*"))


def _listed(folder: Path) -> list[Path]:
    return list(folder.glob("*/v.csv"))


@pytest.mark.parametrize("workers", [0, 1])
async def test_the_list_written_while_issuing_is_the_batch_as_exported(
        world: World, config: Config, tmp_path: Path, workers: int) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    svc = world.client.app[SERVICES]
    listing = tmp_path / "list.csv"
    listing.write_bytes(csv_bytes(
        [{"ref": f"child-{i:05d}", "holder_ref": f"vol-{i % 5}" if i % 3 else "",
          "note": "county 2", "grant": "book" if i % 2 else ""} for i in range(2345)],
        header=("ref", "holder_ref", "note", "grant")))

    result, written = await issue_and_list(
        svc, program, listing, "csv", lambda batch: tmp_path / batch / "vouchers.csv",
        tmp_path, chunk_size=1000, workers=workers)
    assert result.created and result.count == 2345 and written is not None
    assert not _staged(tmp_path)  # the staging file was moved into place
    with written.open(encoding="utf-8-sig", newline="") as handle:
        handed_out = list(csv.DictReader(handle))
    assert handed_out == await exported(world.client, result.issuance_id)
    assert [int(r["line"]) for r in handed_out] == list(range(2, 2347))
    assert handed_out[1]["grant"] == "book" and handed_out[4]["holder_ref"] == "vol-4"

    for row in (handed_out[0], handed_out[1500], handed_out[-1]):  # every chunk's tokens
        status, quoted = await quote(world, shop, token=row["token"])
        assert status == 200, quoted
        assert quoted["voucher"]["id"] == row["voucher_id"]
    status, quoted = await quote(world, shop, code=handed_out[999]["code"])
    assert status == 200 and quoted["voucher"]["balance"] == 30000, quoted
    async with connect(config) as conn:
        per_voucher = await conn.fetch(
            "SELECT count(*) AS entries, count(DISTINCT txn_id) AS txns, sum(amount) AS total"
            " FROM ledger_entries WHERE kind = 'issue' GROUP BY voucher_id")
        credits = await conn.fetchval("SELECT count(*) FROM credits")
    assert len(per_voucher) == 2345 and credits == 2345
    assert {(r["entries"], r["txns"], r["total"]) for r in per_voucher} == {(2, 1, 0)}
    await ledger_ok(config)

    again, rewritten = await issue_and_list(
        svc, program, listing, "csv", lambda batch: tmp_path / "again" / "vouchers.csv",
        tmp_path, workers=workers)
    assert (again.issuance_id, again.created) == (result.issuance_id, False)
    assert rewritten is not None and rewritten.read_bytes() == written.read_bytes()


async def test_a_refused_list_leaves_no_list_behind(
        world: World, config: Config, tmp_path: Path) -> None:
    program = await world.program()
    svc = world.client.app[SERVICES]
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_bytes(csv_bytes([{"ref": "child-1"}, {"ref": "child-2"}]))
    second.write_bytes(csv_bytes([{"ref": "child-3"}, {"ref": "child-2"}]))
    await issue_and_list(svc, program, first, "csv", lambda b: tmp_path / b / "v.csv",
                         tmp_path, workers=0)
    with pytest.raises(Exception, match="already holds"):
        await issue_and_list(svc, program, second, "csv", lambda b: tmp_path / b / "v.csv",
                             tmp_path, workers=1)
    assert not _staged(tmp_path)
    async with connect(config) as conn:
        assert await conn.fetchval("SELECT count(*) FROM vouchers") == 2


def test_a_batchs_codes_are_each_vouchers_own_code() -> None:
    rng = random.Random(750)
    for generation in (0, 1_767_225_600, 2**40):
        secret = rng.randbytes(rng.choice((16, 32, 100)))  # longer than a block, too
        ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(500)]
        assert codes.derive_bodies(secret, ids, generation) == [
            codes.derive_body(secret, voucher_id, generation) for voucher_id in ids]
    assert codes.derive_bodies(b"k", [], 1) == []


async def test_a_late_bad_row_refuses_a_list_whose_first_chunks_were_signed(
        world: World, config: Config, tmp_path: Path) -> None:
    program = await world.program()
    svc = world.client.app[SERVICES]
    rows = [{"ref": f"child-{i:05d}"} for i in range(2500)]
    rows[2400]["ref"] = "not a ref"  # in the third chunk: two were minted and signed before
    listing = tmp_path / "list.csv"
    listing.write_bytes(csv_bytes(rows))
    with pytest.raises(Exception, match="line 2402"):
        await issue_and_list(svc, program, listing, "csv", lambda b: tmp_path / b / "v.csv",
                             tmp_path, chunk_size=1000, workers=1)
    assert not _staged(tmp_path) and not _listed(tmp_path)
    async with connect(config) as conn:
        assert await conn.fetchval("SELECT count(*) FROM vouchers") == 0
        assert await conn.fetchval("SELECT count(*) FROM issuances") == 0


async def test_a_batch_stores_every_credit_of_the_plan_in_plan_order(
        world: World, config: Config, tmp_path: Path) -> None:
    program = await world.program(face_value=1000, allowance={"amount": 500, "count": 3})
    svc = world.client.app[SERVICES]
    listing = tmp_path / "list.csv"
    listing.write_bytes(csv_bytes([{"ref": f"child-{i:04d}", "note": "back\\slash, \"q\""}
                                   for i in range(1500)]))
    result, _ = await issue_and_list(svc, program, listing, "csv",
                                     lambda b: tmp_path / b / "v.csv", tmp_path,
                                     chunk_size=1000, workers=0)
    async with connect(config) as conn:
        plans = await conn.fetch(
            "SELECT v.note, array_agg(c.kind ORDER BY c.id) AS kinds,"
            "       array_agg(c.valid_from ORDER BY c.id) AS starts,"
            "       sum(c.amount)::bigint AS total, sum(c.remaining)::bigint AS remaining"
            "  FROM vouchers v JOIN credits c ON c.voucher_id = v.id"
            " WHERE v.issuance_id = $1 GROUP BY v.id", result.issuance_id)
        entries = await conn.fetch(
            "SELECT account, amount FROM ledger_entries WHERE kind = 'issue'"
            " AND program_id = $1", program)
    assert len(plans) == 1500
    assert {(r["note"], tuple(r["kinds"]), r["total"], r["remaining"]) for r in plans} == {
        ('back\\slash, "q"', ("grant", "allowance", "allowance", "allowance"), 2500, 2500)}
    assert all(list(r["starts"]) == sorted(r["starts"]) for r in plans)
    assert sorted({(e["account"], e["amount"]) for e in entries}) == [
        ("program_funding", -2500), ("voucher", 2500)] and len(entries) == 3000
    await ledger_ok(config)


async def test_issued_rows_and_what_they_point_at_are_never_deleted(
        world: World, config: Config) -> None:
    program = await world.program()
    listing = csv_bytes([{"ref": "child-1"}])
    status, _ = await upload(world.client, program, listing)
    assert status == 201
    async with connect(config) as conn:
        for table in ("vouchers", "issuances", "signing_keys", "programs"):
            for statement in ("DELETE FROM {}", "TRUNCATE {} CASCADE"):
                with pytest.raises(asyncpg.RestrictViolationError, match="never deleted"):
                    await conn.execute(statement.format(table))
        assert await conn.fetchval("SELECT count(*) FROM vouchers") == 1
