"""A till's offline kit (`GET /v1/till/offline-kit`): everything the tablet needs to check a
voucher and decide a basket without the network, signed with the service's kit key.

The kit holds the voucher keys (JWKS) and the revoked ones, the vouchers to refuse
(suspended, revoked, expired, nothing left), the current token of every reissued voucher
(so an old card is refused once the till has this kit), the manual codes of the vouchers
it may sell to (as salted, shortened digests: `codes`), and for each program the merchant
accepts either its rules as data with its offline limits, or why it is online-only. Each
kit is kept (`offline_kits`), so a forwarded sale is judged against the kit it was made
with.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

from pos.messages import NEVER_RULE
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import ProgramView, RuleContext
from pos.service.services import Services
from pos.signing import keys, kit_signing
from pos.storage import offline_kits as store
from pos.storage.offline_kits import KitProgram, OfflineLimits
from pos.till.rule_reads import DatabaseRuleReads
from pos.till.voucher_lookup import Till


def _limits(services: Services, program: KitProgram) -> OfflineLimits:
    if program.limits is not None:
        return program.limits
    cfg = services.config.offline
    return OfflineLimits(cfg.enabled, cfg.max_per_sale, cfg.max_till_total,
                         cfg.max_offline_seconds)


async def _program_entry(services: Services, till: Till, program: KitProgram
                         ) -> dict[str, Any]:
    limits = _limits(services, program)
    entry: dict[str, Any] = {
        "id": program.id, "name": program.name, "currency": program.currency,
        "timezone": services.config.redemption.timezone,
        "valid_from": int(program.valid_from.timestamp()),
        "valid_until": int(program.valid_until.timestamp()),
        "per_visit_cap": program.per_visit_cap, "unit_price": program.unit_price,
        "require_identity": program.require_identity,
        "max_per_sale": limits.max_per_sale, "max_till_total": limits.max_till_total,
        "max_offline_seconds": limits.max_offline_seconds,
        "offline": False, "online_only": None, "rules": [],
    }
    if not limits.enabled or limits.max_per_sale <= 0 or limits.max_till_total <= 0:
        entry["online_only"] = "offline_disabled"
        return entry
    if "cash" not in program.channels:
        # The remainder of an offline sale is paid in cash; other channels need the network.
        entry["online_only"] = "channel_needs_network"
        return entry
    ctx = RuleContext(
        program=ProgramView(id=program.id, name=program.name, currency=program.currency,
                            restrictions=program.restrictions,
                            rule_settings=program.rule_settings,
                            require_identity=program.require_identity),
        merchant_id=till.merchant_id, till_id=till.till_id, identity_confirmed=False,
        settings={}, reads=DatabaseRuleReads(services.pool))
    rules = []
    for name in program.restrictions:
        described = await services.plugins.describe_offline(name, ctx)
        if described is None:
            entry["online_only"] = f"rule:{name}"
            return entry
        rules.append(described.as_dict())
    never = services.config.redemption.never_pay
    if never:
        # The core's never-list holds offline too: last, so a program's own refusal speaks
        # first, as online.
        rules.append(OfflineRule(rule=NEVER_RULE, denied=tuple(sorted(never))).as_dict())
    entry.update(offline=True, rules=rules)
    return entry


async def _codes(services: Services, program_ids: list[str]) -> dict[str, Any]:
    """The typed codes a till may take offline: digest -> voucher id, per program.

    A program whose vouchers would take the kit past `[offline] kit_max_codes` is left out
    whole (`complete` is then false and the till says a typed code needs the network), so
    a cashier never meets a program whose codes work offline for some holders only."""
    salt = secrets.token_bytes(kit_signing.KIT_CODE_SALT_BYTES)
    counts = await store.voucher_counts(services.pool, program_ids)
    room = services.config.offline.kit_max_codes
    included: list[str] = []
    # Smallest programs first: as many programs as fit take typed codes offline.
    for program_id in sorted(program_ids, key=lambda p: (counts.get(p, 0), p)):
        if counts.get(program_id, 0) <= room:
            room -= counts.get(program_id, 0)
            included.append(program_id)
    found = await store.kit_codes(services.pool, included) if included else []
    digests = [kit_signing.kit_code_digest(salt, c.code_hash) for c in found]
    # Two codes of one kit sharing a digest could not be told apart: both need the network.
    shared = {d for d, n in Counter(digests).items() if n > 1}
    programs: dict[str, dict[str, str]] = {p: {} for p in included}
    for code, digest in zip(found, digests, strict=True):
        if digest not in shared:
            programs[code.program_id][digest] = code.voucher_id
    retired = await store.retired_code_hashes(services.pool, included) if included else []
    return {"salt": kit_signing.b64url(salt), "digest_bytes": kit_signing.KIT_CODE_DIGEST_BYTES,
            "complete": len(included) == len(program_ids) and not shared,
            "programs": programs,
            "replaced": sorted(kit_signing.kit_code_digest(salt, h) for h in retired)}


async def build_kit(services: Services, till: Till) -> dict[str, Any]:
    """A fresh signed kit for this till: `{"kit": <compact JWS>, "version", "expires_at"}`."""
    programs = await store.merchant_programs(services.pool, till.merchant_id)
    entries = [await _program_entry(services, till, p) for p in programs]
    usable = [e for e in entries if e["offline"]]
    expires_in = min((e["max_offline_seconds"] for e in usable),
                     default=services.config.offline.max_offline_seconds)
    # Kept with the kit too: a forwarded sale of a voucher it lists is refused.
    blocked = await store.blocked_vouchers(services.pool, [p.id for p in programs])
    issued = await store.save_kit(
        services.pool, till.till_id, expires_in,
        sum(e["max_till_total"] for e in usable), {e["id"]: e for e in usable},
        list(blocked))
    await services.public_keys.load_all(services.pool)
    tokens = services.config.tokens
    kit = {
        "typ": kit_signing.KIT_TYPE, "version": issued.version, "till_id": till.till_id,
        "merchant_id": till.merchant_id,
        "iat": int(issued.issued_at.timestamp()), "exp": int(issued.expires_at.timestamp()),
        "refresh_seconds": services.config.offline.kit_refresh_seconds,
        "tokens": {"issuer": tokens.issuer, "audience": tokens.audience,
                   "leeway": tokens.leeway_seconds},
        "jwks": keys.jwks(await keys.list_keys(services.pool)),
        "revoked_kids": await store.revoked_kids(services.pool),
        "blocked": blocked,
        # A reissued voucher's current token (kid, iat): any other token of it is refused.
        "reissued": await store.reissued_tokens(services.pool, [e["id"] for e in usable]),
        "codes": await _codes(services, [e["id"] for e in usable]),
        "one_sale_per_voucher_per_day": True,
        "programs": entries,
    }
    key = kit_signing.kit_key(services.data_dir)
    # The public key is repeated for tablets paired before they learnt it at pairing; a
    # tablet that holds a key already checks against the one it holds.
    return {"kit": kit_signing.sign_kit(key, kit), "version": issued.version,
            "expires_at": issued.expires_at.isoformat(),
            "public_key": kit_signing.public_text(key)}
