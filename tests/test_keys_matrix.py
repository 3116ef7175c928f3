"""Key rotation in practice, the whole matrix: which key signs new vouchers, and whether a
voucher signed with each key still works when that key is active, retired or revoked."""

from __future__ import annotations

import jwt

from pos.config import Config
from pos.signing import keys
from tests.conftest import ADMIN, World
from tests.issuance_support import connect, csv_bytes, exported, quote, run_pos, upload


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_rotation_matrix(world: World, config: Config) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (first,) = await world.issue(program)  # the first key is made on first use
    k1 = kid_of(first["token"])

    async with connect(config) as conn:
        k2 = await keys.rotate(conn, config.data_dir)
        statuses = {k.kid: k.status for k in await keys.list_keys(conn)}
    assert statuses == {k1: "retired", k2: "active"}

    # Issued after the rotation (the JSON call and a batch upload): signed with the new key.
    (second,) = await world.issue(program)
    status, batch = await upload(world.client, program, csv_bytes([{"ref": "after-rotate"}]))
    assert status == 201
    (from_batch,) = await exported(world.client, batch["id"])
    assert kid_of(second["token"]) == kid_of(from_batch["token"]) == k2

    # k1 retired (by the rotation, and explicitly again): its vouchers still verify.
    async with connect(config) as conn:
        await keys.set_status(conn, k1, "retired")
    for voucher in (first, second):
        status, quoted = await quote(world, shop, token=voucher["token"])
        assert status == 200, (voucher, quoted)
    jwks = await (await world.client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {k1, k2}

    # k1 revoked (through the command an operator uses): refused at once, k2 unaffected.
    done = await run_pos(config, "keys", "revoke", k1)
    assert done.returncode == 0, done.stderr
    status, refused = await quote(world, shop, token=first["token"])
    assert (status, refused["code"]) == (422, "invalid_token")
    assert refused["detail"] == "这张券的签名密钥已被撤销，持券人需要领取新券。"  # noqa: RUF001
    status, _ = await quote(world, shop, token=second["token"])
    assert status == 200
    jwks = await (await world.client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {k2}

    # The holder of a k1 voucher: no QR is printed or shown; a reissue signs with k2.
    resp = await world.client.get(f"/v1/vouchers/{first['id']}/qr.png", headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (409, "reissue_required")
    page = await (await world.client.get(f"/v/{first['code']}")).text()
    assert "<svg" not in page and "重新发放" in page
    resp = await world.client.post(f"/v1/vouchers/{first['id']}/reissue", headers=ADMIN)
    reissued = await resp.json()
    assert kid_of(reissued["token"]) == k2
    status, quoted = await quote(world, shop, token=reissued["token"])
    assert status == 200 and quoted["voucher"]["balance"] == 30000

    # Revoking the active key: its vouchers stop, the next issue makes a new key.
    async with connect(config) as conn:
        await keys.set_status(conn, k2, "revoked")
    status, refused = await quote(world, shop, token=second["token"])
    assert (status, refused["code"]) == (422, "invalid_token")
    (third,) = await world.issue(program)
    k3 = kid_of(third["token"])
    assert k3 not in (k1, k2)
    status, _ = await quote(world, shop, token=third["token"])
    assert status == 200
