// Talking to the service. Reads and quotes are simply repeated; writes (redeem, void) go
// through `IdempotentWrite`, which keeps its key and body in localStorage until the service
// has answered, so a dropped connection, a reload or a crash is resolved by sending the
// very same request again: the service answers a repeated key with the first answer.

export class NetworkError extends Error {}

// The till's language: the service writes reasons and refusals in it (Accept-Language).
let language = null;

export function setLanguage(lang) {
  language = lang;
}

export function currentLanguage() {
  return language;
}

/** One HTTP call. Resolves {status, body} for any answer; throws NetworkError for none. */
export async function call(method, path, { secret, body, key } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (language) headers["Accept-Language"] = language;
  if (secret) headers.Authorization = `Bearer ${secret}`;
  if (key) headers["Idempotency-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
  } catch (err) {
    throw new NetworkError(String(err));
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // A body cut off mid-way is as good as no answer for a write: the outcome is unknown.
    if (response.status < 400 || response.status >= 500) throw new NetworkError("no body");
    // Not the service's own problem (a proxy's page, say): the till's own sentence, never
    // the status line's English words.
    data = { code: "http_error" };
  }
  return { status: response.status, body: data };
}

const PENDING = "pos.pending";
// Seconds between automatic retries of an unanswered write; the last repeats forever.
const BACKOFF = [1, 2, 4, 8, 15];

/** Problems after which repeating the same request may give another answer. */
/** The till's own credential was refused (paired again elsewhere, or withdrawn). Other 401
 * answers (a voucher code or QR not accepted) are about the voucher, not the tablet. */
export function lostPairing(answer) {
  return answer.status === 401 && answer.body?.code === "unauthorized";
}

function isTransient(answer) {
  if (answer.status >= 500) return true;  // the service released the key; a retry is safe
  return answer.status === 409 && answer.body?.code === "idempotency_in_progress";
}

/**
 * A write that must happen at most once and whose answer must be known. `start` saves it
 * before the first byte is sent; `run` sends it until a definite answer arrives, telling
 * `onWaiting({attempt, seconds, reason})` while it waits, and clears it on that answer.
 */
export class IdempotentWrite {
  static load() {
    const raw = localStorage.getItem(PENDING);
    return raw ? new IdempotentWrite(JSON.parse(raw)) : null;
  }

  static start(kind, path, body, key, context) {
    const write = new IdempotentWrite({ kind, path, body, key, context, started: Date.now() });
    localStorage.setItem(PENDING, JSON.stringify(write.state));
    return write;
  }

  constructor(state) {
    this.state = state;
    this.attempt = 0;
    this._wake = null;
  }

  get kind() { return this.state.kind; }
  get context() { return this.state.context; }

  /** Forget a kept write without an answer (only when it can never be finished). */
  static discard() {
    localStorage.removeItem(PENDING);
  }

  get tillId() { return this.state.context?.till_id; }

  /** Skip the current wait and try now (the cashier pressed "retry"). */
  retryNow() {
    if (this._wake) this._wake();
  }

  async run(secret, onWaiting) {
    for (;;) {
      this.attempt += 1;
      let answer = null;
      let reason = "network";
      try {
        answer = await call("POST", this.state.path, {
          secret, body: this.state.body ?? undefined, key: this.state.key,
        });
        if (lostPairing(answer)) {
          // The till's credential was replaced (paired again) or withdrawn: the outcome is
          // still unknown, so the write stays kept for the same till to finish once paired.
          return answer;
        }
        if (!isTransient(answer)) {
          localStorage.removeItem(PENDING);
          return answer;
        }
        reason = answer.body?.code === "idempotency_in_progress" ? "in_progress" : "server";
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
      }
      const seconds = BACKOFF[Math.min(this.attempt - 1, BACKOFF.length - 1)];
      onWaiting({ attempt: this.attempt, seconds, reason });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, seconds * 1000);
        this._wake = () => { clearTimeout(timer); resolve(); };
      });
      this._wake = null;
    }
  }
}
