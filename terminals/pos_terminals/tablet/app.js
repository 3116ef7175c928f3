// The till: pair once, read a voucher, build the basket, confirm, print, void.
// One screen at a time; everything the cashier sees is rebuilt from `state` by `render*`.

import { call, IdempotentWrite, lostPairing, NetworkError, setLanguage } from "./api.js";
import { formatCode, gtinValid, newKey, normaliseCode, voucherCredential } from "./codes.js";
import { pickLanguage, setCatalog, translator } from "./i18n.js";
import { formatMoney, parseMoney, sumMinor } from "./money.js";
import { OfflineTill } from "./offline.js";
import "./offline_i18n.js";
import { localStamp } from "./local_time.js";
import { renderRefused } from "./refused_sales.js";
import { Scanner } from "./scanner.js";
import {
  answeredVouchers, credentials, MAX_VOUCHERS, programNames, sameVoucher,
} from "./voucher_list.js";
import qrcode from "./vendor/qrcode-generator/qrcode.mjs";

const TILL = "pos.till";
const LANG = "pos.lang";
const LAST = "pos.last-receipt";
const PRODUCTS = "pos.products";
const QUOTE_DELAY_MS = 250;

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const load = (key) => JSON.parse(localStorage.getItem(key) || "null");
const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));

const state = {
  t: translator(pickLanguage(localStorage.getItem(LANG), navigator.languages)),
  till: load(TILL),
  screen: null,
  vouchers: [],         // [{token} or {code}, source], in scan order
  lines: [],            // {key, gtin, category, description, quantity, unit_price}
  quote: null,          // the last quote answer
  lineOutcomes: null,   // per-line decisions from a quote or a no_eligible_lines problem
  problem: null,        // the last refusal shown on the basket screen
  quoteSeq: 0,
  quoteTimer: null,
  identityConfirmed: false,
  receipt: null,        // {redemption, context, voided}
  write: null,          // the IdempotentWrite in flight
  confirming: false,    // an offline sale being checked and signed
};
const scanner = new Scanner($("#camera"));
// Selling through a network cut (offline.js, docs/offline.md).
const offline = new OfflineTill(() => state.till);
const net = { state: "online", forwarding: false, waiting: 0, refused: 0 };

// ------------------------------------------------------------------------------------------
// language and screens

function applyLanguage() {
  const { t } = state;
  setLanguage(t.lang);
  document.documentElement.lang = t.lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  const select = $("#line-category");
  const current = select.value || "stationery";
  select.replaceChildren(...t.categoryGroups().map((g) =>
    el("optgroup", { label: g.label },
      ...g.codes.map((code) => el("option", { value: code, textContent: t.category(code) })))));
  select.value = current;
  renderHeader();
  if (state.screen === "basket") renderBasket();
  if (state.screen === "scan" && state.vouchers.length) $("#scan-title").textContent = state.t("scan_next_title");
  if (state.screen === "receipt") renderReceipt();
  if (state.screen === "pending" && state.write) renderPending(null);
  showRefused();
}

function show(screen) {
  state.screen = screen;
  document.body.dataset.screen = screen;
  for (const section of document.querySelectorAll(".screen")) {
    section.hidden = section.id !== `screen-${screen}`;
  }
  if (screen !== "scan") scanner.stop();
  $("#refused-sales").classList.toggle("elsewhere", screen === "pair");
}

function renderHeader() {
  const till = state.till;
  $("#paired-as").textContent = till
    ? state.t("paired_as", { merchant: till.merchant_name, till: till.till_name }) : "";
  $("#unpair").hidden = !till;
  renderNet();
}

/** Online, offline or forwarding, and how many offline sales wait to be sent. */
function renderNet() {
  const box = $("#net-status");
  const shown = net.forwarding ? "forwarding" : net.state;
  box.hidden = !state.till;
  box.dataset.state = shown;
  box.dataset.waiting = String(net.waiting);
  box.dataset.refused = String(net.refused);
  box.textContent = state.t(`net_${shown}`) + (net.waiting ? state.t("net_waiting", { count: net.waiting }) : "")
    + (net.refused ? state.t("net_refused", { count: net.refused }) : "");
}

/** Refused offline sales stay on every screen until the cashier acknowledges each. */
async function showRefused() {
  const refused = state.till ? await offline.refusedToShow() : [];
  net.refused = refused.length;
  renderRefused($("#refused-sales"), state.t, refused, state.till?.time_zone, async (seq) => {
    await offline.acknowledge(seq);
    await showRefused();
  });
  renderNet();
}

function setNet(value) {
  net.state = value;
  renderNet();
}

function notice(text) {
  const box = $("#notice");
  box.textContent = text || "";
  box.hidden = !text;
}

/** A refusal, large: the cashier's sentence for the problem, never a raw error, under a
 * title that says what did not happen (a voucher taken, unless `title` says otherwise). */
