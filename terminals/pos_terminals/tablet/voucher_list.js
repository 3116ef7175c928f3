// The vouchers of one sale, in the order they were scanned: one voucher is sent as it always
// was (`token` or `code`), several as `vouchers: [...]`, and the service splits the basket.

export const MAX_VOUCHERS = 10;

/** Whether two read credentials name the same voucher (the same token or manual code). */
export function sameVoucher(a, b) {
  return Boolean((a.token && a.token === b.token) || (a.code && a.code === b.code));
}

/** The request's voucher part: one voucher as before, several as a list. */
export function credentials(vouchers) {
  const plain = vouchers.map(({ token, code }) => (token ? { token } : { code }));
  return plain.length === 1 ? plain[0] : { vouchers: plain };
}

/**
 * Per voucher what a quote or a redemption says: {position, program_name, balance,
 * per_visit_cap, uses_left, part, balance_after}; a one-voucher answer has the same shape.
 */
export function answeredVouchers(answer) {
  if (!answer) return [];
  if (Array.isArray(answer.vouchers)) return answer.vouchers;
  if (!answer.voucher) return [];
  const v = answer.voucher;
  return [{ ...v, position: 1, part: answer.covered, balance_after: v.balance - answer.covered }];
}

/** The programs paying, for the pending screen and the receipt's header. */
export function programNames(answer) {
  const names = answeredVouchers(answer).map((v) => v.program_name);
  return [...new Set(names)].join(" + ");
}
