// Selling without the network: the signed offline kit, every check a sale needs made on
// the tablet, each offline sale signed and kept, then forwarded in order once online.
//
// The kit is checked against the service's kit key, pinned at pairing, every time it is
// used; a kit past its `exp`, or for another till, is not used. A sale is refused here
// unless the voucher's signature (or its typed code), dates, status, program and rules all
// allow it and it stays within the published limits (docs/offline.md); the service checks
// it all again. A forwarded sale the service refuses stays listed for the cashier until
// acknowledged; an answer that is not the service's own refusal is retried, never taken
// for one.

import { call, currentLanguage, NetworkError } from "./api.js";
import { normaliseCode } from "./codes.js";
import { b64urlDecode, b64urlEncode, newDeviceKey, sha256, signText, verifyJws } from "./offline_crypto.js";
import { quoteOffline } from "./offline_rules.js";
import { deviceKey, sales } from "./offline_store.js";

const KIT = "pos.offline-kit";

// Problems found on the tablet carry no sentence: the till's tables (offline_i18n.js) put
// them into the cashier's language, by `code` and, where a code has several, `reason`.
const problem = (code, extra = {}) => ({ problem: { code, ...extra } });

/**
 * The voucher a typed code names in the kit: {voucherId, programId, codeHash} or {problem}.
 * The kit carries no code, only the first bytes of SHA-256(kit salt || SHA-256(code body)).
 */
async function voucherOfCode(kit, typed) {
  const body = normaliseCode(typed);
  if (!body) return problem("invalid_token", { reason: "malformed_code" });
  const codes = kit.codes;
  if (!codes) return problem("offline_code_needs_network");
  const codeHash = await sha256(body);
  const salt = b64urlDecode(codes.salt);
  const salted = new Uint8Array(salt.length + codeHash.length);
  salted.set(salt);
  salted.set(codeHash, salt.length);
  const digest = b64urlEncode((await sha256(salted)).slice(0, codes.digest_bytes));
  for (const [programId, vouchers] of Object.entries(codes.programs)) {
    const voucherId = vouchers[digest];
    if (voucherId) return { voucherId, programId, codeHash: b64urlEncode(codeHash) };
  }
  if (codes.replaced.includes(digest)) return problem("voucher_revoked", { reason: "replaced" });
  // A program left out of the kit (too many vouchers) may hold this code.
  if (!codes.complete) return problem("offline_code_needs_network");
  return problem("invalid_token", { reason: "unknown_code" });
}

/** The local date (YYYY-MM-DD) of `ms` in time zone `tz`: the program's days. */
export function localDay(ms, tz) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
}

// Statuses after which the same request may well get another answer: not a refusal.
const RETRY_STATUSES = new Set([401, 408, 409, 423, 425, 429]);

/**
 * What one answer to a forwarded sale means: "forwarded" (booked, now or before),
 * "refused" (the service's own problem+json: a definite no), or "retry" (no definite
 * answer: the service busy or down, a proxy's or captive portal's page, a body cut off).
 */
export function forwardOutcome(answer) {
  const body = answer.body || {};
  if (answer.status === 201 && typeof body.id === "string") return "forwarded";
  const isProblem = typeof body.code === "string" && body.code !== "http_error"
    && body.status === answer.status;
  if (answer.status >= 400 && answer.status < 500 && !RETRY_STATUSES.has(answer.status) && isProblem) {
    return "refused";
  }
  return "retry";
}

export class OfflineTill {
  /** `getTill()` gives the paired till ({till_id, secret, kit_public_key, ...}). */
  constructor(getTill) {
    this.getTill = getTill;
    this.forwarding = null;
  }

  // -- the tablet's own key ------------------------------------------------------------

  /** A new key pair for a pairing; its public half goes to the service with the code. */
  async newDeviceKey() {
    const { pair, publicKey } = await newDeviceKey();
    await deviceKey.put({ pair, publicKey });
    return publicKey;
  }

  /** Make sure the service knows this tablet's key (tablets paired with a pasted secret,
   * or before offline selling existed, register it here). */
  async ensureDeviceKey() {
    const till = this.getTill();
    const kept = await deviceKey.get();
    if (kept && till.device_key === kept.publicKey) return true;
    const publicKey = kept ? kept.publicKey : await this.newDeviceKey();
    const answer = await call("POST", "/v1/till/device-key", {
      secret: till.secret, body: { public_key: publicKey } });
    if (answer.status !== 200) return false;
    till.device_key = publicKey;
    return true;
  }

