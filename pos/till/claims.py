"""Running a till's write under its idempotency claim (`pos.storage.till_lookup`).

A redemption takes one pooled connection and claims its key, moves the value and stores the
answer in one transaction (one commit per sale) unless something remote must happen in
between, when the claim is committed first as a lease. Other writes (voids, sales paid by
several vouchers) claim the key in its own commit and open their own transactions.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from asyncpg.transaction import Transaction

from pos.db.pool import Connection, Executor
from pos.service.services import Services
from pos.storage import till_lookup
from pos.storage.till_lookup import VoucherState
from pos.till.voucher_lookup import Locator, Till


class Claimed:
    """The request's connection and, on the one-transaction path, the transaction that holds
    its idempotency claim: the claim then commits with the change it answers (one commit
    per sale). Before anything remote (a channel call) it is committed on its own
    (`commit_claim`), as a lease, so no remote call ever runs inside a transaction."""

    def __init__(self, conn: Connection | None, tx: Transaction | None) -> None:
        self.conn, self.tx = conn, tx

    def db(self, services: Services) -> Executor:
        return self.conn if self.conn is not None else services.pool

    async def commit_claim(self) -> None:
        if self.tx is not None:
            tx, self.tx = self.tx, None
            await tx.commit()


async def with_claim(
    services: Services, till: Till, key: str, digest: bytes, work: Any,
    where: Locator | None = None,
) -> tuple[int, dict[str, Any]]:
    """Run `work(owner, state)` under an idempotency claim committed on its own, `state`
    being the voucher at `where` loaded with the claim; replay a finished request's answer.
    For work that opens its own transactions (voids, sales paid by several vouchers)."""
    async def run(owner: str, state: VoucherState | None, _: Claimed
                  ) -> tuple[int, dict[str, Any]]:
        result: tuple[int, dict[str, Any]] = await work(owner, state)
        return result

    return await with_claim_in_transaction(services, till, key, digest, run, where)


async def with_claim_in_transaction(
    services: Services, till: Till, key: str, digest: bytes, work: Any,
    where: Locator | None = None, one_transaction: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Run `work(owner, state, claimed)` under an idempotency claim, `state` being the
    voucher at `where` loaded with the claim; replay a finished request's answer."""
    if not one_transaction:
        return await _claimed_run(services, till, key, digest, work, where, Claimed(None, None))
    async with services.pool.acquire() as conn:
        claimed = Claimed(conn, conn.transaction())
        assert claimed.tx is not None
        await claimed.tx.start()
        try:
            result = await _claimed_run(services, till, key, digest, work, where, claimed)
        except BaseException:
            if claimed.tx is not None:  # the claim goes with it: nothing to release
                await claimed.tx.rollback()
            raise
        await claimed.commit_claim()
        return result


async def _claimed_run(
    services: Services, till: Till, key: str, digest: bytes, work: Any,
    where: Locator | None, claimed: Claimed,
) -> tuple[int, dict[str, Any]]:
    owner = str(uuid.uuid4())
    lease = services.config.redemption.idempotency_lease_seconds
    state = None
    db = claimed.db(services)
    if where is None:
        claim = await till_lookup.claim_key(db, till.till_id, key, digest, owner, lease)
    else:
        claim, state = await till_lookup.claim_and_load(
            db, till_id=till.till_id, key=key, request_hash=digest, owner=owner,
            lease_seconds=lease, merchant_id=till.merchant_id, voucher_id=where.voucher_id,
            code_hash=where.code_hash, kid=where.kid)
    if not claim.owned:
        assert claim.response_status is not None and claim.response_body is not None
        return claim.response_status, claim.response_body
    try:
        result: tuple[int, dict[str, Any]] = await work(owner, state, claimed)
    except BaseException:
        if claimed.tx is None:
            # Nothing was written (pos_redeem/pos_void commit the answer with the change),
            # so the committed claim is freed for a retry. Shielded: a cancelled request
            # still cleans up.
            await asyncio.shield(till_lookup.release_key(services.pool, till.till_id, key,
                                                         owner))
        raise
    return result
