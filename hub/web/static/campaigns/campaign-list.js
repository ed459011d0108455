/*
 * Every campaign with its status, schedule, audience and live counters (planned, sent, delivered,
 * failed), refreshed every few seconds while the tab is visible. A row opens the campaign.
 */

import { api } from "../inbox/api.js";
import { el, fill } from "../inbox/dom.js";
import { relativeTime, t } from "../inbox/i18n.js";
import { segments as loadSegments } from "./data.js";
import { scheduleText } from "./schedule-text.js";
import { channelChip, number, poll, statusBadge } from "./ui.js";

const REFRESH_MS = 3000;
const COUNTERS = ["planned", "sent", "delivered", "failed"];

function audienceText(audience, names) {
  if (typeof audience === "string") return names.get(audience) ?? audience;
  return t("campaigns.inline_audience");
}

function row(campaign, names) {
  const definition = campaign.definition || {};
  return el(
    "tr",
    { dataset: { campaign: campaign.id } },
    el(
      "td",
      {},
      el("a", { class: "mk-row-link", href: `#/campaigns/${campaign.id}` }, campaign.name),
      el("span", { class: "mk-sub" }, campaign.id),
    ),
    el("td", {}, statusBadge(campaign.status)),
    el("td", { class: "mk-schedule" }, scheduleText(definition.schedule)),
    el("td", {}, audienceText(definition.audience, names)),
    el("td", {}, el("span", { class: "mk-chips" }, (definition.channels || []).map(channelChip))),
    ...COUNTERS.map((key) =>
      el("td", { class: `num num--${key}`, dataset: { counter: key } }, number(campaign.counters[key])),
    ),
    el("td", {}, el("time", { class: "mk-sub", datetime: campaign.updated_at }, relativeTime(campaign.updated_at))),
  );
}

export async function campaignList(container) {
  const body = el("tbody", { id: "campaign-rows" });
  const empty = el(
    "div",
    { class: "mk-empty", hidden: true },
    el("p", {}, t("campaigns.empty")),
    el("a", { class: "btn btn-primary", href: "#/new/campaign" }, t("campaigns.new")),
  );
  const table = el(
    "table",
    { class: "mk-table", "aria-label": t("campaigns.title") },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", {}, t("campaigns.name")),
        el("th", {}, t("campaigns.status")),
        el("th", {}, t("campaigns.schedule")),
        el("th", {}, t("campaigns.audience")),
        el("th", {}, t("campaigns.channels")),
        ...COUNTERS.map((key) => el("th", { class: "num" }, t(`funnel.${key}`))),
        el("th", {}, t("campaigns.updated")),
      ),
    ),
    body,
  );
  const wrap = el("div", { class: "mk-card mk-card--flush" }, table);
  fill(
    container,
    el(
      "header",
      { class: "mk-head" },
      el("div", {}, el("h1", { class: "mk-title" }, t("campaigns.title")), el("p", { class: "mk-lead" }, t("campaigns.lead"))),
      el("a", { class: "btn btn-primary", href: "#/new/campaign" }, t("campaigns.new")),
    ),
    wrap,
    empty,
  );

  // Segment names for the audience column (a campaign names its segment by id).
  const names = new Map((await loadSegments()).map((segment) => [segment.id, segment.name]));
  async function load() {
    const campaigns = await api("/api/v1/campaigns");
    fill(body, campaigns.map((campaign) => row(campaign, names)));
    wrap.hidden = campaigns.length === 0;
    empty.hidden = campaigns.length > 0;
  }
  await load();
  return poll(load, REFRESH_MS);
}