function showProblem(section, problem, title = "problem_title") {
  const box = $(".problem", section);
  if (!problem) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    el("strong", { className: "problem-title", textContent: state.t(title) }),
    el("p", { className: "problem-detail", textContent: state.t.problem(problem) }),
  );
  box.dataset.code = problem.code || "";
  box.hidden = false;
}

function unpaired() {
  localStorage.removeItem(TILL);
  state.till = null;
  renderHeader();
  notice(state.t("unpaired_notice"));
  startPairing();
}

// ------------------------------------------------------------------------------------------
// pairing

function startPairing() {
  show("pair");
  $("#pair-code").value = "";
  $("#pair-code").focus();
}

async function pair(event) {
  event.preventDefault();
  const section = $("#screen-pair");
  showProblem(section, null);
  const typed = $("#pair-code").value.trim();
  if (!typed) {
    showProblem(section, { code: "pair_code_missing", detail: state.t("pair_code_missing") },
      "pair_problem_title");
    $("#pair-code").focus();
    return;
  }
  let answer;
  try {
    // A till secret pasted as it is (as `pos run --demo` prints them) is checked and kept
    // like one received for a pairing code.
    // The tablet's own key pair is made now; its public half is registered with the code.
    const deviceKey = typed.startsWith("till_") ? null : await offline.newDeviceKey();
    answer = typed.startsWith("till_")
      ? await call("GET", "/v1/till", { secret: typed })
      : await call("POST", "/v1/pairings", { body: { code: typed, device_key: deviceKey } });
    if (deviceKey && answer.status === 201) answer.body.device_key = deviceKey;
  } catch {
    showProblem(section, { code: "network", detail: state.t("network") }, "pair_problem_title");
    return;
  }
  if (answer.status !== 201 && answer.status !== 200) {
    showProblem(section, answer.body, "pair_problem_title");
    return;
  }
  state.till = typed.startsWith("till_") ? { ...answer.body, secret: typed } : answer.body;
  save(TILL, state.till);
  notice("");
  renderHeader();
  backgroundSync();
  if (!resumePendingWrite()) startSale();
}

/**
 * Finish a write kept from before (a reload, a crash, a re-pairing): the same request with
 * the same key, so the service either did it and answers as it did, or does it now, once.
 * Keys belong to a till, so a write is only resumed by the till that started it.
 */
function resumePendingWrite() {
  const pending = IdempotentWrite.load();
  if (!pending) return false;
  if (pending.tillId && pending.tillId !== state.till.till_id) {
    IdempotentWrite.discard();
    notice(state.t("pending_other_till"));
    return false;
  }
  if (pending.kind === "void") state.receipt = load(LAST);
  runWrite(pending);
  return true;
}

// ------------------------------------------------------------------------------------------
// reading the voucher

function startSale() {
  Object.assign(state, {
    vouchers: [], lines: [], quote: null, lineOutcomes: null, problem: null,
    identityConfirmed: false,
  });
  $("#identity-check").checked = false;
  showScan();
}

/** The scan screen, for the first voucher of a sale or one more. */
function showScan() {
  show("scan");
  const more = state.vouchers.length > 0;
  $("#scan-title").textContent = state.t(more ? "scan_next_title" : "scan_title");
  $("#back-to-basket").hidden = !more;
  showProblem($("#screen-scan"), null);
  $("#voucher-input").value = "";
  $("#show-last-receipt").hidden = more || !load(LAST);
  $("#voucher-input").focus();
  startCamera();
}

async function startCamera() {
  const status = $("#camera-status");
  $("#camera-start").hidden = true;
  status.textContent = state.t("camera_starting");
  try {
    await scanner.start((text) => takeVoucher(text, "camera"),
      () => { status.textContent = state.t("camera_ready"); });
  } catch {
    status.textContent = state.t("camera_unavailable");
    $("#camera-start").hidden = false;
  }
}

// Refusals about the voucher read (not the basket, not the till): read another voucher.
const VOUCHER_REFUSALS = new Set([
  "invalid_token", "token_expired", "token_not_yet_valid", "voucher_suspended",
  "voucher_revoked", "voucher_expired", "voucher_exhausted", "voucher_replaced",
  "reissue_required", "merchant_not_accepted", "rate_limited",
]);

function voucherRefused(problem) {
  // The refused voucher leaves the sale (in a sale with several, the one the problem names).
  const index = (problem.voucher?.position || 1) - 1;
  if (index < state.vouchers.length) state.vouchers.splice(index, 1);
  Object.assign(state, { quote: null, lineOutcomes: null, problem: null });
  showScan();
  showProblem($("#screen-scan"), problem);
}

