"""Forged, tampered, expired and withdrawn tokens are refused; genuine ones verify."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pos.config import Config
from pos.errors import Problem
from pos.signing import tokens
from pos.signing.keys import load_private_key
from tests.conftest import ADMIN, World, basket


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, body, sig = token.split(".")

    def pad(s: str) -> str:
        return s + "=" * (-len(s) % 4)

    return (json.loads(base64.urlsafe_b64decode(pad(head))),
            json.loads(base64.urlsafe_b64decode(pad(body))), sig)


async def _quote(world: World, shop: Any, token: str) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(
        "/v1/quotes", json={"token": token, "basket": basket(("food", 1, 1000))},
        headers=shop.headers())
    return resp.status, await resp.json()


@pytest.fixture
async def issued(world: World) -> tuple[Any, dict[str, str]]:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    status, _ = await _quote(world, shop, voucher["token"])
    assert status == 200
    return shop, voucher


async def test_token_is_small_and_carries_only_ids(issued: Any) -> None:
    _, voucher = issued
    header, claims, _ = _parts(voucher["token"])
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT" and header["kid"]
    assert set(claims) == {"iss", "aud", "jti", "prg", "iat", "nbf", "exp"}
    assert claims["jti"] == voucher["id"]
    assert len(voucher["token"]) < 400


async def test_forgeries_are_refused(world: World, issued: Any, config: Config) -> None:
    shop, voucher = issued
    token = voucher["token"]
    header, claims, sig = _parts(token)
    head_b64, body_b64, _ = token.split(".")

    tampered = ".".join([head_b64, _b64({**claims, "jti": claims["jti"][:-1] + "0"}), sig])
    alg_none = ".".join([_b64({**header, "alg": "none"}), body_b64, ""])
    public = (await world.client.get("/.well-known/jwks.json")).status
    assert public == 200
    jwks = await (await world.client.get("/.well-known/jwks.json")).json()
    public_x = jwks["keys"][0]["x"]
    hs256 = jwt.encode(claims, public_x.encode(), algorithm="HS256",
                       headers={"kid": header["kid"]})
    stranger = Ed25519PrivateKey.generate()
    unknown_kid = tokens.sign(stranger, "k-unknown", issuer=claims["iss"], audience=claims["aud"],
                              voucher_id=claims["jti"], program_id=claims["prg"],
                              iat=claims["iat"], nbf=claims["nbf"], exp=claims["exp"])
    wrong_key_same_kid = tokens.sign(
        stranger, header["kid"], issuer=claims["iss"], audience=claims["aud"],
        voucher_id=claims["jti"], program_id=claims["prg"], iat=claims["iat"],
        nbf=claims["nbf"], exp=claims["exp"])
    for forged in (tampered, alg_none, hs256, unknown_kid, wrong_key_same_kid, "not-a-token",
                   "a.b.c", "x" * 5000):
        status, problem = await _quote(world, shop, forged)
        assert status == 422, (forged[:40], problem)  # never 401: the till is fine
        assert problem["code"] in ("invalid_token", "validation_error"), problem


async def test_expired_and_wrong_audience(world: World, issued: Any, config: Config) -> None:
    shop, voucher = issued
    header, claims, _ = _parts(voucher["token"])
    key = load_private_key(config.data_dir, header["kid"])
    now = int(time.time())
    expired = tokens.sign(key, header["kid"], issuer=claims["iss"], audience=claims["aud"],
                          voucher_id=claims["jti"], program_id=claims["prg"], iat=claims["iat"],
                          nbf=now - 7200, exp=now - 3600)
    status, problem = await _quote(world, shop, expired)
    assert (status, problem["code"]) == (403, "token_expired")
    other_audience = tokens.sign(key, header["kid"], issuer=claims["iss"], audience="elsewhere",
                                 voucher_id=claims["jti"], program_id=claims["prg"],
                                 iat=claims["iat"], nbf=claims["nbf"], exp=claims["exp"])
    status, problem = await _quote(world, shop, other_audience)
    assert (status, problem["code"]) == (422, "invalid_token")


def _pos(config: Config, *args: str) -> str:
    env = {"POS_DATABASE_URL": config.database.url, "POS_DATA_DIR": str(config.data_dir),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "pos.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


async def test_retired_key_verifies_revoked_key_does_not(world: World, issued: Any,
                                                         config: Config) -> None:
    shop, voucher = issued
    old_kid = _parts(voucher["token"])[0]["kid"]
    assert "新的有效密钥" in _pos(config, "keys", "rotate")  # no locale: Chinese
    status, _ = await _quote(world, shop, voucher["token"])
    assert status == 200  # rotation retires the old key: its tokens still verify
    program = (await (await world.client.get(f"/v1/vouchers/{voucher['id']}",
                                             headers=ADMIN)).json())["program_id"]
    (newer,) = await world.issue(program)
    assert _parts(newer["token"])[0]["kid"] != old_kid
    _pos(config, "keys", "retire", old_kid)
    status, _ = await _quote(world, shop, voucher["token"])
    assert status == 200
    _pos(config, "keys", "revoke", old_kid)
    status, problem = await _quote(world, shop, voucher["token"])
    assert (status, problem["code"]) == (422, "invalid_token")
    status, _ = await _quote(world, shop, newer["token"])
    assert status == 200
    jwks = await (await world.client.get("/.well-known/jwks.json")).json()
    assert old_kid not in {k["kid"] for k in jwks["keys"]}


async def test_private_keys_are_readable_only_by_the_service(issued: Any,
                                                             config: Config) -> None:
    for pem in (config.data_dir / "keys").glob("*.pem"):
        assert pem.stat().st_mode & 0o077 == 0
        key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)


def test_a_token_is_read_once_and_strictly() -> None:
    """The till's path reads a token once (`tokens.parse`) and verifies that reading with
    one Ed25519 call; what PyJWT would refuse, or our tokens never carry, is refused."""
    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    claims = {"issuer": "pos", "audience": "tills", "voucher_id": "v", "program_id": "p",
              "iat": now, "nbf": now, "exp": now + 3600}
    token = tokens.sign(key, "k1", **claims)  # type: ignore[arg-type]
    verifier = tokens.TokenVerifier(issuer="pos", audience="tills", leeway=0, max_bytes=2048,
                                    lookup_key=lambda kid: key.public_key() if kid == "k1"
                                    else None)
    parsed = tokens.parse(token, 2048)
    assert (parsed.kid, parsed.claims["jti"]) == ("k1", "v")
    assert verifier.verify_parsed(parsed).voucher_id == "v"

    head, body, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    refused = [
        token + "=", f"{head}.{body}.{sig}.x", f"{head}.{body}", f"{head}={body}.{sig}",
        f"{_b64({**header, 'crit': ['exp']})}.{body}.{sig}",
        f"{_b64({**header, 'b64': False})}.{body}.{sig}",
        f"{_b64({**header, 'kid': 'k1; DROP'})}.{body}.{sig}",
        f"{_b64({**header, 'alg': 'HS256'})}.{body}.{sig}",
        f"{base64.urlsafe_b64encode(b'[1]').decode().rstrip('=')}.{body}.{sig}",
    ]
    for bad in refused:
        with pytest.raises(Problem):
            verifier.verify(bad)
    # Signed, but claims out of bounds: each refused with the right problem.
    for change, code in ((dict(exp=now - 10), "token_expired"),
                         (dict(nbf=now + 600), "token_not_yet_valid"),
                         (dict(iat=now + 600), "token_not_yet_valid"),
                         (dict(audience="elsewhere"), "invalid_token"),
                         (dict(issuer="someone"), "invalid_token")):
        other = tokens.sign(key, "k1", **{**claims, **change})  # type: ignore[arg-type]
        with pytest.raises(Problem) as caught:
            verifier.verify(other)
        assert caught.value.code == code
    missing = jwt.encode({"iss": "pos", "aud": "tills", "jti": "v", "iat": now, "nbf": now},
                         key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(Problem):
        verifier.verify(missing)
    forged = tokens.sign(Ed25519PrivateKey.generate(), "k1", **claims)  # type: ignore[arg-type]
    with pytest.raises(Problem):
        verifier.verify(forged)
