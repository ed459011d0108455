/*
 * A multi-step campaign's journey (``steps:``, docs/campaigns.md "Journeys") shown as written:
 * messages, waits, branches on what the last message led to, jumps and ends, nested the way the
 * branches nest. The editor does not change steps (they are edited in YAML or through the API); it
 * shows them and saves them back untouched.
 */

import { el } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { card, channelName, pathCard, spanText } from "./ui.js";

const isMapping = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

function firstText(content) {
  const entry = isMapping(content) ? content.default ?? Object.values(content)[0] : undefined;
  const text = isMapping(entry) && "text" in entry ? entry.text : entry;
  if (typeof text === "string") return text;
  if (isMapping(text)) return text.en ?? Object.values(text)[0] ?? "";
  return "";
}

function waitText(wait) {
  if (isMapping(wait)) {
    const until = wait.until ? t("journey.until", { outcome: t(`outcome.${wait.until}`) }) : "";
    const timeout = wait.timeout ? t("journey.at_most", { span: spanText(wait.timeout) }) : "";
    return [t("journey.wait"), until, timeout].filter(Boolean).join(" ");
  }
  return `${t("journey.wait")} ${spanText(wait)}`;
}

function stepNode(step, index) {
  if (!isMapping(step)) return el("li", { class: "mk-step" }, String(step));
  const named = step.name ? el("span", { class: "mk-sub" }, step.name) : null;
  if ("send" in step) {
    const channels = Array.isArray(step.channels) ? ` · ${step.channels.map(channelName).join(", ")}` : "";
    return el(
      "li",
      { class: "mk-step mk-step--send", dataset: { step: String(step.send) } },
      el("strong", {}, t("journey.send", { name: step.send }), el("span", { class: "mk-sub" }, channels)),
      el("p", { class: "mk-step-text" }, firstText(step.content)),
    );
  }
  if ("wait" in step) return el("li", { class: "mk-step" }, el("strong", {}, waitText(step.wait)), named);
  if ("branch" in step && isMapping(step.branch)) {
    return el(
      "li",
      { class: "mk-step" },
      el("strong", {}, t("journey.branch")),
      named,
      el(
        "dl",
        { class: "mk-cases" },
        Object.entries(step.branch).flatMap(([outcome, then]) => [
          el("dt", {}, t(`outcome.${outcome}`)),
          el("dd", {}, caseText(then)),
        ]),
      ),
    );
  }
  if ("goto" in step) return el("li", { class: "mk-step" }, t("journey.goto", { name: step.goto }));
  if ("end" in step || step === "end") return el("li", { class: "mk-step" }, t("journey.end"));
  return el("li", { class: "mk-step" }, t("editor.step", { n: index + 1 }), " ", JSON.stringify(step));
}

/** A branch case: its own steps, ``end``, or the name of a later step to go to. */
function caseText(then) {
  if (Array.isArray(then)) return stepList(then);
  return then === "end" ? t("journey.end") : t("journey.goto", { name: then });
}

function stepList(steps) {
  const items = steps.map((step, index) => (step === "end" ? el("li", { class: "mk-step" }, t("journey.end")) : stepNode(step, index)));
  return el("ol", { class: "mk-steps" }, items);
}

export function journeySection(ctx) {
  const steps = ctx.draft.steps;
  if (!Array.isArray(steps) || !steps.length) return null;
  const section = pathCard("steps", t("editor.journey"), el("p", { class: "mk-hint" }, t("editor.journey_hint")), stepList(steps));
  section.id = "journey-steps";
  return section;
}

/** " (tips: 3, nudge: 1)" */
function listed(pairs) {
  return pairs.length ? ` (${pairs.map(([name, n]) => `${name || "–"}: ${n}`).join(", ")})` : "";
}

/** Where a journey's customers are (results.journeys): entered, on their way, completed, exited. */
export function journeyCounts(counts) {
  const exited = Object.entries(counts.exited || {});
  const at = Object.entries(counts.at_step || {});
  return card(
    t("journey.customers"),
    el(
      "ul",
      { class: "mk-notes", id: "journey-counts" },
      el("li", {}, t("journey.entered", { n: counts.entered })),
      el("li", {}, t("journey.active", { n: counts.active }), listed(at)),
      el("li", {}, t("journey.completed", { n: counts.completed })),
      el("li", {}, t("journey.exited", { n: exited.reduce((sum, [, n]) => sum + n, 0) }), listed(exited)),
    ),
  );
}