function takeVoucher(text, source) {
  const credential = voucherCredential(text);
  if (!credential) return;
  if (credential.code) {
    const body = normaliseCode(credential.code);
    if (!body) {
      // A typo the check symbol catches is said at once, not after a basket has been built
      // for it; what was typed stays in the field to be corrected.
      showProblem($("#screen-scan"), { code: "invalid_token", reason: "malformed_code" });
      $("#voucher-input").focus();
      return;
    }
    // As printed, however it was typed: the same card typed twice is seen as one.
    credential.code = formatCode(body);
  }
  if (state.vouchers.some((v) => sameVoucher(v, credential))) {
    notice(state.t("already_scanned"));
  } else if (state.vouchers.length >= MAX_VOUCHERS) {
    notice(state.t("too_many_vouchers"));
  } else {
    notice("");
    state.vouchers.push({ ...credential, source });
  }
  backToBasket();
}

function backToBasket() {
  show("basket");
  vouchersChanged();
  $("#line-gtin").focus();
}

function removeVoucher(index) {
  state.vouchers.splice(index, 1);
  if (!state.vouchers.length) {
    startSale();
    return;
  }
  vouchersChanged();
}

function vouchersChanged() {
  state.quote = null;
  state.problem = null;
  renderBasket();
  if (state.lines.length) requestQuote();
}

// ------------------------------------------------------------------------------------------
// the basket

function basketBody() {
  return {
    currency: "CNY",
    lines: state.lines.map((line, i) => ({
      sku: line.gtin || `${line.category}-${i + 1}`,
      ...(line.gtin ? { gtin: line.gtin } : {}),
      category: line.category,
      description: line.description || state.t.category(line.category),
      quantity: line.quantity,
      unit_price: line.unit_price,
    })),
  };
}

function requestBody() {
  return {
    ...credentials(state.vouchers),
    basket: basketBody(),
    channel: "cash",
    ...(state.identityConfirmed ? { identity_confirmed: true } : {}),
  };
}

function addLine(event) {
  event.preventDefault();
  const form = $("#line-form");
  const error = $(".form-error", form);
  error.hidden = true;
  const gtin = $("#line-gtin").value.trim();
  if (gtin && !gtinValid(gtin)) {
    error.textContent = state.t("bad_gtin");
    error.hidden = false;
    return;
  }
  const unitPrice = parseMoney($("#line-price").value);
  const quantity = Number.parseInt($("#line-qty").value, 10);
  if (unitPrice === null || !(quantity >= 1 && quantity <= 999)) {
    error.textContent = state.t("bad_price");
    error.hidden = false;
    return;
  }
  const line = {
    key: newKey(), gtin: gtin || null, category: $("#line-category").value,
    description: $("#line-description").value.trim(), quantity, unit_price: unitPrice,
  };
  if (line.gtin) rememberProduct(line);
  state.lines.push(line);
  for (const id of ["#line-gtin", "#line-description", "#line-price"]) $(id).value = "";
  $("#line-qty").value = "1";
  $("#line-gtin").focus();
  basketChanged();
}

/** A product scanned once with its category and price is filled in on the next scan. */
function rememberProduct(line) {
  const products = load(PRODUCTS) || {};
  products[line.gtin] = {
    category: line.category, description: line.description, unit_price: line.unit_price,
  };
  save(PRODUCTS, products);
}

function scannedBarcode(event) {
  if (event.key !== "Enter") return;
  const gtin = $("#line-gtin").value.trim();
  const known = (load(PRODUCTS) || {})[gtin];
  if (!gtin) return;
  event.preventDefault();
  if (known && gtinValid(gtin)) {
    const same = state.lines.find((l) => l.gtin === gtin);
    if (same) {
      same.quantity += 1;
    } else {
      state.lines.push({ key: newKey(), gtin, ...known, quantity: 1 });
    }
    $("#line-gtin").value = "";
    basketChanged();
  } else {
    $("#line-price").focus();
  }
}

function changeQuantity(line, delta) {
  line.quantity = Math.max(1, Math.min(999, line.quantity + delta));
  basketChanged();
}

function removeLine(line) {
  state.lines = state.lines.filter((l) => l !== line);
  basketChanged();
}

function basketChanged() {
  state.quote = null;
  state.lineOutcomes = null;
  state.problem = null;
  renderBasket();
  requestQuote();
}

function requestQuote() {
  clearTimeout(state.quoteTimer);
  if (!state.lines.length) return;
  state.quoteTimer = setTimeout(runQuote, QUOTE_DELAY_MS);
}

async function runQuote() {
  const seq = ++state.quoteSeq;
  $("#screen-basket").dataset.quoting = "1";
  renderBasket();
  let answer;
  try {
    answer = await call("POST", "/v1/quotes", { secret: state.till.secret, body: requestBody() });
  } catch {
    answer = null;
  }
  if (seq !== state.quoteSeq) return;  // the basket changed meanwhile; a newer quote runs
  delete $("#screen-basket").dataset.quoting;
  if (answer !== null && net.state === "offline") backgroundSync();
  if (answer !== null) setNet("online");
  if (answer === null) {
    await offlineQuote();
    if (seq !== state.quoteSeq) return;
    delete $("#screen-basket").dataset.quoting;
  } else if (lostPairing(answer)) {
    unpaired();
    return;
  } else if (answer.status === 200) {
    state.quote = answer.body;
    state.lineOutcomes = answer.body.lines;
  } else if (VOUCHER_REFUSALS.has(answer.body?.code)) {
    // The voucher, not the till: back to reading a voucher, the basket kept, the pairing
    // untouched.
    voucherRefused(answer.body);
    return;
  } else {
    state.problem = answer.body;
    state.lineOutcomes = answer.body.lines || null;
  }
  renderBasket();
}

