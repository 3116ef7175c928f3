-- A voucher's history in the console (`pos.storage.console_lists`) reads its issue, top-up,
-- expiry and void entries by `voucher_id`, which no index covered: with a million vouchers
-- every look-up read the whole ledger. A partial index over those kinds finds them; the
-- two entries each redemption writes ('redeem') are not in it, so the till's path pays
-- nothing for it.
CREATE INDEX ledger_voucher_changes ON ledger_entries (voucher_id)
    WHERE kind IN ('issue', 'topup', 'expire', 'void');
