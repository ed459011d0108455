/*
 * The audit log: who changed what (settings, roles, tokens, merges, consent, exports, erasures,
 * campaign launches...), newest first, filtered by action, person, target and dates, in pages.
 */

import { api, query } from "../inbox/api.js";
import { el, fill } from "../inbox/dom.js";
import { fullTime, t } from "../inbox/i18n.js";
import { card, empty, field, heading, input, select, table } from "./ui.js";

const PAGE = 50;

function actionText(action) {
  const key = `adm.audit.action.${action}`;
  const text = t(key);
  return text === key ? action : text;
}

/** {"role": ["agent", "supervisor"], "merged_id": 4} -> "role: agent → supervisor · merged_id: 4". */
function detailsText(details) {
  const shown = (value) => (value === null ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value));
  return Object.entries(details)
    .map(([key, value]) => {
      if (Array.isArray(value) && value.length === 2 && !value.some((v) => typeof v === "object" && v !== null)) {
        return `${key}: ${shown(value[0])} → ${shown(value[1])}`;
      }
      return `${key}: ${Array.isArray(value) ? value.map(shown).join(", ") : shown(value)}`;
    })
    .join(" · ");
}

/** A date input's day as the start of that day in the admin's time zone. */
function dayStart(value, plusDays = 0) {
  if (!value) return undefined;
  const date = new Date(`${value}T00:00`);
  date.setDate(date.getDate() + plusDays);
  return date.toISOString();
}

export async function auditTab(container) {
  const [actions, agents] = await Promise.all([api("/api/v1/audit/actions"), api("/api/v1/agents")]);
  const action = select([["", t("adm.audit.any_action")], ...actions.map((a) => [a, actionText(a)])], "", { name: "action" });
  const actor = select([["", t("adm.audit.anyone")], ["system", t("adm.audit.system")], ...agents.map((a) => [String(a.id), a.name])], "", { name: "actor" });
  const targetType = select(
    [["", t("adm.audit.any_target")], ...["customer", "agent", "team", "token", "campaign", "sla_policy", "business_hours"].map((x) => [x, x])],
    "",
    { name: "target_type" },
  );
  const targetId = input({ name: "target_id", maxlength: 64, placeholder: t("adm.audit.target_id"), "aria-label": t("adm.audit.target_id") });
  const from = input({ type: "date", name: "from", class: "input adm-date" });
  const to = input({ type: "date", name: "to", class: "input adm-date" });
  const filters = el(
    "form",
    { class: "adm-filters", "aria-label": t("adm.audit.filters") },
    field(t("adm.audit.action"), action),
    field(t("adm.audit.who"), actor),
    field(t("adm.audit.target"), el("span", { class: "adm-inline" }, targetType, targetId)),
    field(t("adm.audit.from"), from),
    field(t("adm.audit.to"), to),
  );
  const results = el("div");
  const more = el("button", { type: "button", class: "btn", hidden: true }, t("adm.audit.older"));
  let rows = [];
  let cursor = null;

  function params() {
    return {
      action: action.value,
      actor: actor.value,
      target_type: targetType.value,
      target_id: targetId.value.trim(),
      from: dayStart(from.value),
      to: dayStart(to.value, 1),
      limit: PAGE,
    };
  }

  function render() {
    fill(
      results,
      rows.length
        ? table(
            [t("adm.audit.when"), t("adm.audit.who"), t("adm.audit.action"), t("adm.audit.target"), t("adm.audit.details")],
            rows.map((entry) => [
              el("time", { datetime: entry.at }, fullTime(entry.at)),
              el("span", { title: entry.actor }, entry.actor_name || (entry.actor === "system" ? t("adm.audit.system") : entry.actor)),
              el("span", { class: "adm-action", title: entry.action }, actionText(entry.action)),
              `${entry.target_type} #${entry.target_id}`,
              el("span", { class: "adm-details" }, detailsText(entry.details)),
            ]),
            { label: t("adm.audit.title"), rowData: rows.map((entry) => ({ action: entry.action })) },
          )
        : empty(t("adm.audit.none")),
    );
    more.hidden = cursor === null;
  }

  async function load(reset) {
    const page = await api(`/api/v1/audit?${query({ ...params(), cursor: reset ? undefined : cursor })}`);
    rows = reset ? page.entries : rows.concat(page.entries);
    cursor = page.next_cursor;
    render();
  }

  filters.addEventListener("change", () => load(true));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  fill(container, heading("adm.audit.title", "adm.audit.lead"), card(null, filters), card(null, results, el("div", { class: "adm-more" }, more)));
  await load(true);
}
