"""Voucher tokens: compact Ed25519-signed JWTs that fit a QR code.

Claims are ids and times only (iss, aud, jti = voucher id, prg = program id, iat, nbf, exp);
no names. Verification pins the algorithm to EdDSA, insists on an Ed25519 key for the
header's `kid`, and requires every claim. Whether the key is still trusted (retired keys
verify, revoked ones do not) and whether value remains is the database's business.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jwt
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


def sign(
    key: Ed25519PrivateKey, kid: str, *, issuer: str, audience: str, voucher_id: str,
    program_id: str, iat: int, nbf: int, exp: int,
) -> str:
    claims = {
        "iss": issuer, "aud": audience, "jti": voucher_id, "prg": program_id,
        "iat": iat, "nbf": nbf, "exp": exp,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE})


def _invalid(detail: str = "This voucher code is not genuine. Ask for another way to pay."
             ) -> Problem:
    return INVALID_TOKEN(detail)


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

    def verify(self, token: str) -> VoucherClaims:
        if not isinstance(token, str) or not token or len(token) > self.max_bytes:
            raise _invalid()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid() from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not kid:
            raise _invalid()
        # Explicit typing (RFC 8725 section 3.11): a JWS of another kind signed with the same
        # key, or one with no type at all, is never taken for a voucher.
        if header.get("typ") != TOKEN_TYPE:
            raise _invalid()
        key = self.lookup_key(kid)
        if not isinstance(key, Ed25519PublicKey):
            raise _invalid()
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=self.audience,
                issuer=self.issuer, leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise TOKEN_EXPIRED("This voucher has expired and can no longer be used."
            ) from None
        except jwt.ImmatureSignatureError:
            raise TOKEN_NOT_YET_VALID("This voucher cannot be used yet. Check its start date."
            ) from None
        except jwt.PyJWTError:
            raise _invalid() from None
        jti, prg = claims["jti"], claims["prg"]
        times = (claims["iat"], claims["nbf"], claims["exp"])
        if not isinstance(jti, str) or not isinstance(prg, str) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in times
        ):
            raise _invalid()
        return VoucherClaims(jti, prg, kid, *times)
