// The console's forms, sent to the same JSON API that scripts call.
//
// <form data-api="/v1/..." [data-method="PATCH"] [data-idempotent]
//       data-then="reload | redirect:/admin/x/{id} | show">
// Fields become a JSON body: a dotted name nests ("allowance.amount"), data-kind converts
// ("money": yuan typed -> integer fen, no floating point; "int"; "bool"; "list": checked
// boxes of one name; "list1": one value as a list). Empty fields are left out. A fieldset
// with data-when="field:value" counts only while that field has that value. A refusal
// (application/problem+json) is shown in the form's .error, in the page's language.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
// The service words its refusals in the page's language, whatever the browser's is.
const pageLanguage = () => (document.body.dataset.lang === "en" ? "en" : "zh-CN");
const problemSentences = JSON.parse(
  document.getElementById("problem-sentences")?.textContent || "{}");

// A field the browser cannot read as what it must hold; its sentence names the field by
// its label, in the page's language.
class FieldError extends Error {
  constructor(element, kind) {
    const label = element.labels?.[0];
    const named = [...(label?.childNodes || [])]
      .find((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const field = named ? named.textContent.trim() : element.name;
    const sentence = kind === "money" ? document.body.dataset.notAmount
      : document.body.dataset.notWhole;
    super(sentence.replace("{field}", field));
  }
}

function minorUnits(text) {
  const m = /^\s*(\d{1,12})(?:[.,](\d{0,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

function wholeNumber(text) {
  return /^\d{1,9}$/.test(text) ? Number.parseInt(text, 10) : null;
}

function put(target, dotted, value) {
  const parts = dotted.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] ??= {};
  node[parts.at(-1)] = value;
}

function active(form, element) {
  const fence = element.closest("[data-when]");
  if (!fence || !form.contains(fence)) return true;
  const [name, wanted] = fence.dataset.when.split(":");
  const field = form.elements.namedItem(name);
  return field && field.value === wanted;
}

function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.type === "file" || !active(form, el)) continue;
    const kind = el.dataset.kind || "text";
    if (kind === "bool") { put(body, el.name, el.checked); continue; }
    if (kind === "list") {
      if (!el.checked) continue;
      const parts = el.name.split(".");
      let node = body;
      for (const part of parts.slice(0, -1)) node = node[part] ??= {};
      (node[parts.at(-1)] ??= []).push(el.value);
      continue;
    }
    const raw = el.value.trim();
    if (raw === "") continue;
    if (kind === "money" || kind === "int") {
      const value = kind === "money" ? minorUnits(raw) : wholeNumber(raw);
      if (value === null) throw new FieldError(el, kind);
      put(body, el.name, value);
    } else if (kind === "list1") put(body, el.name, [raw]);
    else put(body, el.name, raw);
  }
  // A group with only switches in it (an allowance without an amount) was not filled in.
  for (const [key, value] of Object.entries(body)) {
    if (value && typeof value === "object" && !Array.isArray(value)
        && Object.values(value).every((v) => typeof v === "boolean")) delete body[key];
  }
  return body;
}

// A refusal as the page says it: the console's lead in Chinese, then the service's detail.
function problemText(problem) {
  const sentence = problemSentences[problem.code];
  const detail = problem.detail || "";
  return sentence && document.body.dataset.lang !== "en"
    ? `${sentence} ${detail}` : (detail || sentence || String(problem.status));
}

function showProblem(form, problem) {
  const box = form.querySelector(".error");
  const text = problemText(problem);
  if (box) { box.textContent = text; box.hidden = false; } else { alert(text); }
}

function showResult(form, data) {
  const result = form.querySelector(".result");
  if (!result) return;
  for (const el of result.querySelectorAll("[data-field]")) {
    const value = data[el.dataset.field];
    el.textContent = value == null ? "" :
      (el.dataset.format === "time" ? new Date(value).toLocaleString() : String(value));
  }
  for (const el of result.querySelectorAll("[data-if-field]")) {
    el.hidden = !data[el.dataset.ifField];
  }
  for (const el of result.querySelectorAll("[data-when-status]")) {
    el.hidden = (data.status || "") !== el.dataset.whenStatus;
  }
  result.hidden = false;
}

async function send(form) {
  const error = form.querySelector(".error");
  if (error) error.hidden = true;
  const notice = form.querySelector(".notice");
  if (notice) notice.hidden = true;
  let body;
  try {
    body = formBody(form);
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    return showProblem(form, { code: "validation_error", detail: err.message });
  }
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf(),
                    "Accept-Language": pageLanguage() };
  if ("idempotent" in form.dataset) headers["Idempotency-Key"] = crypto.randomUUID();
  const button = form.querySelector("button");
  if (button) button.disabled = true;
  try {
    const resp = await fetch(form.dataset.api, {
      method: form.dataset.method || "POST", headers, body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) return showProblem(form, { status: resp.status, ...data });
    if (notice && form.dataset.nothing && Array.isArray(data.batches) && !data.batches.length) {
      // A settlement run that found nothing to settle: said, rather than a page that
      // reloads unchanged.
      notice.textContent = form.dataset.nothing;
      notice.hidden = false;
      return;
    }
    const then = form.dataset.then || "reload";
    if (then === "reload") location.reload();
    else if (then.startsWith("redirect:")) {
      location.assign(then.slice(9).replace("{id}", encodeURIComponent(data.id || "")));
    } else showResult(form, data);
  } finally {
    if (button) button.disabled = false;
  }
}

// The beneficiary list: check first (nothing written), then issue with a progress bar.
function issuance(form) {
  const file = form.querySelector('input[type="file"]');
  const issueButton = form.querySelector('[data-step="issue"]');
  const report = document.getElementById("issuance-report");
  const bar = document.getElementById("issuance-progress");
  const texts = document.getElementById("issuance-texts").dataset;

  function upload(check) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.upload + (check ? "?check=1" : ""));
      xhr.setRequestHeader("Content-Type", "text/csv");
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Accept-Language", pageLanguage());
      bar.hidden = false;
      bar.value = 0;
      xhr.upload.onprogress = (e) => {
        // The upload is the first half; the service checks and signs in the second.
        if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 50);
      };
      xhr.upload.onload = () => { bar.removeAttribute("value"); };
      xhr.onload = () => {
        bar.value = 100;
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        resolve({ ok: xhr.status < 300, data });
      };
      xhr.onerror = () => resolve({ ok: false, data: { detail: "network" } });
      xhr.send(file.files[0]);
    });
  }

  function problems(data) {
    const rows = (data.problems || data.rows || []).map((p) =>
      `<tr><td>${p.line ?? ""}</td><td>${escapeHtml(p.ref ?? "")}</td>` +
      `<td>${escapeHtml((p.problems || [p.problem || ""]).join("; "))}</td></tr>`).join("");
    return `<p class="error">${escapeHtml(texts.failed)} ${escapeHtml(data.detail || "")}</p>` +
      (rows ? `<table><thead><tr><th>${texts.line}</th><th>${texts.ref}</th>` +
      `<th>${texts.problem}</th></tr></thead><tbody>${rows}</tbody></table>` : "");
  }

  form.querySelector('[data-step="check"]').addEventListener("click", async () => {
    if (!file.files.length) return file.reportValidity();
    issueButton.disabled = true;
    const { ok, data } = await upload(true);
    report.innerHTML = ok
      ? `<p class="ok">${escapeHtml(texts.ok)}${data.voucher_count}</p>` : problems(data);
    issueButton.disabled = !ok;
  });
  issueButton.addEventListener("click", async () => {
    issueButton.disabled = true;
    const { ok, data } = await upload(false);
    if (ok) {
      report.innerHTML = `<p class="ok">${escapeHtml(texts.issued)}${data.voucher_count}</p>`;
      setTimeout(() => location.reload(), 600);
    } else report.innerHTML = problems(data);
  });
}

