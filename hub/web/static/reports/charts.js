/*
 * Charts as hand-written inline SVG (no chart library, nothing from a CDN): bars over time, lines,
 * the weekday x hour heatmap, horizontal bars (channels, CSAT, handoff reasons) and campaign funnels.
 * Every chart scales to its card (viewBox, width 100%); every mark has a <title> with its exact
 * figure, so hovering tells the number and screen readers can read it.
 */

import { t } from "../inbox/i18n.js";
import { count, day, percent, weekday } from "./format.js";

const NS = "http://www.w3.org/2000/svg";

/** An SVG element; string children become text. */
export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function frame(width, height, label, ...children) {
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "rp-svg", role: "img", "aria-label": label }, s("title", {}, label), ...children);
}

/** Round axis steps (1, 2, 5 x 10^n) so the grid reads 0, 50, 100... */
export function niceMax(max, ticks = 4) {
  if (max <= 0) return { top: ticks, step: 1 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  return { top: step * Math.ceil(max / step), step };
}

function yAxis(width, top, plotTop, plotHeight, left, step) {
  const lines = [];
  for (let value = 0; value <= top; value += step) {
    const y = plotTop + plotHeight - (value / top) * plotHeight;
    lines.push(s("line", { x1: left, x2: width - 8, y1: y, y2: y, class: value === 0 ? "rp-axis" : "rp-gridline" }));
    lines.push(s("text", { x: left - 8, y: y + 4, class: "rp-tick", "text-anchor": "end" }, count(value)));
  }
  return lines;
}

/** Labels under a time axis: one per ~70 px, so 90 days stay legible at any width. */
function every(length, width) {
  return Math.max(1, Math.ceil(length / Math.max(2, Math.floor(width / 70))));
}

/** Vertical bars, one per point ({label, value}); ``label`` is a YYYY-MM-DD day. ``width`` is the
 * container's, so text is drawn at its real size. */
export function barChart(points, { name, width = 760, height = 220 } = {}) {
  const left = 48;
  const plotTop = 12;
  const plotHeight = height - 44;
  const max = Math.max(0, ...points.map((p) => p.value));
  const { top, step } = niceMax(max);
  const slot = (width - left - 8) / Math.max(1, points.length);
  const barWidth = Math.max(2, Math.min(28, slot * 0.7));
  const skip = every(points.length, width);
  const bars = points.map((point, index) => {
    const barHeight = top ? (point.value / top) * plotHeight : 0;
    const x = left + index * slot + (slot - barWidth) / 2;
    return s(
      "rect",
      { class: "rp-bar", x, y: plotTop + plotHeight - barHeight, width: barWidth, height: Math.max(0, barHeight), rx: 2, "data-value": point.value },
      s("title", {}, `${day(point.label)}: ${count(point.value)}`),
    );
  });
  const labels = points.map((point, index) =>
    index % skip === 0 ? s("text", { x: left + index * slot + slot / 2, y: height - 10, class: "rp-tick", "text-anchor": "middle" }, day(point.label)) : null,
  );
  return frame(width, height, name, ...yAxis(width, top, plotTop, plotHeight, left, step), s("g", { class: "rp-bars" }, bars), ...labels);
}

/** Lines over the same days, one per series ({name, values, className}). */
export function lineChart(days, series, { name, width = 760, height = 200 } = {}) {
  const left = 48;
  const plotTop = 12;
  const plotHeight = height - 44;
  const max = Math.max(0, ...series.flatMap((line) => line.values));
  const { top, step } = niceMax(max);
  const slot = (width - left - 8) / Math.max(1, days.length);
  const x = (index) => left + index * slot + slot / 2;
  const y = (value) => plotTop + plotHeight - (top ? (value / top) * plotHeight : 0);
  const skip = every(days.length, width);
  const lines = series.map((line) =>
    s(
      "g",
      { class: `rp-line ${line.className}`, "data-series": line.key },
      s("polyline", { points: line.values.map((value, index) => `${x(index).toFixed(1)},${y(value).toFixed(1)}`).join(" "), fill: "none" }),
      line.values.map((value, index) =>
        s("circle", { cx: x(index), cy: y(value), r: days.length > 45 ? 1.5 : 3 }, s("title", {}, `${line.name}, ${day(days[index])}: ${count(value)}`)),
      ),
    ),
  );
  const labels = days.map((label, index) =>
    index % skip === 0 ? s("text", { x: x(index), y: height - 10, class: "rp-tick", "text-anchor": "middle" }, day(label)) : null,
  );
  return frame(width, height, name, ...yAxis(width, top, plotTop, plotHeight, left, step), ...lines, ...labels);
}

/** 7 rows (Monday first) x 24 hours; darker is busier. ``cells``: [{weekday, hour, value}]. */
export function heatmap(cells, { name } = {}) {
  const left = 44;
  const topPad = 22;
  const size = 28;
  const gap = 3;
  const width = left + 24 * (size + gap);
  const height = topPad + 7 * (size + gap) + 4;
  const max = Math.max(0, ...cells.map((c) => c.value));
  const marks = cells.map((c) => {
    const level = max ? c.value / max : 0;
    return s(
      "rect",
      {
        class: "rp-cell",
        x: left + c.hour * (size + gap),
        y: topPad + (c.weekday - 1) * (size + gap),
        width: size,
        height: size,
        rx: 4,
        "data-value": c.value,
        // Empty cells stay pale grey; the rest go from light to the accent colour.
        style: c.value ? `fill: hsl(243 75% ${Math.round(94 - level * 56)}%)` : undefined,
      },
      s("title", {}, t("rp.heatmap_cell", { day: weekday(c.weekday), hour: String(c.hour).padStart(2, "0"), n: count(c.value) })),
    );
  });
  const days = [1, 2, 3, 4, 5, 6, 7].map((d) =>
    s("text", { x: left - 8, y: topPad + (d - 1) * (size + gap) + size / 2 + 4, class: "rp-tick", "text-anchor": "end" }, t(`rp.weekday_short_${d}`)),
  );
  const hours = [0, 3, 6, 9, 12, 15, 18, 21].map((h) =>
    s("text", { x: left + h * (size + gap) + size / 2, y: 14, class: "rp-tick", "text-anchor": "middle" }, `${String(h).padStart(2, "0")}:00`),
  );
  return frame(width, height, name, ...days, ...hours, s("g", { class: "rp-cells" }, marks));
}

/** Horizontal bars ({label, value, note, className}): channels, ratings, handoff reasons. */
export function barList(items, { name, width = 460 } = {}) {
  const row = 30;
  // Room for the longest label (about 7 px a character at 12 px), at most 45 % of the width.
  const longest = Math.max(4, ...items.map((item) => String(item.label).length));
  const labelWidth = Math.min(width * 0.45, longest * 7 + 16);
  const height = Math.max(1, items.length) * row + 4;
  const max = Math.max(0, ...items.map((item) => item.value));
  const room = width - labelWidth - 90;
  const bars = items.map((item, index) => {
    const y = index * row + 4;
    const length = max ? (item.value / max) * room : 0;
    return s(
      "g",
      { class: `rp-hbar ${item.className || ""}` },
      s("text", { x: labelWidth - 10, y: y + 15, class: "rp-label", "text-anchor": "end" }, item.label),
      s("rect", { class: "rp-track", x: labelWidth, y: y + 3, width: room, height: 16, rx: 4 }),
      s("rect", { class: "rp-bar", x: labelWidth, y: y + 3, width: Math.max(item.value ? 2 : 0, length), height: 16, rx: 4, "data-value": item.value }, s("title", {}, `${item.label}: ${count(item.value)}`)),
      s("text", { x: labelWidth + Math.max(length, 0) + 8, y: y + 15, class: "rp-value" }, item.note ?? count(item.value)),
    );
  });
  return frame(width, height, name, ...bars);
}

const FUNNEL_STEPS = ["planned", "sent", "delivered", "read", "replied", "clicked", "converted"];

/** One funnel per campaign variant: each step's bar as wide as its share of the planned. */
export function funnels(rows, { name, width = 760 } = {}) {
  const labelWidth = 110;
  const stepHeight = 20;
  const blockGap = 16;
  const headerHeight = 22;
  const room = width - labelWidth - 150;
  const blocks = [];
  let y = 0;
  for (const row of rows) {
    const title = row.variant === "total" ? `${row.campaign} · ${t("rp.variant_total")}` : `${row.campaign} · ${t("rp.variant", { v: row.variant })}`;
    const parts = [s("text", { x: 0, y: y + 15, class: "rp-funnel-title" }, title)];
    y += headerHeight;
    for (const step of FUNNEL_STEPS) {
      const value = row[step];
      const share = row.planned ? value / row.planned : 0;
      parts.push(
        s("text", { x: labelWidth - 10, y: y + 14, class: "rp-label", "text-anchor": "end" }, t(`rp.funnel_${step}`)),
        s("rect", { class: "rp-track", x: labelWidth, y: y + 2, width: room, height: stepHeight - 5, rx: 3 }),
        s(
          "rect",
          { class: `rp-bar rp-funnel-${step}`, x: labelWidth, y: y + 2, width: Math.max(value ? 2 : 0, share * room), height: stepHeight - 5, rx: 3, "data-step": step, "data-value": value },
          s("title", {}, `${t(`rp.funnel_${step}`)}: ${count(value)} (${percent(share)})`),
        ),
        s("text", { x: labelWidth + room + 10, y: y + 14, class: "rp-value" }, `${count(value)} · ${percent(share)}`),
      );
      y += stepHeight;
    }
    if (row.revenue) {
      parts.push(s("text", { x: labelWidth, y: y + 14, class: "rp-value" }, t("rp.revenue", { amount: row.revenue.toFixed(2) })));
      y += stepHeight;
    }
    blocks.push(s("g", { class: "rp-funnel", "data-campaign": row.campaign_id, "data-variant": row.variant }, parts));
    y += blockGap;
  }
  return frame(width, Math.max(y, 1), name, ...blocks);
}