  // -- the kit -------------------------------------------------------------------------

  /** Fetch a fresh kit; kept only if its signature holds. Throws NetworkError offline. */
  async refreshKit() {
    const till = this.getTill();
    const answer = await call("GET", "/v1/till/offline-kit", { secret: till.secret });
    if (answer.status !== 200) return false;
    // Pinned at pairing; a tablet paired with a pasted secret pins it on its first kit.
    if (!till.kit_public_key) till.kit_public_key = answer.body.public_key;
    if (!(await verifyJws(answer.body.kit, till.kit_public_key))) return false;
    localStorage.setItem(KIT, answer.body.kit);
    return true;
  }

  /** The kept kit, checked now: {kit} or {problem}. */
  async kit(now = Date.now()) {
    const till = this.getTill();
    const text = localStorage.getItem(KIT);
    if (!text) return problem("offline_kit_missing");
    const checked = await verifyJws(text, till.kit_public_key);
    if (!checked || checked.payload.till_id !== till.till_id) {
      return problem("offline_kit_invalid");
    }
    if (now >= checked.payload.exp * 1000) {
      return problem("offline_kit_expired");
    }
    return { kit: checked.payload };
  }

  // -- one sale ------------------------------------------------------------------------

  /**
   * Every check of an offline sale: {quote, program, claims, kit} or {problem}.
   * `voucher` is {token} or {code}; `lines` as sent to the service.
   */
  async check(voucher, lines, identityConfirmed, now = Date.now()) {
    const { kit, problem: kitProblem } = await this.kit(now);
    if (kitProblem) return { problem: kitProblem };
    const seconds = now / 1000;
    let claims;
    let codeHash = null;
    if (voucher.token) {
      const keys = new Map(kit.jwks.keys.map((k) => [k.kid, k.x]));
      const token = await verifyJws(voucher.token,
        (kid) => (kit.revoked_kids.includes(kid) ? null : keys.get(kid)));
      if (!token) return problem("invalid_token");
      claims = token.payload;
      const leeway = kit.tokens.leeway;
      if (claims.iss !== kit.tokens.issuer || claims.aud !== kit.tokens.audience) {
        return problem("invalid_token");
      }
      if (seconds > claims.exp + leeway) return problem("token_expired");
      if (seconds < claims.nbf - leeway) return problem("token_not_yet_valid");
      // A reissued voucher takes only its current card; the old one is refused from the
      // first kit made after the reissue.
      const current = (kit.reissued || {})[claims.jti];
      if (current && (current[0] !== token.header.kid || current[1] !== claims.iat)) {
        return problem("voucher_revoked", { reason: "replaced" });
      }
    } else {
      const found = await voucherOfCode(kit, voucher.code);
      if (found.problem) return found;
      claims = { jti: found.voucherId, prg: found.programId };
      codeHash = found.codeHash;
    }
    const blocked = kit.blocked[claims.jti];
    if (blocked) return problem(`voucher_${blocked}`);
    const program = kit.programs.find((p) => p.id === claims.prg);
    if (!program) return problem("not_accepted_here");
    if (!program.offline) return problem("offline_not_allowed");
    if (seconds < program.valid_from || seconds >= program.valid_until) {
      return problem("voucher_expired", { reason: "program_dates" });
    }
    if (program.require_identity && !identityConfirmed) return problem("identity_check_required");
    const quote = quoteOffline(program, lines, kit.merchant_id);
    if (quote.eligible_total === 0) return problem("no_eligible_lines", { lines: quote.outcomes });
    const till = this.getTill();
    const kept = await sales.all();
    const day = localDay(now, program.timezone);
    const live = kept.filter((s) => s.status !== "refused" && s.till_id === till.till_id);
    if (live.some((s) => s.voucher_id === claims.jti && s.day === day)) {
      return problem("offline_once_a_day", { lines: quote.outcomes });
    }
    // Everything not yet sent counts, whatever kit it was made with, so a kit fetched
    // between two offline stretches never adds to what is still unknown to the service.
    const taken = live.filter((s) => s.program_id === program.id
      && (s.status === "waiting" || s.kit_version === kit.version))
      .reduce((sum, s) => sum + s.covered, 0);
    if (taken + quote.covered > program.max_till_total) {
      return problem("offline_till_limit", { lines: quote.outcomes });
    }
    return { quote, program, claims, kit, day, codeHash };
  }

