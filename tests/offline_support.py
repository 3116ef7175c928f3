"""A till that sells offline, in Python: what the tablet's offline.js does, for the service
tests (register a device key, fetch and check a kit, sign sales, forward them)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pos import codes
from tests.conftest import Shop


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class OfflineTill:
    client: TestClient[Any, Any]
    shop: Shop
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    kit: dict[str, Any] = field(default_factory=dict)

    @property
    def public_key(self) -> str:
        return b64url(self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    async def register(self) -> None:
        resp = await self.client.post("/v1/till/device-key", json={"public_key": self.public_key},
                                      headers=self.shop.headers())
        assert resp.status == 200, await resp.text()

    async def fetch_kit(self) -> dict[str, Any]:
        """Fetch the kit and check its signature against the key the till pins."""
        resp = await self.client.get("/v1/till/offline-kit", headers=self.shop.headers())
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        signed, pinned = answer["kit"], answer["public_key"]
        public = Ed25519PublicKey.from_public_bytes(unb64url(pinned))
        self.kit = jwt.decode(signed, public, algorithms=["EdDSA"])
        return self.kit

    def program(self, program_id: str) -> dict[str, Any]:
        return next(p for p in self.kit["programs"] if p["id"] == program_id)

    def sale(self, token: str | None, voucher_id: str, program_id: str, basket: dict[str, Any],
             covered: int, at_ms: int | None = None, code_hash: str | None = None
             ) -> tuple[str, dict[str, Any]]:
        """A signed sale: (idempotency key, request body). A typed code's sale passes
        `token=None` and the code's `code_hash` (see `typed_code_hash`)."""
        key = f"offline-{uuid.uuid4().hex}"
        credential = {"token": token} if token is not None else {"code_hash": code_hash}
        record = {
            "key": key, "till_id": self.shop.till_id, "kit_version": self.kit["version"],
            **credential, "program_id": program_id, "voucher_id": voucher_id,
            "occurred_at_ms": at_ms or int(time.time() * 1000), "basket": basket,
            "covered": covered,
        }
        text = json.dumps(record, separators=(",", ":"))
        return key, {"sale": text, "signature": b64url(self.key.sign(text.encode()))}

    async def forward(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post("/v1/offline-sales", json=body,
                                      headers=self.shop.headers(key))
        return resp.status, await resp.json()


def typed_code_hash(code: str) -> str:
    """What the tablet sends for a typed code: the service's hash of its body, base64url."""
    body = codes.normalise(code)
    assert body is not None
    return b64url(codes.code_hash(body))


def kit_voucher_of_code(kit: dict[str, Any], code: str) -> str | None:
    """The voucher id a kit gives a typed code, as the tablet looks it up (offline.js)."""
    body = codes.normalise(code)
    assert body is not None
    salt = unb64url(kit["codes"]["salt"])
    digest = b64url(hashlib.sha256(salt + codes.code_hash(body)).digest()
                    [:kit["codes"]["digest_bytes"]])
    for vouchers in kit["codes"]["programs"].values():
        if digest in vouchers:
            return str(vouchers[digest])
    return None
