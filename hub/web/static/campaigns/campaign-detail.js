/*
 * One campaign: its status and what it does, the actions its status allows (launch, pause, resume,
 * cancel, edit), its counters and funnel per variant (inline SVG), and why messages did not go out
 * (failure and skip reasons, fallbacks, messages held for quiet hours). Refreshed every few seconds
 * while visible.
 */

import { api } from "../inbox/api.js";
import { attempt, el, fill, toast } from "../inbox/dom.js";
import { money, t } from "../inbox/i18n.js";
import { segments as loadSegments } from "./data.js";
import { funnelChart } from "./funnel.js";
import { journeyCounts } from "./journey.js";
import { scheduleText } from "./schedule-text.js";
import { card, channelChip, channelName, confirmDialog, number, percent, poll, statusBadge } from "./ui.js";

const REFRESH_MS = 3000;
const KNOWN_SKIPS = ["no_consent", "no_reachable_channel", "frequency_cap", "already_received", "cancelled", "condition_met"];

function reasonText(kind, reason) {
  if (kind === "skipped" && KNOWN_SKIPS.includes(reason)) return t(`skip.${reason}`);
  return reason;
}

function reasonsTable(total) {
  const rows = [];
  for (const [reason, count] of Object.entries(total.failed || {})) rows.push(["failed", reason, count]);
  for (const [reason, count] of Object.entries(total.skipped || {})) rows.push(["skipped", reason, count]);
  rows.sort((a, b) => b[2] - a[2]);
  if (!rows.length) return el("p", { class: "mk-muted" }, t("detail.no_failures"));
  return el(
    "table",
    { class: "mk-table mk-table--compact", id: "failure-reasons", "aria-label": t("detail.reasons") },
    el("thead", {}, el("tr", {}, el("th", {}, t("detail.outcome")), el("th", {}, t("detail.reason")), el("th", { class: "num" }, t("detail.customers")))),
    el(
      "tbody",
      {},
      rows.map(([kind, reason, count]) =>
        el(
          "tr",
          { dataset: { kind, reason } },
          el("td", {}, el("span", { class: `badge badge--${kind === "failed" ? "failed" : "skipped"}` }, t(`detail.${kind}`))),
          el("td", {}, reasonText(kind, reason)),
          el("td", { class: "num" }, number(count)),
        ),
      ),
    ),
  );
}

function extraNotes(total) {
  const notes = [];
  for (const [channel, count] of Object.entries(total.fell_back_to || {})) {
    notes.push(el("li", {}, t("detail.fell_back", { n: number(count), channel: channelName(channel) })));
  }
  if (total.held) notes.push(el("li", {}, t("detail.held", { n: number(total.held) })));
  if (total.queued) notes.push(el("li", {}, t("detail.queued", { n: number(total.queued) })));
  return notes.length ? el("ul", { class: "mk-notes" }, notes) : null;
}

function stat(key, label, value, sub = null) {
  return el(
    "div",
    { class: "mk-stat", dataset: { stat: key } },
    el("span", { class: "mk-stat-label" }, label),
    el("strong", { class: "mk-stat-value" }, value),
    sub ? el("span", { class: "mk-stat-sub" }, sub) : null,
  );
}

