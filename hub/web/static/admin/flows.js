/*
 * Flows: whether the flow files are valid (the problems that keep the folder's current files from
 * being activated, by file and line), the active flows and earlier versions still finishing, and the
 * chosen flow's diagram (the server draws the SVG; it is shown as an image, so nothing in it runs).
 */

import { api } from "../inbox/api.js";
import { el, fill } from "../inbox/dom.js";
import { plural, t } from "../inbox/i18n.js";
import { badge, card, empty, heading, notice, table, when } from "./ui.js";

function flowQuery(flow) {
  return flow.active ? "" : `?version=${encodeURIComponent(flow.version)}`;
}

function validity(list) {
  if (list.problems.length) {
    return notice(
      "bad",
      el("strong", {}, t("adm.flows.invalid")),
      el("ul", { class: "adm-problems" }, ...list.problems.map((p) => el("li", {}, el("code", { class: "adm-code" }, p.text)))),
    );
  }
  const reload = list.reload;
  return notice(
    "ok",
    el("strong", {}, t("adm.flows.valid")),
    reload ? el("span", { class: "muted" }, " ", t("adm.flows.folder", { folder: reload.folder }), " · ", t("adm.flows.loaded"), " ", when(reload.loaded_at)) : null,
  );
}

async function showFlow(panel, flow) {
  const detail = await api(`/api/v1/flows/${encodeURIComponent(flow.id)}${flowQuery(flow)}`);
  const image = el("img", {
    class: "adm-diagram",
    src: `/api/v1/flows/${encodeURIComponent(flow.id)}/diagram.svg${flowQuery(flow)}`,
    alt: t("adm.flows.diagram_alt", { flow: flow.id }),
  });
  fill(
    panel,
    card(
      `${detail.id} · ${detail.version}`,
      detail.description ? el("p", { class: "adm-lead" }, detail.description) : null,
      el("p", { class: "muted" }, t("adm.flows.file", { file: detail.file })),
      el("div", { class: "adm-diagram-wrap" }, image),
    ),
    card(
      t("adm.flows.steps"),
      table(
        [t("adm.flows.step"), t("adm.flows.kind"), t("adm.flows.line"), t("adm.flows.goes_to")],
        detail.steps.map((step) => [
          el("code", { class: "adm-code" }, step.name),
          step.kind,
          String(step.line),
          step.links.map((link) => link.target).join(", "),
        ]),
      ),
    ),
  );
}

export async function flowsTab(container) {
  const list = await api("/api/v1/flows");
  const panel = el("div", { class: "adm-flow-panel" });
  const items = list.flows.map((flow) => {
    const button = el(
      "button",
      { type: "button", class: "adm-flow", dataset: { flow: flow.id, version: flow.version }, "aria-pressed": "false" },
      el("span", { class: "adm-flow-top" }, el("strong", {}, flow.id), flow.active ? badge("ok", t("adm.flows.active")) : badge("idle", t("adm.flows.retired"))),
      el("span", { class: "adm-flow-desc" }, flow.description || flow.file),
      el(
        "span",
        { class: "muted" },
        plural("adm.flows.step_count", flow.step_count),
        " · ",
        plural("adm.flows.trigger_count", flow.triggers.length),
        " · ",
        plural("adm.flows.waiting", flow.waiting),
      ),
    );
    button.addEventListener("click", () => {
      for (const other of container.querySelectorAll(".adm-flow")) other.setAttribute("aria-pressed", String(other === button));
      showFlow(panel, flow).catch((error) => fill(panel, notice("bad", error.message)));
    });
    return button;
  });
  fill(
    container,
    heading("adm.flows.title", "adm.flows.lead"),
    validity(list),
    list.flows.length
      ? el("div", { class: "adm-split" }, el("div", { class: "adm-flow-list" }, ...items), panel)
      : empty(t("adm.flows.none")),
  );
  if (items.length) items[0].click();
}
