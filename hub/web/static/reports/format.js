/*
 * Figures as people read them, in the page's language: counts with thousands separators, durations
 * as "4m 05s" / "2h 10m" / "3d 4h", rates as percentages, CSAT with two decimals. The API sends raw
 * numbers (seconds, fractions); every cell and tile goes through here.
 */

import { currentLanguage, t } from "../inbox/i18n.js";

function locale() {
  return currentLanguage() === "es" ? "es-ES" : "en-GB";
}

export function count(value) {
  return value === null || value === undefined ? "–" : new Intl.NumberFormat(locale()).format(value);
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const total = Math.round(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  if (total < 60) return t("rp.seconds", { s: total });
  if (total < 3600) return t("rp.minutes", { m: Math.floor(total / 60), s: pad(total % 60) });
  if (total < 86400) return t("rp.hours", { h: Math.floor(total / 3600), m: pad(Math.floor((total % 3600) / 60)) });
  return t("rp.days", { d: Math.floor(total / 86400), h: Math.floor((total % 86400) / 3600) });
}

export function percent(fraction) {
  if (fraction === null || fraction === undefined) return "–";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(fraction);
}

export function rating(value) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value);
}

export function money(value) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value);
}

export function weekday(number) {
  return t(`rp.weekday_${number}`);
}

/** "22 Oct" for a YYYY-MM-DD day (read as a calendar day, whatever the browser's time zone). */
export function day(iso, options = { day: "numeric", month: "short" }) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(locale(), { ...options, timeZone: "UTC" });
}

const BY_KIND = {
  count: count,
  seconds: duration,
  rate: percent,
  rating: rating,
  money: money,
  weekday: weekday,
  date: (value) => day(value, { day: "numeric", month: "short", year: "numeric" }),
};

/** A cell of a report table, by its column's kind. */
export function cell(kind, value) {
  const format = BY_KIND[kind];
  if (format) return format(value);
  return value === null || value === undefined ? "–" : String(value);
}