/** The vouchers above the basket, each with what it pays in this sale and a remove button. */
function renderVoucherCard() {
  const { t, vouchers } = state;
  const quoted = answeredVouchers(state.quote);
  const several = vouchers.length > 1;
  const heading = el("strong", { className: "voucher-heading", textContent: several
    ? `✓ ${t("vouchers_scanned", { count: vouchers.length })}` : `✓ ${t("voucher_scanned")}` });
  const items = vouchers.map((voucher, i) => {
    const what = voucher.token ? t("voucher_qr") : t("voucher_code", { code: voucher.code });
    const rows = [];
    if (several) rows.push(el("span", { className: "voucher-n", textContent: t("voucher_n", { n: i + 1 }) }));
    rows.push(el("span", { className: "muted", textContent: what }));
    const v = quoted[i];
    if (v) {
      rows.push(el("span", { className: "program", textContent: v.program_name }));
      // A voucher counted in sessions shows sessions, never a money balance.
      rows.push(el("span", { textContent: v.sessions_left !== undefined
        ? `${t("sessions_left")} ${v.sessions_left}`
        : v.balance === null ? t("balance_offline")
          : `${t("balance")} ${formatMoney(v.balance, v.currency)}` }));
      if (state.quote.offline) {
        rows.push(el("span", { className: "offline-banner",
          textContent: t(state.quote.capped_offline ? "offline_capped" : "offline_banner",
            { amount: formatMoney(v.max_per_sale, v.currency) }) }));
      }
      if (v.per_visit_cap !== null) {
        rows.push(el("span", {
          textContent: `${t("per_visit_cap")} ${formatMoney(v.per_visit_cap, v.currency)}`,
        }));
      }
      if (v.uses_left !== null && v.sessions_left === undefined) {
        rows.push(el("span", { textContent: `${t("uses_left")} ${v.uses_left}` }));
      }
      if (several) {
        rows.push(el("span", { className: "voucher-part",
          textContent: `${t("voucher_part")} ${formatMoney(v.part, v.currency)}` }));
      }
    }
    rows.push(el("button", { type: "button", className: "remove-btn remove-voucher",
      textContent: t("remove"), onclick: () => removeVoucher(i) }));
    const item = el("li", { className: "voucher-item" }, ...rows);
    item.dataset.voucher = String(i + 1);
    return item;
  });
  $("#voucher-card").replaceChildren(heading, el("ul", { className: "voucher-list" }, ...items));
  $("#add-voucher").hidden = vouchers.length >= MAX_VOUCHERS;
}

/** Who pays how much of a line, when several vouchers share the basket. */
function linePartsText(outcome) {
  if (state.vouchers.length < 2 || !outcome?.parts?.length) return null;
  return outcome.parts.map((p) => `${state.t("voucher_n", { n: p.position })} ${
    formatMoney(p.amount)}`).join(" · ");
}

function renderLines() {
  const { t } = state;
  const outcomes = state.lineOutcomes;
  const list = $("#lines");
  if (!state.lines.length) {
    list.replaceChildren(el("li", { className: "empty muted", textContent: t("empty_basket") }));
    return;
  }
  list.replaceChildren(...state.lines.map((line, i) => {
    const outcome = outcomes?.[i];
    const total = line.unit_price * line.quantity;
    const verdict = outcome
      ? el("span", {
        className: `verdict ${outcome.eligible ? "yes" : "no"}`,
        textContent: outcome.eligible ? `✓ ${t("eligible")}` : `✗ ${t("not_eligible")}`,
      }) : null;
    const reason = outcome && !outcome.eligible
      ? el("p", { className: "reason", textContent: `${t("why_not")}${outcome.why
        ? `${line.description || t.category(line.category)}: ${t(`why_${outcome.why}`)}` : outcome.reason}` }) : null;
    const split = linePartsText(outcome);
    const parts = split ? el("p", { className: "line-parts", textContent: split }) : null;
    const item = el("li", { className: `line ${outcome ? (outcome.eligible ? "eligible" : "ineligible") : ""}` },
      el("div", { className: "line-head" },
        el("span", { className: "line-name",
          textContent: line.description || t.category(line.category) }),
        // Named by its category when it has no description: not said twice ("文具 文具").
        line.description
          ? el("span", { className: "line-category muted", textContent: t.category(line.category) })
          : null,
        verdict),
      el("div", { className: "line-body" },
        el("span", { className: "line-price",
          textContent: `${formatMoney(line.unit_price)} × ${line.quantity}` }),
        el("span", { className: "line-total", textContent: formatMoney(total) }),
        el("span", { className: "line-buttons" },
          el("button", { type: "button", className: "qty-btn", textContent: "−",
            ariaLabel: "−", onclick: () => changeQuantity(line, -1) }),
          el("button", { type: "button", className: "qty-btn", textContent: "+",
            ariaLabel: "+", onclick: () => changeQuantity(line, 1) }),
          el("button", { type: "button", className: "remove-btn", textContent: t("remove"),
            onclick: () => removeLine(line) }))),
      parts, reason);
    item.dataset.line = String(i + 1);
    return item;
  }));
}

