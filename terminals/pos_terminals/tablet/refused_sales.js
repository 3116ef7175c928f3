// Offline sales the service refused when the till forwarded them, listed for the cashier
// until acknowledged: which sale (time, voucher part, the voucher's program and the last
// symbols of its id, the receipt number; never the token or a code), why (from the
// problem's `code` and `reason`, in the cashier's language, never a raw code), and what
// to do about it. The shop is not paid a refused sale's voucher part, so none is dropped.

import { localStamp } from "./local_time.js";
import { formatMoney } from "./money.js";

// What the cashier can do, by the kind of refusal: the voucher could not pay this (ask the
// holder for the difference), the tablet's clock, or something only the program can sort.
const TODO_BY_CODE = {
  offline_limit_exceeded: "pay_difference",
  offline_voucher_invalid: "pay_difference",
  offline_not_allowed: "pay_difference",
  identity_check_required: "pay_difference",
  not_found: "pay_difference",
  offline_kit_expired: "check_clock",
};

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

/** The cashier's sentence for why the service refused a sale. */
export function refusedWhy(t, sale) {
  const answer = sale.answer || {};
  const code = typeof answer.code === "string" ? answer.code : "";
  const sentence = (answer.reason && t.entry("refused_reasons", `${code}.${answer.reason}`))
    || t.entry("refused_reasons", code);
  if (sentence) return sentence;
  // A code this till does not know yet: the service's own sentence, if it was written in
  // the language shown now; never the bare code.
  if (typeof answer.detail === "string" && answer.detail && sale.answer_lang === t.lang) {
    return answer.detail;
  }
  return t.entry("refused_reasons", "unknown");
}

/** The cashier's sentence for what to do about a refused sale. */
export function refusedTodo(t, sale) {
  const todo = TODO_BY_CODE[sale.answer?.code] || "contact_program";
  return t.entry("refused_todos", todo, {
    amount: formatMoney(sale.covered, sale.currency || "CNY") });
}

/** The last four symbols of the voucher's id: enough to tell two apart, not a credential. */
export function maskedReference(voucherId) {
  return String(voucherId || "").replace(/-/g, "").slice(-4).toUpperCase();
}

function row(label, value, name) {
  return el("div", { className: `refused-row ${name}` },
    el("dt", { textContent: label }), el("dd", { textContent: value }));
}

function item(t, sale, timeZone, onAcknowledge) {
  const currency = sale.currency || "CNY";
  const voucher = t(sale.typed ? "refused_voucher_typed" : "refused_voucher_value", {
    program: sale.program_name || "", ref: maskedReference(sale.voucher_id) });
  const amount = sale.basket_total
    ? t("refused_amount_value", { covered: formatMoney(sale.covered, currency),
      total: formatMoney(sale.basket_total, currency) })
    : formatMoney(sale.covered, currency);
  const button = el("button", { type: "button", className: "primary refused-ack",
    textContent: t("refused_ack") });
  button.addEventListener("click", () => {
    button.disabled = true;
    onAcknowledge(sale.seq);
  });
  const node = el("article", { className: "refused-sale" },
    el("h3", { textContent: t("refused_sale") }),
    el("dl", { className: "refused-facts" },
      row(t("refused_time"), localStamp(sale.at, timeZone), "time"),
      row(t("refused_amount"), amount, "amount"),
      row(t("refused_voucher"), voucher, "voucher"),
      row(t("refused_receipt"), sale.key, "receipt")),
    el("p", { className: "refused-why" },
      el("strong", { textContent: t("refused_why") }),
      el("span", { textContent: refusedWhy(t, sale) })),
    el("p", { className: "refused-todo" },
      el("strong", { textContent: t("refused_todo") }),
      el("span", { textContent: refusedTodo(t, sale) })),
    button);
  node.dataset.key = sale.key;
  node.dataset.code = sale.answer?.code || "";
  return node;
}

/** Fill `box` with the refused sales (hidden when there are none), their times in the
 * shop's `timeZone`. */
export function renderRefused(box, t, refused, timeZone, onAcknowledge) {
  box.hidden = refused.length === 0;
  box.dataset.count = String(refused.length);
  if (!refused.length) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    el("h2", { textContent: t("refused_title", { count: refused.length }) }),
    el("p", { className: "refused-help", textContent: t("refused_help") }),
    ...refused.map((sale) => item(t, sale, timeZone, onAcknowledge)));
}