// A payment file is asked for first (?check=1): a file the service will not make (no payout
// account yet, say) is explained in its row, not left to a download the browser drops.
async function exportFile(link) {
  const box = link.closest("td").querySelector(".export-refusal");
  box.hidden = true;
  const url = new URL(link.href);
  url.searchParams.set("check", "1");
  const resp = await fetch(url, { credentials: "same-origin",
                                  headers: { "Accept-Language": pageLanguage() } });
  if (!resp.ok) {
    box.textContent = problemText({ status: resp.status,
                                    ...(await resp.json().catch(() => ({}))) });
    box.hidden = false;
    return;
  }
  const download = document.createElement("a");
  download.href = link.href;
  download.download = "";
  document.body.append(download);
  download.click();
  download.remove();
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-api]");
  if (!form) return;
  event.preventDefault();
  send(form);
});
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-export]");
  if (!link) return;
  event.preventDefault();
  exportFile(link);
});
const upload = document.getElementById("issuance-form");
if (upload) issuance(upload);
// A fieldset that counts only for one choice is shown only for it.
for (const fence of document.querySelectorAll("[data-when]")) {
  const form = fence.closest("form");
  const [name] = fence.dataset.when.split(":");
  const update = () => { fence.hidden = !active(form, fence); };
  form.elements.namedItem(name)?.addEventListener("change", update);
  update();
}
