// Money is integer minor units (fen for CNY) everywhere in the till, as in the API: this
// module only turns integers into text and typed text into integers, never via floats.

const SYMBOLS = { CNY: "¥" };

/** 12345 -> "¥123.45"; minor units of two decimals, the API's currencies so far. */
export function formatMoney(minor, currency = "CNY") {
  if (!Number.isSafeInteger(minor)) return "—";
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  const whole = Math.floor(abs / 100);
  const cents = String(abs % 100).padStart(2, "0");
  const grouped = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const symbol = SYMBOLS[currency];
  return symbol ? `${sign}${symbol}${grouped}.${cents}` : `${sign}${grouped}.${cents} ${currency}`;
}

/** "12", "12.5", "12.50", "¥12,5" -> 1250; anything else -> null. Parsed as text. A Chinese
 * input method's full-width digits (１２) and "。" for the point read as typed on a keypad. */
export function parseMoney(text) {
  const cleaned = String(text).normalize("NFKC").trim().replace(/^[¥￥]/, "").replace(/\s/g, "");
  const match = /^(\d{1,7})(?:[.,。](\d{0,2}))?$/.exec(cleaned);
  if (!match) return null;
  const fraction = (match[2] || "").padEnd(2, "0");
  return Number(match[1]) * 100 + Number(fraction);
}

/** Sum of integers, refusing anything that is not one (so a float can never sneak in). */
export function sumMinor(values) {
  let total = 0;
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new TypeError(`not an integer amount: ${v}`);
    total += v;
  }
  return total;
}
