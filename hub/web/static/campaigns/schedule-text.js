/*
 * A campaign's schedule in words: "Every Monday at 10:00", "Once, Tue 1 Dec 2026, 10:00", "After each
 * cart.abandoned, 1 hour later, unless order.created", "When a bot flow enrols them". Cron expressions are described for the
 * common shapes (a time on some weekdays, days of the month or months; every N minutes; hourly);
 * anything else says it is a custom schedule, and the editor lists the next sends the server
 * computed, which are exact whatever the expression.
 */

import { currentLanguage, t } from "../inbox/i18n.js";
import { dateTime, spanText } from "./ui.js";

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const localeTag = () => (currentLanguage() === "es" ? "es-ES" : "en-GB");

function weekdayName(index) {
  // 2023-01-01 was a Sunday.
  return new Date(Date.UTC(2023, 0, 1 + (index % 7))).toLocaleDateString(localeTag(), { weekday: "long", timeZone: "UTC" });
}

function monthName(index) {
  return new Date(Date.UTC(2023, index - 1, 1)).toLocaleDateString(localeTag(), { month: "long", timeZone: "UTC" });
}

function listText(items) {
  return new Intl.ListFormat(localeTag(), { style: "long", type: "conjunction" }).format(items);
}

/** "1-5" / "MON-FRI" / "1,3" / "sat,sun" -> day numbers (0 = Sunday), or null when not that simple. */
function values(field, names, low, high) {
  const out = [];
  for (const part of field.toLowerCase().split(",")) {
    const range = part.split("-");
    if (range.length > 2) return null;
    const numbers = range.map((value) => {
      const named = names ? names.indexOf(value) : -1;
      if (named >= 0) return names === MONTH_NAMES ? named + 1 : named;
      return /^\d+$/.test(value) ? Number(value) : NaN;
    });
    if (numbers.some((n) => Number.isNaN(n) || n < low || n > high)) return null;
    const [from, to = from] = numbers;
    if (to < from) return null;
    for (let n = from; n <= to; n++) out.push(n);
  }
  return out;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/** Words for a five-field cron expression, or null when it is not one of the common shapes. */
export function describeCron(expression) {
  const fields = String(expression || "").trim().split(/\s+/);
  if (fields.length !== 5) return null;
  const [minute, hour, day, month, weekday] = fields;
  const every = /^\*\/(\d+)$/.exec(minute);
  if (every && hour === "*" && day === "*" && month === "*" && weekday === "*") return t("cron.every_minutes", { n: every[1] });
  if (!/^\d+$/.test(minute)) return null;
  if (hour === "*" && day === "*" && month === "*" && weekday === "*") return t("cron.hourly", { minute: pad(minute) });
  const hours = values(hour, null, 0, 23);
  if (!hours) return null;
  const time = listText(hours.map((h) => `${pad(h)}:${pad(minute)}`));
  let when;
  if (day === "*" && weekday === "*") {
    when = t("cron.daily", { time });
  } else if (day === "*") {
    const days = values(weekday, DAY_NAMES, 0, 7);
    if (!days) return null;
    const unique = [...new Set(days.map((d) => d % 7))].sort((a, b) => ((a + 6) % 7) - ((b + 6) % 7));
    const names =
      unique.length === 5 && [1, 2, 3, 4, 5].every((d) => unique.includes(d))
        ? t("cron.weekdays")
        : unique.length === 7
          ? null
          : listText(unique.map(weekdayName));
    when = names === null ? t("cron.daily", { time }) : t("cron.on_days", { days: names, time });
  } else if (weekday === "*") {
    const days = values(day, null, 1, 31);
    if (!days) return null;
    when = t("cron.monthly", { days: listText(days.map(String)), time });
  } else {
    return null;
  }
  if (month === "*") return when;
  const months = values(month, MONTH_NAMES, 1, 12);
  return months ? t("cron.in_months", { when, months: listText(months.map(monthName)) }) : null;
}

/** The schedule of a definition in one line, for the list, the detail and the editor. */
export function scheduleText(schedule) {
  if (schedule === undefined || schedule === null || schedule === "now") return t("schedule.now");
  if (schedule === "flow") return t("schedule.flow");
  if (typeof schedule !== "object") return String(schedule);
  if ("at" in schedule) {
    const at = new Date(schedule.at);
    const shown = Number.isNaN(at.getTime()) ? String(schedule.at) : /[zZ]|[+-]\d\d:\d\d$/.test(schedule.at) ? dateTime(at) : String(schedule.at).replace("T", " ");
    return t("schedule.at", { time: shown }) + (schedule.timezone ? ` (${schedule.timezone})` : "");
  }
  if ("cron" in schedule) {
    const words = describeCron(schedule.cron) ?? t("cron.custom", { cron: schedule.cron });
    return `${words} (${schedule.timezone || "UTC"})`;
  }
  if ("event" in schedule || schedule.flow === true) {
    let text = "event" in schedule ? t("schedule.event", { event: schedule.event }) : t("schedule.flow");
    if (schedule.delay) text += `, ${t("schedule.delay", { delay: spanText(schedule.delay) })}`;
    if (schedule.unless) text += `, ${t("schedule.unless", { event: schedule.unless })}`;
    return text;
  }
  return JSON.stringify(schedule);
}

export function scheduleKind(schedule) {
  if (schedule === "flow") return "flow";
  if (schedule && typeof schedule === "object") {
    for (const kind of ["at", "cron", "event", "flow"]) if (kind in schedule) return kind;
  }
  return "now";
}