function renderSummary() {
  const { t, quote } = state;
  const total = sumMinor(state.lines.map((l) => l.unit_price * l.quantity));
  const rows = [[t("basket_total"), formatMoney(total), "total"]];
  if (quote) {
    if (quote.sessions_used !== undefined) {
      rows.push([t("sessions_used"), String(quote.sessions_used), "sessions-used"]);
    }
    rows.push([t("covered"), formatMoney(quote.covered, quote.currency), "covered"]);
    rows.push([t("remainder_by", { channel: channelName(quote.channel) }),
      formatMoney(quote.remainder, quote.currency), "remainder"]);
  }
  $("#summary").replaceChildren(...rows.flatMap(([label, value, name]) => [
    el("dt", { textContent: label }), el("dd", { textContent: value, className: name })]));
  const confirm = $("#confirm");
  confirm.disabled = !quote || quote.covered <= 0;
  confirm.textContent = t("confirm", { amount: quote ? formatMoney(quote.covered) : "" });
}

function channelName(channel) {
  const key = `channel_${channel}`;
  const name = state.t(key);
  return name === key ? channel : name;
}

function renderBasket() {
  if (!state.vouchers.length) return;
  renderVoucherCard();
  renderLines();
  renderSummary();
  const section = $("#screen-basket");
  showProblem(section, state.problem);
  const needsIdentity = state.problem?.code === "identity_check_required" || state.identityConfirmed;
  $("#identity").hidden = !needsIdentity;
}

// ------------------------------------------------------------------------------------------
// confirm and void: idempotent writes that survive a dropped connection

async function confirmRedemption() {
  if (!state.quote || state.confirming) return;
  if (state.quote.offline) {
    // Checking and signing an offline sale takes a moment with the button still on screen:
    // a second tap meanwhile must not record the same basket as a second sale.
    state.confirming = true;
    try {
      await confirmOffline();
    } finally {
      state.confirming = false;
    }
    return;
  }
  const context = {
    program_name: programNames(state.quote),
    merchant_name: state.till.merchant_name, till_name: state.till.till_name,
    lines: basketBody().lines, at: new Date().toISOString(), till_id: state.till.till_id,
    time_zone: state.till.time_zone,
    covered: state.quote.covered, currency: state.quote.currency,
  };
  // The key is made once per press of "confirm" and saved with the body before sending.
  const write = IdempotentWrite.start("redeem", "/v1/redemptions", requestBody(), newKey(), context);
  await runWrite(write);
}

async function runWrite(write) {
  state.write = write;
  show("pending");
  renderPending(null);
  const answer = await write.run(state.till.secret, (waiting) => {
    // No answer at all: the header says so too, not "online" beside "the connection dropped".
    if (waiting.reason === "network") setNet("offline");
    renderPending(waiting);
  });
  state.write = null;
  setNet("online");
  if (lostPairing(answer)) {
    unpaired();
    return;
  }
  if (write.kind === "redeem") {
    if (answer.status === 201) {
      state.receipt = { redemption: answer.body, context: write.context, voided: null };
      save(LAST, state.receipt);
      show("receipt");
      renderReceipt();
    } else {
      // A definite refusal: nothing was taken. Back to the basket with the reason.
      if (!state.vouchers.length) {
        startSale();
        showProblem($("#screen-scan"), answer.body);
        return;
      }
      state.problem = answer.body;
      state.quote = null;
      state.lineOutcomes = answer.body.lines || state.lineOutcomes;
      show("basket");
      renderBasket();
    }
    return;
  }
  // void
  state.receipt = state.receipt || load(LAST);
  show("receipt");
  if (answer.status === 200) {
    state.receipt.voided = answer.body;
    save(LAST, state.receipt);
    renderReceipt();
  } else {
    renderReceipt();
    showProblem($("#screen-receipt"), answer.body, "void_problem_title");
  }
}

function renderPending(waiting) {
  const { t } = state;
  const section = $("#screen-pending");
  const context = state.write?.context;
  const what = context?.covered !== undefined
    ? `${context.program_name} · ${formatMoney(context.covered, context.currency)}` : "";
  $("#pending-what").textContent = state.write?.kind === "void" && what ? `${t("void")} · ${what}` : what;
  if (!waiting) {
    section.dataset.state = "sending";
    $("#pending-title").textContent = t("sending");
    $("#pending-help").textContent = "";
    $("#pending-retry").textContent = "";
    $("#retry-now").hidden = true;
    return;
  }
  section.dataset.state = waiting.reason === "in_progress" ? "in_progress" : "unknown";
  $("#pending-title").textContent = t("unknown_title");
  $("#pending-help").textContent = waiting.reason === "in_progress" ? t("in_progress")
    : t(state.write?.kind === "void" ? "unknown_help_void" : "unknown_help");
  $("#pending-retry").textContent = t("retry_in", { seconds: waiting.seconds, attempt: waiting.attempt + 1 });
  $("#retry-now").hidden = false;
}

