/*
 * SLA policies: response and resolution targets for conversations, matched by team, priority and
 * channel (the most specific enabled policy applies), counted in business hours when asked, with the
 * share of the target after which a conversation shows as at risk.
 */

import { api } from "../inbox/api.js";
import { el, fill, toast } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { badge, card, empty, field, heading, input, notice, onSubmit, select, table } from "./ui.js";

const PRIORITIES = ["low", "normal", "high", "urgent"];
const TARGETS = ["first_response_minutes", "next_response_minutes", "resolution_minutes"];

/** 90 -> "1 h 30 min", 2880 -> "2 d". */
export function minutesText(minutes) {
  if (minutes === null || minutes === undefined) return "—";
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  const parts = [];
  if (days) parts.push(t("adm.sla.days", { n: days }));
  if (hours) parts.push(t("adm.sla.hours", { n: hours }));
  if (rest || !parts.length) parts.push(t("adm.sla.minutes", { n: rest }));
  return parts.join(" ");
}

function scope(policy, teams) {
  const parts = [];
  if (policy.team_id !== null) parts.push(teams.get(policy.team_id) || `#${policy.team_id}`);
  if (policy.priority) parts.push(t(`priority.${policy.priority}`));
  if (policy.channel_type) parts.push(policy.channel_type);
  return parts.length ? parts.join(" · ") : t("adm.sla.everything");
}

export async function slaTab(container) {
  let policies;
  try {
    policies = await api("/api/v1/sla-policies");
  } catch (error) {
    if (error.status !== 404) throw error;
    fill(container, heading("adm.sla.title", "adm.sla.lead"), notice("warn", t("adm.sla.unavailable")));
    return;
  }
  const [teamList, channels] = await Promise.all([api("/api/v1/teams"), api("/api/v1/workspace/channels")]);
  const teams = new Map(teamList.map((team) => [team.id, team.name]));
  const channelTypes = [...new Set(channels.map((channel) => channel.type))].sort();
  const list = el("div");
  const formBox = el("div");
  let editing = null;

  function form(policy) {
    editing = policy;
    const name = input({ name: "name", required: true, maxlength: 200, value: policy?.name ?? "" });
    const team = select([["", t("adm.sla.any_team")], ...teamList.map((x) => [String(x.id), x.name])], policy?.team_id != null ? String(policy.team_id) : "", { name: "team" });
    const priority = select([["", t("adm.sla.any_priority")], ...PRIORITIES.map((p) => [p, t(`priority.${p}`)])], policy?.priority ?? "", { name: "priority" });
    const channel = select([["", t("adm.sla.any_channel")], ...channelTypes.map((c) => [c, c])], policy?.channel_type ?? "", { name: "channel" });
    const targets = TARGETS.map((key) => input({ name: key, type: "number", min: 1, step: 1, placeholder: t("adm.sla.no_target"), value: policy?.[key] ?? "" }));
    const businessHours = el("input", { type: "checkbox", name: "business_hours", checked: policy ? policy.business_hours : true });
    const atRisk = input({ name: "at_risk_percent", type: "number", min: 1, max: 99, required: true, value: policy?.at_risk_percent ?? 80 });
    const enabled = el("input", { type: "checkbox", name: "enabled", checked: policy ? policy.enabled : true });
    const cancel = el("button", { type: "button", class: "btn btn-ghost" }, t("adm.cancel"));
    cancel.addEventListener("click", () => form(null));
    const node = el(
      "form",
      { class: "adm-form", "aria-label": t(policy ? "adm.sla.edit" : "adm.sla.new") },
      field(t("adm.sla.name"), name),
      el("div", { class: "adm-row" }, field(t("adm.sla.team"), team), field(t("adm.sla.priority"), priority), field(t("adm.sla.channel"), channel)),
      el("div", { class: "adm-row" }, ...TARGETS.map((key, i) => field(t(`adm.sla.${key}`), targets[i], t("adm.sla.in_minutes")))),
      el(
        "div",
        { class: "adm-row" },
        field(t("adm.sla.at_risk"), atRisk, t("adm.sla.at_risk_hint")),
        el("label", { class: "adm-check" }, businessHours, t("adm.sla.business_hours")),
        el("label", { class: "adm-check" }, enabled, t("adm.sla.enabled")),
      ),
      el("div", { class: "adm-form-actions" }, policy ? cancel : null, el("button", { type: "submit", class: "btn btn-primary" }, t(policy ? "adm.save" : "adm.sla.create"))),
    );
    onSubmit(node, async () => {
      const body = {
        name: name.value.trim(),
        team_id: team.value ? Number(team.value) : null,
        priority: priority.value || null,
        channel_type: channel.value || null,
        business_hours: businessHours.checked,
        at_risk_percent: Number(atRisk.value),
        enabled: enabled.checked,
      };
      TARGETS.forEach((key, i) => (body[key] = targets[i].value ? Number(targets[i].value) : null));
      if (editing) await api(`/api/v1/sla-policies/${editing.id}`, { method: "PATCH", body });
      else await api("/api/v1/sla-policies", { method: "POST", body });
      toast(t("adm.saved"), "info");
      form(null);
      await refresh();
    });
    fill(formBox, card(t(policy ? "adm.sla.edit" : "adm.sla.new"), node));
  }

  async function refresh() {
    policies = await api("/api/v1/sla-policies");
    const rows = policies.map((policy) => {
      const edit = el("button", { type: "button", class: "btn btn-small" }, t("adm.edit"));
      edit.addEventListener("click", () => {
        form(policy);
        formBox.scrollIntoView({ block: "nearest" });
      });
      const remove = el("button", { type: "button", class: "btn btn-small btn-ghost" }, t("adm.delete"));
      remove.addEventListener("click", async () => {
        if (!confirm(t("adm.sla.delete_confirm", { name: policy.name }))) return;
        try {
          await api(`/api/v1/sla-policies/${policy.id}`, { method: "DELETE" });
          await refresh();
        } catch (error) {
          toast(error.message);
        }
      });
      return [
        el("strong", {}, policy.name),
        scope(policy, teams),
        ...TARGETS.map((key) => minutesText(policy[key])),
        policy.business_hours ? t("adm.sla.business_time") : t("adm.sla.clock_time"),
        `${policy.at_risk_percent}%`,
        policy.enabled ? badge("ok", t("adm.sla.on")) : badge("idle", t("adm.sla.off")),
        el("span", { class: "adm-row-actions" }, edit, remove),
      ];
    });
    fill(
      list,
      policies.length
        ? table(
            [
              t("adm.sla.name"),
              t("adm.sla.applies_to"),
              ...TARGETS.map((key) => t(`adm.sla.${key}`)),
              t("adm.sla.counted_in"),
              t("adm.sla.at_risk_short"),
              t("adm.sla.state"),
              "",
            ],
            rows,
            { label: t("adm.sla.title"), rowData: policies.map((policy) => ({ policy: policy.name })) },
          )
        : empty(t("adm.sla.none")),
    );
  }

  fill(container, heading("adm.sla.title", "adm.sla.lead"), card(null, list), formBox);
  form(null);
  await refresh();
}
