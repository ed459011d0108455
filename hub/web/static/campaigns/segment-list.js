/*
 * The saved segments: name, where each is defined (here or in a file next to the flows), how many
 * conditions, and how many customers match now (asked per segment after the list shows).
 */

import { api } from "../inbox/api.js";
import { el, fill } from "../inbox/dom.js";
import { relativeTime, t } from "../inbox/i18n.js";
import { segments as loadSegments } from "./data.js";
import { number } from "./ui.js";

function row(segment) {
  const size = el("td", { class: "num", dataset: { count: segment.id } }, "…");
  api(`/api/v1/segments/${segment.id}/preview?sample=0`)
    .then((result) => {
      size.textContent = number(result.count);
    })
    .catch(() => {
      size.textContent = "–";
    });
  const source = segment.source.startsWith("file:") ? t("segments.in_file", { file: segment.source.slice(5) }) : t("segments.in_hub");
  return el(
    "tr",
    { dataset: { segment: segment.id } },
    el(
      "td",
      {},
      el("a", { class: "mk-row-link", href: `#/segments/${segment.id}` }, segment.name),
      el("span", { class: "mk-sub" }, segment.id),
      segment.problems.length ? el("span", { class: "mk-problem" }, segment.problems.join(" · ")) : null,
    ),
    el("td", {}, segment.description || el("span", { class: "mk-muted" }, "–")),
    el("td", { class: "num" }, number(segment.conditions.length)),
    size,
    el("td", {}, el("span", { class: "mk-sub" }, source)),
    el("td", {}, el("time", { class: "mk-sub", datetime: segment.updated_at }, relativeTime(segment.updated_at))),
  );
}

export async function segmentList(container) {
  const segments = await loadSegments();
  fill(
    container,
    el(
      "header",
      { class: "mk-head" },
      el("div", {}, el("h1", { class: "mk-title" }, t("segments.title")), el("p", { class: "mk-lead" }, t("segments.lead"))),
      el("a", { class: "btn btn-primary", href: "#/new/segment" }, t("segments.new")),
    ),
    segments.length
      ? el(
          "div",
          { class: "mk-card mk-card--flush" },
          el(
            "table",
            { class: "mk-table", "aria-label": t("segments.title") },
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                el("th", {}, t("segments.name")),
                el("th", {}, t("segments.description")),
                el("th", { class: "num" }, t("segments.conditions")),
                el("th", { class: "num" }, t("segments.customers")),
                el("th", {}, t("segments.source")),
                el("th", {}, t("segments.updated")),
              ),
            ),
            el("tbody", {}, segments.map(row)),
          ),
        )
      : el("div", { class: "mk-empty" }, el("p", {}, t("segments.empty")), el("a", { class: "btn btn-primary", href: "#/new/segment" }, t("segments.new"))),
  );
  return null;
}
