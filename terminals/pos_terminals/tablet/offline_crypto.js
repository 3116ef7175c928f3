// Ed25519 in the browser's WebCrypto: checking the service's signatures (offline kits,
// voucher tokens) and signing offline sales with the tablet's own key. Compact JWS only.

const encoder = new TextEncoder();

export function b64urlDecode(text) {
  const base = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base + "=".repeat((4 - (base.length % 4)) % 4);
  const raw = atob(padded);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export function b64urlEncode(bytes) {
  let raw = "";
  for (const b of new Uint8Array(bytes)) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeJson(part) {
  return JSON.parse(new TextDecoder().decode(b64urlDecode(part)));
}

async function importPublic(raw) {
  return crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
}

/**
 * Check a compact JWS (alg EdDSA) against a raw Ed25519 public key (base64url), or a
 * function giving it from the header's kid. Resolves {header, payload}, or null when the
 * signature does not hold or the text is not a JWS.
 */
export async function verifyJws(text, keyOrLookup) {
  const parts = String(text || "").split(".");
  if (parts.length !== 3) return null;
  try {
    const header = decodeJson(parts[0]);
    if (header.alg !== "EdDSA") return null;
    const publicKey = typeof keyOrLookup === "function" ? keyOrLookup(header.kid) : keyOrLookup;
    if (!publicKey) return null;
    const ok = await crypto.subtle.verify(
      { name: "Ed25519" }, await importPublic(b64urlDecode(publicKey)),
      b64urlDecode(parts[2]), encoder.encode(`${parts[0]}.${parts[1]}`));
    return ok ? { header, payload: decodeJson(parts[1]) } : null;
  } catch {
    return null;
  }
}

/** A fresh key pair; the private half cannot be exported, even by this page. */
export async function newDeviceKey() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  return { pair, publicKey: b64urlEncode(raw) };
}

export async function signText(privateKey, text) {
  return b64urlEncode(await crypto.subtle.sign({ name: "Ed25519" }, privateKey, encoder.encode(text)));
}

/** SHA-256 of bytes (or of a text's UTF-8), as a Uint8Array. */
export async function sha256(data) {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
