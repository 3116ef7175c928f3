// Selling without the network: the signed offline kit, every check a sale needs made on
// the tablet, each offline sale signed and kept, then forwarded in order once online.
//
// The kit is checked against the service's kit key, pinned at pairing, every time it is
// used; a kit past its `exp`, or for another till, is not used. A sale is refused here
// unless the voucher's signature, dates, status, program and rules all allow it and it
// stays within the published limits (docs/offline.md); the service checks it all again.

import { call, NetworkError } from "./api.js";
import { newDeviceKey, signText, verifyJws } from "./offline_crypto.js";
import { quoteOffline } from "./offline_rules.js";
import { deviceKey, sales } from "./offline_store.js";

const KIT = "pos.offline-kit";

const problem = (code, detail, extra = {}) => ({ problem: { code, detail, ...extra } });

/** The local date (YYYY-MM-DD) of `ms` in time zone `tz`: the program's days. */
export function localDay(ms, tz) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
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
    if (!text) return problem("offline_kit_missing", "This till has no offline kit yet. Connect to the network once.");
    const checked = await verifyJws(text, till.kit_public_key);
    if (!checked || checked.payload.till_id !== till.till_id) {
      return problem("offline_kit_invalid", "The offline kit on this tablet is not genuine, so nothing can be sold offline.");
    }
    if (now >= checked.payload.exp * 1000) {
      return problem("offline_kit_expired", "This till has been offline too long. Connect to the network to sell again.");
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
    if (!voucher.token) {
      return problem("offline_code_needs_network", "A typed voucher code needs the network. Scan the QR code instead.");
    }
    const keys = new Map(kit.jwks.keys.map((k) => [k.kid, k.x]));
    const token = await verifyJws(voucher.token,
      (kid) => (kit.revoked_kids.includes(kid) ? null : keys.get(kid)));
    if (!token) return problem("invalid_token", "This voucher code is not genuine. Ask for another way to pay.");
    const claims = token.payload;
    const seconds = now / 1000;
    const leeway = kit.tokens.leeway;
    if (claims.iss !== kit.tokens.issuer || claims.aud !== kit.tokens.audience) {
      return problem("invalid_token", "This voucher code is not genuine. Ask for another way to pay.");
    }
    if (seconds > claims.exp + leeway) return problem("token_expired", "This voucher has expired and can no longer be used.");
    if (seconds < claims.nbf - leeway) return problem("token_not_yet_valid", "This voucher cannot be used yet. Check its start date.");
    const blocked = kit.blocked[claims.jti];
    if (blocked) {
      const sentences = {
        revoked: "This voucher was cancelled and cannot be used.",
        suspended: "This voucher is on hold. The holder should contact the program.",
        expired: "This voucher has expired and can no longer be used.",
        exhausted: "Nothing is left on this voucher.",
      };
      return problem(`voucher_${blocked}`, sentences[blocked] || sentences.revoked);
    }
    const program = kit.programs.find((p) => p.id === claims.prg);
    if (!program) return problem("not_accepted_here", "This voucher cannot be used at this shop.");
    if (!program.offline) {
      return problem("offline_not_allowed", "This voucher can only be used while the till is online. Ask the holder to come back later, or take another payment.");
    }
    if (seconds < program.valid_from || seconds >= program.valid_until) {
      return problem("voucher_expired", "This voucher's program is not running today.");
    }
    if (program.require_identity && !identityConfirmed) {
      return problem("identity_check_required", "Check the holder's identity, then confirm it before taking this voucher.");
    }
    const quote = quoteOffline(program, lines, kit.merchant_id);
    if (quote.eligible_total === 0) {
      return problem("no_eligible_lines", "Nothing in this basket can be paid with this voucher.", { lines: quote.outcomes });
    }
    const till = this.getTill();
    const kept = await sales.all();
    const day = localDay(now, program.timezone);
    const live = kept.filter((s) => s.status !== "refused" && s.till_id === till.till_id);
    if (live.some((s) => s.voucher_id === claims.jti && s.day === day)) {
      return problem("offline_once_a_day", "This voucher was already used offline at this till today. It can be used again once the till is online.", { lines: quote.outcomes });
    }
    // Everything not yet sent counts, whatever kit it was made with, so a kit fetched
    // between two offline stretches never adds to what is still unknown to the service.
    const taken = live.filter((s) => s.program_id === program.id
      && (s.status === "waiting" || s.kit_version === kit.version))
      .reduce((sum, s) => sum + s.covered, 0);
    if (taken + quote.covered > program.max_till_total) {
      return problem("offline_till_limit", "This till has taken as much as it may offline for this program. Connect to the network to sell again.", { lines: quote.outcomes });
    }
    return { quote, program, claims, kit, day };
  }

  /** Sign and keep a checked sale; resolves the kept record (its key is the receipt id). */
  async record(checked, voucher, basket, identityConfirmed, now = Date.now()) {
    const till = this.getTill();
    const key = `offline-${crypto.randomUUID()}`;
    const sale = {
      key, till_id: till.till_id, kit_version: checked.kit.version, token: voucher.token,
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
    };
    record.seq = await sales.add(record);
    return record;
  }

  // -- forwarding ----------------------------------------------------------------------

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
      if (answer.status >= 500 || answer.status === 409) {
        result.left = waiting.length - i;
        return result;
      }
      sale.status = answer.status === 201 ? "forwarded" : "refused";
      sale.answer = answer.body;
      await sales.put(sale);
      if (answer.status === 201) result.forwarded += 1; else result.refused += 1;
    }
    return result;
  }
}