function askVoid() {
  const { redemption } = state.receipt;
  $("#void-body").textContent = state.t("void_confirm_body", {
    amount: formatMoney(redemption.covered, redemption.currency) });
  $("#void-dialog").showModal();
}

async function voidDialogClosed() {
  if ($("#void-dialog").returnValue !== "yes") return;
  const { redemption } = state.receipt;
  const write = IdempotentWrite.start(
    "void", `/v1/redemptions/${encodeURIComponent(redemption.id)}/void`, null, newKey(),
    { redemption_id: redemption.id, till_id: state.till.till_id,
      program_name: state.receipt.context.program_name, covered: redemption.covered,
      currency: redemption.currency });
  await runWrite(write);
}

// ------------------------------------------------------------------------------------------
// the receipt

function receiptRow(label, value, name) {
  return el("div", { className: `receipt-row ${name || ""}` },
    el("span", { textContent: label }), el("span", { textContent: value }));
}

function qrCanvas(text) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  const cell = 4;
  const quiet = 4;
  const size = (count + quiet * 2) * cell;
  const canvas = el("canvas", { width: size, height: size, className: "receipt-qr" });
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000";
  for (let r = 0; r < count; r++) {
    for (let c = 0; c < count; c++) {
      if (qr.isDark(r, c)) ctx.fillRect((c + quiet) * cell, (r + quiet) * cell, cell, cell);
    }
  }
  canvas.dataset.text = text;
  return canvas;
}

/** A sale paid by several vouchers: each voucher's part and what it holds after. */
function receiptParts(r, voided) {
  if (!r.vouchers) return [];
  const { t } = state;
  return r.vouchers.map((v, i) => {
    const after = voided?.vouchers?.find((x) => x.voucher_id === v.id)?.balance_after;
    const row = el("div", { className: "receipt-row voucher-part" },
      el("span", { textContent: `${t("voucher_n", { n: v.position })} ${v.program_name}` }),
      el("span", { textContent: `${formatMoney(v.part, r.currency)} · ${t("balance")} ${
        formatMoney(after ?? v.balance_after, r.currency)}` }));
    row.dataset.voucher = String(i + 1);
    return row;
  });
}

function renderReceipt() {
  const { t } = state;
  const { redemption: r, context, voided } = state.receipt;
  const cur = r.currency;
  const outcomes = r.lines || [];
  const stamp = localStamp(context.at, context.time_zone);
  const lines = outcomes.map((o) => el("div", { className: `receipt-line ${o.eligible ? "" : "ineligible"}` },
    el("span", { className: "receipt-line-name",
      textContent: `${o.eligible ? "✓" : "✗"} ${o.description}` }),
    el("span", { textContent: `${o.quantity} × ${formatMoney(o.unit_price, cur)}` }),
    el("span", { className: "receipt-line-total", textContent: formatMoney(o.line_total, cur) })));
  const receipt = $("#receipt");
  receipt.classList.toggle("voided", Boolean(voided));
  const parts = [
    el("h2", { textContent: voided ? t("receipt_voided_title") : t("receipt_title") }),
    receiptRow(t("receipt_shop"), context.merchant_name),
    receiptRow(t("receipt_till"), context.till_name),
    receiptRow(t("receipt_time"), stamp, "time"),
    receiptRow(t("receipt_program"), context.program_name),
    el("hr"),
    ...lines,
    el("hr"),
    receiptRow(t("basket_total"), formatMoney(r.basket_total, cur), "total"),
    receiptRow(t("receipt_voucher_paid"), formatMoney(r.covered, cur), "covered"),
    ...receiptParts(r, voided),
    receiptRow(t("receipt_remainder", { channel: channelName(r.channel) }),
      formatMoney(r.remainder, cur), "remainder"),
    ...(r.sessions_used !== undefined ? [
      receiptRow(t("receipt_sessions_used"), String(r.sessions_used), "sessions-used"),
      receiptRow(t("receipt_sessions_left"),
        String(voided ? voided.sessions_left : r.sessions_left), "sessions-left"),
    ] : [
      r.vouchers ? null : receiptRow(t("receipt_balance_after"), r.offline
        ? t("receipt_balance_later")
        : formatMoney(voided ? voided.balance_after : r.balance_after, cur), "balance"),
      r.uses_left !== null && r.uses_left !== undefined
        ? receiptRow(t("receipt_uses_left"), String(voided ? voided.uses_left : r.uses_left)) : null,
    ]),
    r.offline ? el("p", { className: "offline-banner", textContent: t("receipt_offline") }) : null,
    voided ? receiptRow(t("receipt_restored"), formatMoney(voided.restored, cur), "restored") : null,
    el("hr"),
    el("div", { className: "receipt-id" },
      el("span", { textContent: t("receipt_id") }),
      el("code", { id: "redemption-id", textContent: r.id })),
    qrCanvas(r.id),
  ];
  receipt.replaceChildren(...parts.filter(Boolean));
  $("#void").hidden = Boolean(voided) || Boolean(r.offline);
  showProblem($("#screen-receipt"), null);
}

