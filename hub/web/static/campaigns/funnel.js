/*
 * A campaign's funnel as an inline SVG: one horizontal bar per stage (planned, sent, delivered, read,
 * clicked, replied, converted), each as long as its share of the planned messages, with the count
 * and the share written next to it. Hand-written SVG: the page loads nothing from elsewhere.
 */

import { t } from "../inbox/i18n.js";
import { number, percent } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
export const STAGES = ["planned", "sent", "delivered", "read", "clicked", "replied", "converted"];
const ROW = 30;
const LABEL_WIDTH = 110;
const BAR_WIDTH = 300;
const WIDTH = LABEL_WIDTH + BAR_WIDTH + 120;

function node(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** The chart for one variant's (or the total) funnel from the results endpoint. */
export function funnelChart(funnel, caption) {
  const planned = funnel.planned || 0;
  const height = STAGES.length * ROW + 8;
  const summary = STAGES.map((stage) => `${t(`funnel.${stage}`)} ${number(funnel[stage] || 0)}`).join(", ");
  const svg = node("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    // Drawn at its own size (text stays the page's size), narrower screens scale it down.
    width: WIDTH,
    height,
    role: "img",
    class: "funnel",
    "aria-label": `${caption}: ${summary}`,
  });
  svg.append(node("title", {}, `${caption}: ${summary}`));
  STAGES.forEach((stage, index) => {
    const value = funnel[stage] || 0;
    const y = index * ROW + 4;
    const length = planned ? Math.max(value > 0 ? 3 : 0, (value / planned) * BAR_WIDTH) : 0;
    const row = node("g", { class: "funnel-row", "data-stage": stage, "data-value": value });
    row.append(
      node("text", { x: 0, y: y + 17, class: "funnel-label" }, t(`funnel.${stage}`)),
      node("rect", { x: LABEL_WIDTH, y: y + 3, width: BAR_WIDTH, height: ROW - 10, rx: 5, class: "funnel-track" }),
      node("rect", { x: LABEL_WIDTH, y: y + 3, width: length.toFixed(1), height: ROW - 10, rx: 5, class: `funnel-bar funnel-bar--${stage}` }),
      node(
        "text",
        { x: LABEL_WIDTH + BAR_WIDTH + 10, y: y + 17, class: "funnel-value" },
        stage === "planned" ? number(value) : `${number(value)} · ${percent(value, planned)}`,
      ),
    );
    svg.append(row);
  });
  return svg;
}