export async function campaignDetail(container, campaignId) {
  let campaign = await api(`/api/v1/campaigns/${campaignId}`);
  let results = await api(`/api/v1/campaigns/${campaignId}/results`);
  const checked = await api("/api/v1/campaigns/check", { method: "POST", body: campaign.definition });
  const segmentNames = new Map((await loadSegments()).map((segment) => [segment.id, segment.name]));

  const head = el("header", { class: "mk-head" });
  const actions = el("div", { class: "mk-actions", id: "campaign-actions" });
  const stats = el("div", { class: "mk-stats", id: "campaign-stats" });
  const funnels = el("div", { class: "mk-funnels", id: "funnels" });
  const reasons = el("div", { id: "reasons" });
  const journey = el("div", {});
  const yaml = el("pre", { class: "mk-yaml" }, checked.yaml);

  async function act(action) {
    if (action === "cancel") {
      const sure = await confirmDialog({
        title: t("detail.cancel_title", { name: campaign.name }),
        body: t("detail.cancel_body"),
        confirm: t("detail.cancel"),
        danger: true,
      });
      if (!sure) return;
    }
    if (action === "launch") {
      const sure = await confirmDialog({
        title: t("editor.launch_title", { name: campaign.name }),
        body: scheduleText(campaign.definition.schedule),
        confirm: t("editor.launch"),
      });
      if (!sure) return;
    }
    if (action === "delete") {
      const sure = await confirmDialog({
        title: t("detail.delete_title", { name: campaign.name }),
        body: t("detail.delete_body"),
        confirm: t("detail.delete"),
        danger: true,
      });
      if (!sure) return;
      if ((await attempt(() => api(`/api/v1/campaigns/${campaignId}`, { method: "DELETE" }))) !== undefined) location.hash = "#/campaigns";
      return;
    }
    const updated = await attempt(() => api(`/api/v1/campaigns/${campaignId}/${action}`, { method: "POST" }));
    if (updated) {
      campaign = { ...campaign, ...updated };
      toast(t(`detail.done_${action}`), "info");
      render();
    }
  }

  function button(action, kind = "") {
    return el("button", { type: "button", class: `btn ${kind}`, dataset: { action }, onclick: () => act(action) }, t(`detail.${action}`));
  }

  function render() {
    const definition = campaign.definition || {};
    const status = campaign.status;
    fill(
      head,
      el(
        "div",
        {},
        el("a", { class: "mk-back", href: "#/campaigns" }, `← ${t("campaigns.title")}`),
        el("h1", { class: "mk-title" }, campaign.name, " ", statusBadge(status)),
        el(
          "p",
          { class: "mk-lead" },
          el("span", { class: "mk-sub" }, campaign.id),
          " · ",
          scheduleText(definition.schedule),
          " · ",
          typeof definition.audience === "string"
            ? t("detail.audience", { segment: segmentNames.get(definition.audience) ?? definition.audience })
            : t("campaigns.inline_audience"),
          " ",
          el("span", { class: "mk-chips" }, (definition.channels || []).map(channelChip)),
        ),
      ),
      actions,
    );
    const editable = status === "draft" || status === "paused";
    fill(
      actions,
      editable ? el("a", { class: "btn", href: `#/campaigns/${campaignId}/edit`, dataset: { action: "edit" } }, t("detail.edit")) : null,
      status === "draft" ? button("delete", "btn-ghost") : null,
      status === "running" || status === "scheduled" ? button("pause") : null,
      status === "paused" ? button("resume", "btn-primary") : null,
      !["cancelled", "completed", "draft"].includes(status) ? button("cancel", "btn-danger") : null,
      status === "draft" ? button("launch", "btn-primary") : null,
    );
    const variants = results.variants || {};
    const total = variants.total || { planned: 0, sent: 0, delivered: 0, read: 0, failed: {}, skipped: {}, clicked: 0, replied: 0, converted: 0, revenue: 0 };
    const failed = Object.values(total.failed || {}).reduce((a, b) => a + b, 0);
    const skipped = Object.values(total.skipped || {}).reduce((a, b) => a + b, 0);
    fill(
      stats,
      stat("planned", t("funnel.planned"), number(total.planned), skipped ? t("detail.skipped_n", { n: number(skipped) }) : null),
      stat("sent", t("funnel.sent"), number(total.sent), percent(total.sent, total.planned)),
      stat("delivered", t("funnel.delivered"), number(total.delivered), percent(total.delivered, total.planned)),
      stat("failed", t("funnel.failed"), number(failed), percent(failed, total.planned)),
      stat("clicked", t("funnel.clicked"), number(total.clicked), percent(total.clicked, total.planned)),
      stat("converted", t("funnel.converted"), number(total.converted), t("detail.revenue", { amount: money(total.revenue || 0) })),
    );
    const variantNames = Object.keys(variants).filter((key) => key !== "total");
    const charts = [
      ["total", t("detail.total"), total],
      ...(variantNames.length > 1 ? variantNames.map((name) => [name, t("detail.variant", { name }), variants[name]]) : []),
    ];
    // A journey: each message step's funnel too, in the journey's order.
    const steps = Object.entries(results.steps || {}).map(([name, step]) => [`step:${name}`, t("detail.step", { name }), step.total]);
    fill(
      funnels,
      [...charts, ...steps].map(([key, caption, funnel]) =>
        el("figure", { class: "mk-funnel", dataset: { variant: key } }, el("figcaption", {}, caption), funnelChart(funnel, caption)),
      ),
    );
    fill(reasons, reasonsTable(total), extraNotes(total));
    fill(journey, results.journeys ? journeyCounts(results.journeys) : null);
  }

  fill(
    container,
    head,
    stats,
    el("div", { class: "mk-columns" }, card(t("detail.funnel"), funnels), el("div", { class: "mk-stack" }, card(t("detail.reasons"), reasons), journey)),
    card(null, el("details", { class: "mk-details" }, el("summary", {}, t("editor.yaml")), yaml)),
  );
  render();

  return poll(async () => {
    [campaign, results] = await Promise.all([api(`/api/v1/campaigns/${campaignId}`), api(`/api/v1/campaigns/${campaignId}/results`)]);
    render();
  }, REFRESH_MS);
}