/**
 * Sets the printed page to the roll's width and this receipt's height, so the printer
 * feeds no blank paper. The height is measured in the print layout itself: print.css is
 * switched on for all media for the moment of measuring (no paint happens in between).
 */
function preparePrint(width) {
  document.documentElement.dataset.paper = String(width);
  const printCss = $("#print-css");
  printCss.media = "all";
  const heightPx = $("#receipt").getBoundingClientRect().height;
  printCss.media = "print";
  const heightMm = Math.ceil((heightPx * 25.4) / 96) + 4;
  const sheet = $("#page-size").sheet;
  while (sheet.cssRules.length) sheet.deleteRule(0);
  // CSSOM edits are allowed by the page's Content-Security-Policy; inline styles are not.
  sheet.insertRule(`@page { size: ${width}mm ${heightMm}mm; margin: 0; }`);
  return heightMm;
}

function printReceipt(width) {
  preparePrint(width);
  window.print();
}

// ------------------------------------------------------------------------------------------
// wiring

function wire() {
  $("#lang-switch").addEventListener("click", () => {
    const lang = state.t.lang === "zh-CN" ? "en" : "zh-CN";
    localStorage.setItem(LANG, lang);
    state.t = translator(lang);
    applyLanguage();
    // Reasons come from the service in the till's language: ask again in the new one.
    if (state.screen === "basket" && state.vouchers.length && state.lines.length) requestQuote();
  });
  $("#unpair").addEventListener("click", () => {
    if (!window.confirm(state.t("unpair_confirm"))) return;
    localStorage.removeItem(TILL);
    localStorage.removeItem(LAST);
    state.till = null;
    renderHeader();
    startPairing();
  });
  $("#pair-form").addEventListener("submit", pair);
  $("#voucher-form").addEventListener("submit", (event) => {
    event.preventDefault();
    takeVoucher($("#voucher-input").value, "typed");
  });
  $("#camera-start").addEventListener("click", startCamera);
  $("#show-last-receipt").addEventListener("click", () => {
    state.receipt = load(LAST);
    if (!state.receipt) return;
    show("receipt");
    renderReceipt();
  });
  $("#line-form").addEventListener("submit", addLine);
  $("#add-voucher").addEventListener("click", showScan);
  $("#back-to-basket").addEventListener("click", backToBasket);
  $("#line-gtin").addEventListener("keydown", scannedBarcode);
  $("#identity-check").addEventListener("change", (event) => {
    state.identityConfirmed = event.target.checked;
    basketChanged();
  });
  $("#confirm").addEventListener("click", confirmRedemption);
  $("#cancel-sale").addEventListener("click", startSale);
  $("#retry-now").addEventListener("click", () => state.write?.retryNow());
  $("#new-sale").addEventListener("click", startSale);
  $("#void").addEventListener("click", askVoid);
  $("#void-dialog").addEventListener("close", voidDialogClosed);
  $("#print-58").addEventListener("click", () => printReceipt(58));
  $("#print-80").addEventListener("click", () => printReceipt(80));
}

/** The till's names may have changed, or its credential been replaced by a new pairing. */
async function refreshTill() {
  const secret = state.till.secret;
  let answer;
  try {
    answer = await call("GET", "/v1/till", { secret });
  } catch {
    return;  // offline for now; the next quote will tell
  }
  if (state.till?.secret !== secret) return;
  if (lostPairing(answer)) {
    if (!state.write) unpaired();
  } else if (answer.status === 200) {
    state.till = { ...state.till, ...answer.body };
    save(TILL, state.till);
    renderHeader();
  }
}

async function loadCategories() {
  try {
    const answer = await call("GET", "categories.json");
    if (answer.status === 200) setCatalog(answer.body.groups);
  } catch {
    // Without the list the Chinese table still offers every code; English shows codes.
  }
}

async function main() {
  wire();
  await loadCategories();
  applyLanguage();
  if (!state.till) {
    startPairing();
    return;
  }
  refreshTill();
  backgroundSync();
  showRefused();
  if (!resumePendingWrite()) startSale();
}

// ------------------------------------------------------------------------------------------
// offline: the quote and sale without the network, then forwarding (offline.js)

function offlineLines(outcomes) {
  return outcomes.map((o) => ({ ...o, reason: "" }));
}

