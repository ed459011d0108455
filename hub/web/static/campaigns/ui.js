/*
 * Small pieces the marketing views share: numbers in the marketer's language, status badges, labelled
 * fields with a place for the server's problem about them, a confirmation dialog, polling that stops
 * while the tab is hidden, and ids made from names.
 */

import { el } from "../inbox/dom.js";
import { currentLanguage, t } from "../inbox/i18n.js";

const localeTag = () => (currentLanguage() === "es" ? "es-ES" : "en-GB");

export function number(value) {
  return new Intl.NumberFormat(localeTag()).format(value ?? 0);
}

export function percent(part, whole) {
  if (!whole) return "–";
  return new Intl.NumberFormat(localeTag(), { style: "percent", maximumFractionDigits: 1 }).format(part / whole);
}

/** A moment in the marketer's language, in ``timeZone`` when given (a schedule's own zone). */
export function dateTime(value, timeZone = undefined) {
  let zone = timeZone;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
  } catch {
    zone = undefined; // not a zone the browser knows: its own then
  }
  return new Date(value).toLocaleString(localeTag(), {
    timeZone: zone,
    timeZoneName: zone ? "short" : undefined,
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function statusBadge(status) {
  return el("span", { class: `badge badge--${status}`, dataset: { status } }, t(`campaign_status.${status}`));
}

export function channelName(type) {
  return t(`channel.${type}`);
}

export function channelChip(type) {
  return el("span", { class: "chip chip--channel", dataset: { channel: type } }, channelName(type));
}

/** Where the server's problem about a field or section is shown (see showProblems). */
export function problemLine() {
  return el("p", { class: "mk-problem", role: "alert", hidden: true });
}

let fieldIds = 0;

/**
 * A labelled control. ``path`` names the part of the definition it edits ("schedule.cron"), so a
 * problem the server reports there is shown under it (see showProblems).
 */
export function field({ label, control, hint = null, path = null, wide = false, className = "" }) {
  if (!control.id) control.id = `f${++fieldIds}`;
  return el(
    "div",
    { class: `mk-field ${wide ? "mk-field--wide" : ""} ${className}`.trim(), dataset: path ? { path } : undefined },
    el("label", { for: control.id, class: "mk-label" }, label),
    control,
    hint ? el("p", { class: "mk-hint" }, hint) : null,
    problemLine(),
  );
}

/** A group of related controls under one heading (fieldset), with its own problem line. */
export function group({ legend, children, path = null, className = "" }) {
  return el(
    "fieldset",
    { class: `mk-group ${className}`.trim(), dataset: path ? { path } : undefined },
    el("legend", { class: "mk-label" }, legend),
    ...children,
    problemLine(),
  );
}

export function input(props = {}) {
  return el("input", { class: "input", type: "text", autocomplete: "off", ...props });
}

export function select(options, value, props = {}) {
  const node = el("select", { class: "select", ...props });
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    node.append(el("option", { value: optionValue }, text));
  }
  if (value !== undefined && value !== null) node.value = String(value);
  return node;
}

/** A section of a form: a white card with a title. */
export function card(title, ...children) {
  return el("section", { class: "mk-card" }, title ? el("h2", { class: "mk-card-title" }, title) : null, ...children);
}

/** A card that edits one part of the definition (``path``), with a line for its problems. */
export function pathCard(path, title, ...children) {
  const node = card(title, ...children, problemLine());
  node.dataset.path = path;
  return node;
}

/**
 * Show each problem under the field whose path is the longest prefix of the problem's path
 * ("channels[1]" goes to "channels"); problems no field claims are returned for a general list.
 */
export function showProblems(root, problems) {
  const fields = [...root.querySelectorAll("[data-path]")];
  const byField = new Map(fields.map((node) => [node, []]));
  const unclaimed = [];
  for (const problem of problems) {
    let best = null;
    for (const node of fields) {
      const path = node.dataset.path;
      const fits = problem.path === path || problem.path.startsWith(`${path}.`) || problem.path.startsWith(`${path}[`);
      if (fits && (!best || path.length > best.dataset.path.length)) best = node;
    }
    if (best) byField.get(best).push(problem);
    else unclaimed.push(problem);
  }
  for (const [node, found] of byField) {
    const line = node.querySelector(":scope > .mk-problem");
    node.classList.toggle("has-problem", found.length > 0);
    if (!line) continue;
    line.hidden = found.length === 0;
    line.textContent = found
      .map((p) => (p.path === node.dataset.path ? p.message : `${p.path.slice(node.dataset.path.length).replace(/^\./, "")}: ${p.message}`))
      .join(" · ");
  }
  return unclaimed;
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog({ title, body, confirm, danger = false }) {
  return new Promise((resolve) => {
    const close = (answer) => {
      overlay.remove();
      resolve(answer);
    };
    const yes = el("button", { type: "button", class: `btn ${danger ? "btn-danger" : "btn-primary"}`, onclick: () => close(true) }, confirm);
    const overlay = el(
      "div",
      { class: "overlay", onkeydown: (event) => event.key === "Escape" && close(false) },
      el(
        "div",
        { class: "dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": "confirm-title" },
        el("header", { class: "dialog-head" }, el("h2", { id: "confirm-title" }, title)),
        el("p", { class: "mk-dialog-body" }, body),
        el(
          "div",
          { class: "mk-actions" },
          el("button", { type: "button", class: "btn", onclick: () => close(false) }, t("mk.cancel")),
          yes,
        ),
      ),
    );
    document.body.append(overlay);
    yes.focus();
  });
}

/**
 * Run ``load`` every ``ms`` while the page is visible (a hidden tab costs the server nothing), and
 * at once when the tab comes back; returns the function that stops it. The caller has loaded once.
 */
export function poll(load, ms) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (document.visibilityState === "visible") {
      try {
        await load();
      } catch {
        // The next round tries again; a lost session has already sent the browser to sign in.
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  const wake = () => {
    if (document.visibilityState === "visible" && timer !== null) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener("visibilitychange", wake);
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", wake);
  };
}

/** "Spring sale 2025!" -> "spring-sale-2025": the id rules of segments and campaigns. */
export function slugify(name) {
  return name
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[-_]+|-+$/g, "")
    .slice(0, 64);
}

/** Durations as campaigns write them ("30m", "2h", "7d", "1w"), split for a number + unit picker. */
export const SPAN_UNITS = ["m", "h", "d", "w"];

export function spanParts(value, fallbackUnit = "h") {
  if (typeof value === "number") {
    for (const [unit, seconds] of [["w", 604800], ["d", 86400], ["h", 3600], ["m", 60]]) {
      if (value > 0 && value % seconds === 0) return { amount: value / seconds, unit };
    }
    return { amount: Math.round(value / 60), unit: "m" };
  }
  const match = /^\s*(\d+)\s*([smhdw])\s*$/.exec(String(value ?? ""));
  if (!match) return { amount: "", unit: fallbackUnit };
  return match[2] === "s" ? { amount: Math.round(Number(match[1]) / 60), unit: "m" } : { amount: Number(match[1]), unit: match[2] };
}

export function spanPicker(value, onChange, { fallbackUnit = "h", label = "" } = {}) {
  const parts = spanParts(value, fallbackUnit);
  const amount = input({ type: "number", min: "1", step: "1", value: parts.amount, class: "input input--number", "aria-label": label });
  const unit = select(SPAN_UNITS.map((u) => [u, t(`span.${u}`)]), parts.unit, { "aria-label": label ? `${label} (${t("span.unit")})` : t("span.unit") });
  const changed = () => onChange(amount.value ? `${Math.max(1, Math.round(Number(amount.value)))}${unit.value}` : null);
  amount.addEventListener("input", changed);
  unit.addEventListener("change", changed);
  return el("span", { class: "mk-inline" }, amount, unit);
}

export function spanText(value) {
  const { amount, unit } = spanParts(value);
  if (amount === "") return String(value);
  return `${amount} ${t(amount === 1 ? `span.${unit}_one` : `span.${unit}`)}`;
}
