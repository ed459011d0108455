/*
 * Building blocks the admin tabs share: a tab's heading, tables, status badges, times, copy buttons
 * and form fields. Everything from the server goes into the page as text (dom.js el), never as HTML.
 */

import { el } from "../inbox/dom.js";
import { fullTime, relativeTime, t } from "../inbox/i18n.js";

/** A tab's heading: title, one line saying what it is for, and the tab's main actions. */
export function heading(titleKey, leadKey, ...actions) {
  return el(
    "header",
    { class: "adm-head" },
    el("div", {}, el("h1", { class: "adm-title" }, t(titleKey)), leadKey ? el("p", { class: "adm-lead" }, t(leadKey)) : null),
    actions.length ? el("div", { class: "adm-actions" }, ...actions) : null,
  );
}

/** A titled block inside a tab. */
export function card(title, ...children) {
  return el("section", { class: "adm-card" }, title ? el("h2", { class: "adm-card-title" }, title) : null, ...children);
}

/** A table: ``columns`` are header texts, each row a list of cells (text or nodes). */
export function table(columns, rows, { label, rowData } = {}) {
  return el(
    "div",
    { class: "adm-table-wrap" },
    el(
      "table",
      { class: "adm-table", "aria-label": label },
      el("thead", {}, el("tr", {}, ...columns.map((column) => el("th", { scope: "col" }, column)))),
      el(
        "tbody",
        {},
        ...rows.map((cells, index) => el("tr", { dataset: rowData ? rowData[index] : undefined }, ...cells.map((cell) => el("td", {}, cell ?? "")))),
      ),
    ),
  );
}

/** A coloured status word: kind is ok, warn, bad or idle. */
export function badge(kind, text) {
  return el("span", { class: "adm-badge", dataset: { kind } }, text);
}

export function when(iso) {
  if (!iso) return el("span", { class: "muted" }, t("adm.never"));
  return el("time", { datetime: iso, title: fullTime(iso) }, relativeTime(iso));
}

export function empty(text) {
  return el("p", { class: "adm-empty" }, text);
}

export function notice(kind, ...children) {
  return el("div", { class: "adm-notice", dataset: { kind }, role: kind === "bad" ? "alert" : "status" }, ...children);
}

/** Copy ``text`` to the clipboard (the demo runs on plain http, where navigator.clipboard is missing). */
export async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea", { class: "visually-hidden", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

export function copyButton(text, labelKey = "adm.copy") {
  const button = el("button", { type: "button", class: "btn btn-small" }, t(labelKey));
  button.addEventListener("click", async () => {
    await copy(text);
    button.textContent = t("adm.copied");
    setTimeout(() => (button.textContent = t(labelKey)), 1600);
  });
  return button;
}

/** A labelled form field; ``control`` is the input or select. */
export function field(label, control, hint) {
  return el("label", { class: "adm-field" }, el("span", { class: "adm-field-label" }, label), control, hint ? el("span", { class: "adm-hint" }, hint) : null);
}

export function input(props) {
  return el("input", { class: "input", ...props });
}

/** A select whose ``value`` option is also its default (what form.reset() goes back to). */
export function select(options, value, props = {}) {
  const chosen = value ?? "";
  return el("select", { class: "select", ...props }, ...options.map(([v, text]) => el("option", { value: v, selected: v === chosen }, text)));
}

/** "agent 3" (how the hub labels who did something) as the agent's name when known. */
export function actorName(label, agents) {
  const match = /^agent (\d+)$/.exec(label || "");
  const agent = match ? agents.find((a) => a.id === Number(match[1])) : null;
  return agent ? agent.name : label;
}

/** Run a form's submit through ``action``, the button busy meanwhile; errors show under the form. */
export function onSubmit(form, action) {
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  form.append(error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    error.hidden = true;
    try {
      await action();
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
    } finally {
      if (button) button.disabled = false;
    }
  });
}

export const ROLES = ["admin", "supervisor", "agent", "marketer"];