  /** Sign and keep a checked sale; resolves the kept record (its key is the receipt id). */
  async record(checked, voucher, basket, identityConfirmed, now = Date.now()) {
    const till = this.getTill();
    const key = `offline-${crypto.randomUUID()}`;
    // A typed code travels as the hash the service keeps of it, never as typed.
    const credential = checked.codeHash ? { code_hash: checked.codeHash } : { token: voucher.token };
    const sale = {
      key, till_id: till.till_id, kit_version: checked.kit.version, ...credential,
      program_id: checked.program.id, voucher_id: checked.claims.jti, occurred_at_ms: now,
      basket, covered: checked.quote.covered, identity_confirmed: Boolean(identityConfirmed),
    };
    const text = JSON.stringify(sale);
    const kept = await deviceKey.get();
    if (!kept) throw new Error("no device key");
    const record = {
      key, till_id: till.till_id, kit_version: sale.kit_version, program_id: sale.program_id,
      voucher_id: sale.voucher_id, day: checked.day, covered: sale.covered,
      text, signature: await signText(kept.pair.privateKey, text), status: "waiting",
      answer: null, at: now,
      // What the cashier is shown should the service refuse the sale (never the token).
      currency: checked.program.currency, program_name: checked.program.name,
      basket_total: basket.lines.reduce((sum, l) => sum + l.unit_price * l.quantity, 0),
      typed: Boolean(checked.codeHash),
    };
    record.seq = await sales.add(record);
    return record;
  }

  // -- forwarding ----------------------------------------------------------------------

  /** Refused sales the cashier has not acknowledged yet, oldest first. */
  async refusedToShow() {
    const till = this.getTill();
    return (await sales.all()).filter((s) => s.status === "refused" && !s.acknowledged
      && s.till_id === till?.till_id);
  }

  /** The cashier has seen this refused sale and acted on it; it stays kept, unlisted. */
  async acknowledge(seq) {
    const found = (await sales.all()).find((s) => s.seq === seq);
    if (!found || found.status !== "refused") return;
    found.acknowledged = true;
    found.acknowledged_at = Date.now();
    await sales.put(found);
  }

  async waiting() {
    const till = this.getTill();
    return (await sales.all()).filter((s) => s.status === "waiting" && s.till_id === till?.till_id);
  }

  /**
   * Send every waiting sale, oldest first, each with its own key (a repeat gets the first
   * answer). Stops at the first sale without a definite answer, to keep the order.
   * Resolves {forwarded, refused, left, unauthorized, network}.
   */
  forward(onProgress = () => {}) {
    if (!this.forwarding) {
      this.forwarding = this._forward(onProgress).finally(() => { this.forwarding = null; });
    }
    return this.forwarding;
  }

  async _forward(onProgress) {
    const result = { forwarded: 0, refused: 0, left: 0, unauthorized: false, network: false };
    const till = this.getTill();
    const waiting = await this.waiting();
    for (const [i, sale] of waiting.entries()) {
      onProgress({ sending: true, left: waiting.length - i });
      let answer;
      try {
        answer = await call("POST", "/v1/offline-sales", {
          secret: till.secret, key: sale.key, body: { sale: sale.text, signature: sale.signature } });
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        result.left = waiting.length - i;
        result.network = true;
        return result;
      }
      if (answer.status === 401) {
        result.unauthorized = true;
        result.left = waiting.length - i;
        return result;
      }
      const outcome = forwardOutcome(answer);
      if (outcome === "retry") {
        result.left = waiting.length - i;
        return result;
      }
      sale.status = outcome;
      sale.answer = answer.body;
      if (outcome === "refused") {
        // The service wrote `detail` in the language the till asked in; kept with it so
        // it is only shown in that language (offline_i18n.js has both for known codes).
        sale.answer_lang = currentLanguage();
        sale.acknowledged = false;
      }
      await sales.put(sale);
      if (outcome === "forwarded") result.forwarded += 1; else result.refused += 1;
    }
    return result;
  }
}
