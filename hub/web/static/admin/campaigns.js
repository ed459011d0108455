/*
 * Campaigns, read only: what exists and in which state. Marketers build and launch them in
 * /campaigns, where each row links.
 */

import { api } from "../inbox/api.js";
import { el, fill } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { badge, card, empty, heading, table, when } from "./ui.js";

const STATUS_KIND = { draft: "idle", scheduled: "info", running: "ok", paused: "warn", completed: "ok", cancelled: "bad" };

export async function campaignsTab(container) {
  const campaigns = await api("/api/v1/campaigns");
  const open = el("a", { class: "btn", href: "/campaigns" }, t("adm.campaigns.open"));
  fill(
    container,
    heading("adm.campaigns.title", "adm.campaigns.lead", open),
    card(
      null,
      campaigns.length
      ? table(
          [t("adm.campaigns.name"), t("adm.campaigns.status"), t("adm.campaigns.source"), t("adm.campaigns.launched"), t("adm.campaigns.updated")],
          campaigns.map((campaign) => [
            el("a", { href: `/campaigns#/campaigns/${encodeURIComponent(campaign.id)}` }, campaign.name || campaign.id),
            badge(STATUS_KIND[campaign.status] || "idle", t(`adm.campaigns.state.${campaign.status}`)),
            el("span", { class: "muted" }, campaign.source),
            when(campaign.launched_at),
            when(campaign.updated_at),
          ]),
          { label: t("adm.campaigns.title") },
        )
      : empty(t("adm.campaigns.none")),
    ),
  );
}
