"""What restriction rules may read of the data the core keeps, answered from the database.

Rules get this (as `RuleContext.reads`, the `pos.plugin.types.RuleReads` protocol) instead
of the connection pool: a plugin can ask these read-only questions and nothing else, and
each answer is one statement, so one snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

from pos.db.pool import Executor
from pos.plugin.types import ApprovedProducts
from pos.storage import approved_products as approved_store


class DatabaseRuleReads:
    """`RuleReads` over the service's database."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def approved_products(self, program_id: str, gtins: Sequence[str] | None
                                ) -> ApprovedProducts:
        version, listed = await approved_store.lookup(self._db, program_id, gtins)
        return ApprovedProducts(version=version, listed=frozenset(listed))