/** The basket decided on the tablet from the signed kit; same shape as a service quote. */
/** Offline a sale takes one voucher: the kit's limits are per voucher and per sale. */
function offlineCheck(lines) {
  if (state.vouchers.length !== 1) {
    return { problem: { code: "offline_one_voucher" } };
  }
  return offline.check(state.vouchers[0], lines, state.identityConfirmed);
}

async function offlineQuote() {
  setNet("offline");
  const body = basketBody();
  const checked = await offlineCheck(body.lines);
  if (checked.problem) {
    state.quote = null;
    state.problem = checked.problem;
    state.lineOutcomes = checked.problem.lines ? offlineLines(checked.problem.lines) : null;
    return;
  }
  const { quote, program } = checked;
  const total = sumMinor(body.lines.map((l) => l.unit_price * l.quantity));
  state.problem = null;
  state.lineOutcomes = offlineLines(quote.outcomes);
  state.quote = {
    offline: true, currency: program.currency, channel: "cash", lines: state.lineOutcomes,
    basket_total: total, eligible_total: quote.eligible_total, covered: quote.covered,
    remainder: total - quote.covered, capped_offline: quote.capped_offline,
    voucher: { program_name: program.name, currency: program.currency, balance: null,
      per_visit_cap: program.per_visit_cap, uses_left: null, max_per_sale: program.max_per_sale },
  };
}

/** Checked again at the moment of confirming, signed, kept, and a receipt at once. */
async function confirmOffline() {
  const body = basketBody();
  const checked = await offlineCheck(body.lines);
  if (checked.problem) {
    state.quote = null;
    state.problem = checked.problem;
    renderBasket();
    return;
  }
  const record = await offline.record(checked, state.vouchers[0], body, state.identityConfirmed);
  const q = checked.quote;
  const total = sumMinor(body.lines.map((l) => l.unit_price * l.quantity));
  state.receipt = {
    redemption: {
      id: record.key, offline: true, currency: checked.program.currency, channel: "cash",
      basket_total: total, covered: q.covered, remainder: total - q.covered,
      lines: q.outcomes, balance_after: null, uses_left: null,
    },
    context: {
      program_name: checked.program.name, merchant_name: state.till.merchant_name,
      till_name: state.till.till_name, lines: body.lines, at: new Date(record.at).toISOString(),
      till_id: state.till.till_id, covered: q.covered, currency: checked.program.currency,
      time_zone: state.till.time_zone,
    },
    voided: null,
  };
  save(LAST, state.receipt);
  show("receipt");
  renderReceipt();
  await countWaiting();
  forwardNow();
}

async function countWaiting() {
  net.waiting = state.till ? (await offline.waiting()).length : 0;
  renderNet();
}

/** A fresh kit now (it resets the till's offline total and names reissued cards). */
async function fetchKit() {
  try {
    if (await offline.refreshKit()) lastKitFetch = Date.now();
    save(TILL, state.till);
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
  }
}

let lastKitFetch = 0;

/** Send kept offline sales; a fresh kit afterwards once the service has answered any. */
async function forwardNow() {
  if (!state.till) return null;
  const result = await offline.forward((progress) => {
    net.forwarding = true;
    net.waiting = progress.left;
    renderNet();
  });
  net.forwarding = false;
  if (result.forwarded || result.refused) setNet("online");
  if (result.network) setNet("offline");
  await countWaiting();
  if (result.refused) await showRefused();
  if ((result.forwarded || result.refused) && !result.left) await fetchKit();
  return result;
}

let syncing = null;

/**
 * While online: the tablet's key registered, sales forwarded, and a fresh kit every
 * `refresh_seconds` and at once on reconnecting, so a card reissued while the till was
 * away is refused offline from then on (docs/offline.md, "A reissued voucher").
 */
function backgroundSync() {
  if (!syncing) syncing = sync().finally(() => { syncing = null; });
  return syncing;
}

async function sync() {
  if (!state.till) return;
  const reconnecting = net.state === "offline";
  try {
    if (await offline.ensureDeviceKey()) save(TILL, state.till);
    // Sales kept from an offline stretch go first, before a new kit starts another.
    await forwardNow();
    if ((await offline.waiting()).length) return;
    const kit = await offline.kit();
    const every = (kit.kit?.refresh_seconds || 300) * 1000;
    if (reconnecting || kit.problem || Date.now() - lastKitFetch > every) await fetchKit();
    setNet("online");
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    setNet("offline");
  }
}

// A basket on screen is quoted again when the connection comes or goes, so what the
// cashier confirms is already an online or an offline sale.
function requoteOpenBasket() {
  if (state.screen === "basket" && state.lines.length) basketChanged();
}

window.addEventListener("online", () => {
  backgroundSync();
  requoteOpenBasket();
});
window.addEventListener("offline", () => {
  setNet("offline");
  requoteOpenBasket();
});
setInterval(backgroundSync, 15000);
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("sw.js").catch(() => {
    // Without a service worker the till still works online; only a cold start offline fails.
  });
}

main();
