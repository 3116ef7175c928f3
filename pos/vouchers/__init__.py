"""Vouchers from program to holder: program definitions, beneficiary lists, credits,
issuing, and a voucher's life after issue (reissue, top-up, expiry)."""
