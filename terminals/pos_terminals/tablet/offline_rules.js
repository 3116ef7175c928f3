// A restriction rule's decision as data, applied on the tablet: the JavaScript twin of
// pos/plugin/offline_rules.py (`decide_line`) and pos/till/offline_basket.py (`quote`).
// The checks run in the same order as there; tests run both on many baskets and compare.

/** An ISBN-13 (Bookland EAN): 13 digits, prefix 978/979, check digit right. */
export function isIsbn13(code) {
  if (!/^\d{13}$/.test(code) || !["978", "979"].includes(code.slice(0, 3))) return false;
  let total = 0;
  for (let i = 0; i < 13; i++) total += Number(code[i]) * (i % 2 ? 3 : 1);
  return total % 10 === 0;
}

/** The `why` code of one line under one described rule; only "covered" is eligible. */
export function decideLine(rule, line, merchantId) {
  const category = line.category;
  if ((rule.denied || []).includes(category)) return "never";
  if ((rule.excluded || []).includes(category)) return "excluded";
  if (rule.allowed !== null && rule.allowed !== undefined && !rule.allowed.includes(category)) {
    return "not_covered";
  }
  if (rule.merchants !== null && rule.merchants !== undefined
      && !rule.merchants.includes(merchantId)) return "not_this_shop";
  const gtin = line.gtin ?? null;
  if (rule.gtin_check === "isbn13" && gtin !== null && !isIsbn13(gtin)) return "not_isbn";
  if (rule.gtin_check === "approved") {
    if (rule.list_version === null || rule.list_version === undefined) return "no_list";
    if (!gtin) return "no_gtin";
    if (!(rule.approved_gtins || []).includes(gtin)) return "not_listed";
  }
  return "covered";
}

/**
 * What the voucher of a kit `program` covers in `lines` ({category, gtin, quantity,
 * unit_price, description}): per line the first rule (in the program's order) that denies
 * decides; then the eligible total, capped per visit, per session and per offline sale.
 */
export function quoteOffline(program, lines, merchantId) {
  const outcomes = lines.map((line, i) => {
    const verdicts = program.rules.map((rule) => [rule.rule, decideLine(rule, line, merchantId)]);
    const denial = verdicts.find(([, why]) => why !== "covered");
    const [rule, why] = denial || verdicts[0];
    const total = line.quantity * line.unit_price;
    return { ...line, line_no: i + 1, line_total: total, eligible: why === "covered", rule, why };
  });
  const eligible = outcomes.filter((o) => o.eligible).reduce((sum, o) => sum + o.line_total, 0);
  let wanted = eligible;
  if (program.per_visit_cap !== null) wanted = Math.min(wanted, program.per_visit_cap);
  if (program.unit_price !== null) wanted = Math.min(wanted, program.unit_price);
  const covered = Math.min(wanted, program.max_per_sale);
  return { outcomes, eligible_total: eligible, covered, capped_offline: wanted > covered };
}
