/*
 * A report's table as the API sends it (columns with a kind, rows), with headers and values in the
 * page's language. Names the hub makes up ("Unassigned", "No team", metric keys, channel types) are
 * translated; names people gave (agents, teams, campaigns) are shown as they are.
 */

import { el, fill } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { cell } from "./format.js";

/** Texts for values that are keys rather than names. */
function shown(report, column, row) {
  const value = row[column.key];
  if (column.key === "metric") return t(`rp.metric_${value}`);
  if (column.key === "channel") return t(`rp.channel_${value}`) === `rp.channel_${value}` ? value : t(`rp.channel_${value}`);
  if (column.key === "agent" && row.agent_id === null) return t("rp.unassigned");
  if (column.key === "team" && report.report === "teams" && row.team_id === null) return t("rp.no_team");
  if (column.key === "team" && report.report === "bot-handoffs" && value === null) return t("rp.any_team");
  if (column.key === "variant" && value === "total") return t("rp.variant_total");
  return cell(column.kind, value);
}

/** Render ``report`` into ``container``; ``hide`` lists column keys not shown (ids). */
export function renderTable(container, report, { hide = [], empty = "rp.empty" } = {}) {
  const columns = report.columns.filter((column) => !hide.includes(column.key));
  if (!report.rows.length) {
    fill(container, el("p", { class: "rp-empty" }, t(empty)));
    return;
  }
  const head = el(
    "tr",
    {},
    columns.map((column) => el("th", { scope: "col", class: column.kind === "text" || column.kind === "date" ? "" : "rp-num" }, t(`rp.col_${column.key}`))),
  );
  const body = report.rows.map((row) =>
    el(
      "tr",
      {},
      columns.map((column, index) =>
        el(index === 0 ? "th" : "td", { scope: index === 0 ? "row" : null, class: column.kind === "text" || column.kind === "date" ? "" : "rp-num", "data-key": column.key }, shown(report, column, row)),
      ),
    ),
  );
  fill(container, el("table", { class: "rp-tbl", "data-report": report.report }, el("thead", {}, head), el("tbody", {}, body)));
}
