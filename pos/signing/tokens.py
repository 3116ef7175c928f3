"""Voucher tokens: compact Ed25519-signed JWTs that fit a QR code.

Claims are ids and times only (iss, aud, jti = voucher id, prg = program id, iat, nbf, exp);
no names. Verification pins the algorithm to EdDSA, insists on an Ed25519 key for the
header's `kid`, and requires every claim. Whether the key is still trusted (retired keys
verify, revoked ones do not) and whether value remains is the database's business.

Tokens are built by hand (`TokenSigner`): exactly the compact JWS PyJWT makes for the same
claims (a test holds the two equal), without PyJWT's per-token work. On the till's path a
token is read once (`parse`: strict
base64url, JSON objects, no `crit` or `b64` extensions, a well-formed `kid`) and verified
from that reading (`TokenVerifier.verify_parsed`) with one Ed25519 call, then the same
checks PyJWT makes (issuer, audience, exp/nbf/iat with the leeway, required claims), so
the voucher's row can be found before the signature is checked without reading it twice.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pos.errors import INVALID_TOKEN, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, Problem

TOKEN_TYPE = "JWT"  # noqa: S105 - the JOSE "typ", not a secret
ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("iss", "aud", "jti", "prg", "iat", "nbf", "exp")


@dataclasses.dataclass(frozen=True)
class VoucherClaims:
    voucher_id: str
    program_id: str
    kid: str
    iat: int
    nbf: int
    exp: int


class TokenSigner:
    """Signs voucher tokens with one key: the same compact JWS PyJWT would make, byte for
    byte, built by hand from a header segment encoded once, so a batch of 100,000 tokens
    costs little more than its Ed25519 signatures (PyJWT encodes and checks the header and
    looks the algorithm up again for every token)."""

    def __init__(self, key: Ed25519PrivateKey, kid: str, *, issuer: str,
                 audience: str) -> None:
        # PyJWT's layout: header keys sorted, claims in insertion order, compact separators
        # (json.dumps of a str is `_quote`, with its default ensure_ascii).
        header = json.dumps({"typ": TOKEN_TYPE, "alg": ALGORITHM, "kid": kid},
                            separators=(",", ":"), sort_keys=True)
        self._header = _b64(header.encode()) + b"."
        self._claims_head = f'{{"iss":{_quote(issuer)},"aud":{_quote(audience)},"jti":'
        self._sign = key.sign

    def sign(self, *, voucher_id: str, program_id: str, iat: int, nbf: int, exp: int) -> str:
        claims = (f'{self._claims_head}{_quote(voucher_id)},"prg":{_quote(program_id)},'
                  f'"iat":{int(iat)},"nbf":{int(nbf)},"exp":{int(exp)}}}')
        signing_input = self._header + _b64(claims.encode())
        return (signing_input + b"." + _b64(self._sign(signing_input))).decode("ascii")


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _b64(raw: bytes) -> bytes:
    """base64url without padding (RFC 7515)."""
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=")


def sign(
    key: Ed25519PrivateKey, kid: str, *, issuer: str, audience: str, voucher_id: str,
    program_id: str, iat: int, nbf: int, exp: int,
) -> str:
    """One token; for many with the same key, keep a `TokenSigner`."""
    return TokenSigner(key, kid, issuer=issuer, audience=audience).sign(
        voucher_id=voucher_id, program_id=program_id, iat=iat, nbf=nbf, exp=exp)


def _invalid(detail: str = "This voucher code is not genuine. Ask for another way to pay."
             ) -> Problem:
    return INVALID_TOKEN(detail)


# What our own kids look like (see pos.signing.keys.rotate); anything else never reaches SQL.
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


@dataclasses.dataclass(frozen=True)
class ParsedToken:
    """A token read but not yet trusted: enough to find the voucher's row and the key."""

    kid: str
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _segment(text: str) -> bytes:
    if not _SEGMENT.fullmatch(text) or len(text) % 4 == 1:
        raise _invalid()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _invalid() from None


def _object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise _invalid() from None
    if not isinstance(value, dict):
        raise _invalid()
    return value


def parse(token: object, max_bytes: int) -> ParsedToken:
    """Read a compact JWS once, without trusting it: refuses anything that is not three
    base64url segments of a JSON header (EdDSA, a well-formed kid, no extensions) and a
    JSON claims object."""
    if not isinstance(token, str) or not token or len(token) > max_bytes:
        raise _invalid()
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid()
    header = _object(_segment(parts[0]))
    kid = header.get("kid")
    if (header.get("alg") != ALGORITHM or not isinstance(kid, str) or not _KID.fullmatch(kid)
            or "crit" in header or "b64" in header):
        raise _invalid()
    # Explicit typing (RFC 8725 section 3.11): a JWS of another kind signed with the same
    # key, or one with no type at all, is never taken for a voucher.
    if header.get("typ") != TOKEN_TYPE:
        raise _invalid()
    claims = _object(_segment(parts[1]))
    signature = _segment(parts[2])
    return ParsedToken(kid, header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"),
                       signature)


def _time(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid()
    return value


class TokenVerifier:
    """Checks signatures and claims; finds public keys by `kid` through `lookup_key`."""

    def __init__(
        self, *, issuer: str, audience: str, leeway: int, max_bytes: int,
        lookup_key: Callable[[str], Ed25519PublicKey | None],
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.max_bytes = max_bytes
        self.lookup_key = lookup_key

    def verify_parsed(self, token: ParsedToken) -> VoucherClaims:
        """Verify a token `parse` read: one Ed25519 call on what was read, then the claims."""
        key = self.lookup_key(token.kid)
        if not isinstance(key, Ed25519PublicKey):
            raise _invalid()
        try:
            key.verify(token.signature, token.signing_input)
        except InvalidSignature:
            raise _invalid() from None
        claims = token.claims
        if any(name not in claims for name in REQUIRED_CLAIMS):
            raise _invalid()
        iat, nbf, exp = (_time(claims, name) for name in ("iat", "nbf", "exp"))
        # In PyJWT's order: times, then issuer and audience.
        now = time.time()
        if iat > now + self.leeway or nbf > now + self.leeway:
            raise TOKEN_NOT_YET_VALID("This voucher cannot be used yet. Check its start date.")
        if exp <= now - self.leeway:
            raise TOKEN_EXPIRED("This voucher has expired and can no longer be used.")
        audience = claims["aud"]
        audiences = [audience] if isinstance(audience, str) else audience
        if (claims["iss"] != self.issuer or not isinstance(audiences, list)
                or not all(isinstance(a, str) for a in audiences)
                or self.audience not in audiences):
            raise _invalid()
        jti, prg = claims["jti"], claims["prg"]
        if not isinstance(jti, str) or not isinstance(prg, str):
            raise _invalid()
        return VoucherClaims(jti, prg, token.kid, iat, nbf, exp)

    def verify(self, token: str) -> VoucherClaims:
        return self.verify_parsed(parse(token, self.max_bytes))
