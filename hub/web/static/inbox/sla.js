/*
 * SLA countdowns: the time left until a conversation's nearest due target (first response, next
 * response, resolution; due times come from the server, inbox/sla.py), grey while on track, amber
 * once a target is at risk (the server's sla_at_risk_at), red once one is overdue. Computed here
 * from the due times and this computer's clock, and kept ticking every second without
 * re-rendering anything else. Only open and pending conversations count down (snoozed ones are put
 * aside, resolved ones are done).
 */

import { el } from "./dom.js";
import { clockTime, t } from "./i18n.js";

const TARGETS = [
  ["first_response_due_at", "sla.first_response"],
  ["next_response_due_at", "sla.next_response"],
  ["resolution_due_at", "sla.resolution"],
];

/** The nearest running target of a conversation: {due, label} or null. */
export function nearestTarget(conversation) {
  if (!["open", "pending"].includes(conversation.status)) return null;
  let nearest = null;
  for (const [field, key] of TARGETS) {
    const due = conversation[field];
    if (due && (!nearest || Date.parse(due) < Date.parse(nearest.due))) nearest = { due, key };
  }
  return nearest;
}

/** "45s", "12m", "3h 05m", "2d 4h". */
function span(milliseconds) {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function paint(badge) {
  const due = Date.parse(badge.dataset.slaDue);
  const risk = badge.dataset.slaRisk ? Date.parse(badge.dataset.slaRisk) : Infinity;
  const now = Date.now();
  const left = due - now;
  const state = left <= 0 ? "breached" : now >= risk ? "risk" : "ok";
  const text = left <= 0 ? t("sla.overdue", { time: span(-left) }) : t("sla.left", { time: span(left) });
  if (badge.dataset.slaState !== state) badge.dataset.slaState = state;
  const label = badge.querySelector(".sla-time");
  if (label.textContent !== text) label.textContent = text;
}

/** The countdown badge of a conversation, or null when no SLA target runs on it. */
export function slaBadge(conversation) {
  const target = nearestTarget(conversation);
  if (!target) return null;
  const badge = el(
    "span",
    {
      class: "chip chip--sla",
      title: t("sla.due_title", { target: t(target.key), time: clockTime(target.due) }),
      dataset: { slaDue: target.due, slaRisk: conversation.sla_at_risk_at || "" },
    },
    el("span", { class: "sla-dot", "aria-hidden": "true" }),
    el("span", { class: "visually-hidden" }, `${t(target.key)}: `),
    el("span", { class: "sla-time" }),
  );
  paint(badge);
  return badge;
}

let ticking = null;

/** Keep every countdown on screen current (once a second). */
export function startSlaClock() {
  if (ticking !== null) return;
  ticking = setInterval(() => {
    for (const badge of document.querySelectorAll(".chip--sla")) paint(badge);
  }, 1000);
}
