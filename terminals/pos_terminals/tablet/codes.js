// What the cashier (or a keyboard-like barcode scanner) typed or the camera read.

const JWT = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

/**
 * A voucher credential from raw text: {token} when it holds a signed token (bare, or inside
 * a link printed on a card), else {code} for a manual code; null when empty.
 */
export function voucherCredential(text) {
  const raw = String(text || "").trim();
  if (!raw) return null;
  const token = JWT.exec(raw);
  if (token) return { token: token[0] };
  return { code: raw.toUpperCase() };
}

/** GTIN-8/12/13/14 with a correct check digit (a misread barcode fails here). */
export function gtinValid(text) {
  if (!/^(\d{8}|\d{12,14})$/.test(text)) return false;
  const digits = text.split("").map(Number);
  const check = digits.pop();
  let sum = 0;
  digits.reverse().forEach((d, i) => { sum += d * (i % 2 === 0 ? 3 : 1); });
  return (10 - (sum % 10)) % 10 === check;
}

/** A fresh idempotency key for one write. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Manual voucher codes as the service reads them (pos/codes.py): twelve symbols of
// Crockford's base 32 and a Luhn mod-32 check symbol; O reads as 0, I and L as 1, U as V.
const CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const READS_AS = { O: "0", I: "1", L: "1", U: "V" };

/** Luhn mod 32 over a code's body: from the right, every other symbol's value doubled. */
export function checkSymbol(body) {
  let total = 0;
  [...body].reverse().forEach((ch, i) => {
    const v = CODE_ALPHABET.indexOf(ch);
    total += i % 2 === 0 ? Math.floor((2 * v) / 32) + ((2 * v) % 32) : v;
  });
  return CODE_ALPHABET[(32 - (total % 32)) % 32];
}

/** The code's twelve-symbol body when `typed` is a well-formed code, else null. Full-width
 * forms (ＡＢ１－２, from an input method in full-width mode) read as the same symbols. */
export function normaliseCode(typed) {
  const cleaned = [...String(typed || "").normalize("NFKC").toUpperCase()]
    .filter((ch) => !" -_".includes(ch)).map((ch) => READS_AS[ch] || ch).join("");
  if (cleaned.length !== 13 || [...cleaned].some((ch) => !CODE_ALPHABET.includes(ch))) return null;
  const body = cleaned.slice(0, 12);
  return checkSymbol(body) === cleaned[12] ? body : null;
}

/** A code's body as printed on the card: XXXX-XXXX-XXXX-C. */
export function formatCode(body) {
  return `${body.slice(0, 4)}-${body.slice(4, 8)}-${body.slice(8)}-${checkSymbol(body)}`;
}
