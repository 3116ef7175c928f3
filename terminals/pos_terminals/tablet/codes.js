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
