/*
 * Business hours: the time zone, opening hours per weekday (several spans a day, a day without
 * spans is closed) and holidays (dates closed). The bot flows' business_hours condition and the SLA
 * clocks count in these hours; saving applies them to every process within seconds.
 */

import { api } from "../inbox/api.js";
import { el, fill, toast } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { card, field, heading, input, notice, onSubmit } from "./ui.js";

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

function spanRow(span, onRemove) {
  const [from, to] = (span || "09:00-18:00").split("-");
  const start = input({ type: "time", value: from, required: true, class: "input adm-time", "aria-label": t("adm.hours.from") });
  const end = input({ type: "time", value: to, required: true, class: "input adm-time", "aria-label": t("adm.hours.to") });
  const remove = el("button", { type: "button", class: "btn btn-ghost btn-small", "aria-label": t("adm.hours.remove_span") }, "×");
  const row = el("span", { class: "adm-span" }, start, el("span", { class: "muted" }, "–"), end, remove);
  remove.addEventListener("click", () => onRemove(row));
  row.value = () => `${start.value}-${end.value}`;
  return row;
}

function dayRow(day, spans) {
  const list = el("span", { class: "adm-spans" });
  const closed = el("span", { class: "muted adm-closed" }, t("adm.hours.closed"));
  const sync = () => (closed.hidden = list.children.length > 0);
  const add = (span) => {
    list.append(spanRow(span, (row) => {
      row.remove();
      sync();
    }));
    sync();
  };
  for (const span of spans) add(span);
  sync();
  const more = el("button", { type: "button", class: "btn btn-small" }, t("adm.hours.add_span"));
  more.addEventListener("click", () => add(null));
  const row = el("div", { class: "adm-day", dataset: { day } }, el("span", { class: "adm-day-name" }, t(`adm.day.${day}`)), list, closed, more);
  row.spans = () => Array.from(list.children, (span) => span.value());
  return row;
}

function holidayChip(date, onRemove) {
  const remove = el("button", { type: "button", class: "chip-remove", "aria-label": t("adm.hours.remove_holiday", { date }) }, "×");
  const chip = el("span", { class: "chip adm-holiday", dataset: { date } }, date, remove);
  remove.addEventListener("click", () => onRemove(chip));
  return chip;
}

export async function hoursTab(container) {
  let hours;
  try {
    hours = await api("/api/v1/business-hours");
  } catch (error) {
    if (error.status !== 404) throw error;
    fill(container, heading("adm.hours.title", "adm.hours.lead"), notice("warn", t("adm.hours.unavailable")));
    return;
  }
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const timezone = input({ name: "timezone", value: hours.timezone, required: true, list: "adm-zones", autocomplete: "off" });
  const days = DAYS.map((day) => dayRow(day, (hours.weekly || {})[day] || []));
  const holidays = el("div", { class: "adm-holidays" });
  const addHoliday = (date) => {
    if (holidays.querySelector(`[data-date="${date}"]`)) return;
    holidays.append(holidayChip(date, (chip) => chip.remove()));
  };
  for (const date of hours.holidays || []) addHoliday(date);
  const newHoliday = input({ type: "date", class: "input adm-date", "aria-label": t("adm.hours.holiday_date") });
  const addButton = el("button", { type: "button", class: "btn btn-small" }, t("adm.hours.add_holiday"));
  addButton.addEventListener("click", () => {
    if (newHoliday.value) addHoliday(newHoliday.value);
    newHoliday.value = "";
  });
  // No hours on any day means open around the clock (not closed all week).
  const always = notice("idle", t("adm.hours.always_open"));
  const showAlways = () => (always.hidden = days.some((row) => row.spans().length));
  const form = el(
    "form",
    { class: "adm-form", "aria-label": t("adm.hours.title") },
    field(t("adm.hours.timezone"), timezone, t("adm.hours.timezone_hint")),
    always,
    el("datalist", { id: "adm-zones" }, ...zones.map((zone) => el("option", { value: zone }))),
    el("div", { class: "adm-week" }, ...days),
    el("h3", { class: "adm-subtitle" }, t("adm.hours.holidays")),
    holidays,
    el("div", { class: "adm-inline" }, newHoliday, addButton),
    el("div", { class: "adm-form-actions" }, el("button", { type: "submit", class: "btn btn-primary" }, t("adm.hours.save"))),
  );
  form.addEventListener("click", () => setTimeout(showAlways));
  showAlways();
  onSubmit(form, async () => {
    const weekly = {};
    for (const row of days) {
      const spans = row.spans();
      if (spans.length) weekly[row.dataset.day] = spans;
    }
    const dates = Array.from(holidays.children, (chip) => chip.dataset.date).sort();
    hours = await api("/api/v1/business-hours", { method: "PUT", body: { timezone: timezone.value.trim(), weekly, holidays: dates } });
    toast(t("adm.saved"), "info");
  });
  fill(container, heading("adm.hours.title", "adm.hours.lead"), card(null, form));
}
