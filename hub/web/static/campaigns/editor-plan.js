/*
 * The campaign editor's first sections: what the campaign is (name, id, purpose), who gets it (a
 * saved segment) and when it sends (now, at a time, on a cron schedule described in words with its
 * next sends, or after each business event with a delay and an `unless`). Every control writes
 * straight into the definition being edited (ctx.draft) and calls ctx.changed().
 */

import { el, fill } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { describeCron, scheduleKind } from "./schedule-text.js";
import { card, dateTime, field, group, input, number, select, slugify, spanPicker } from "./ui.js";

const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const CRON_PRESETS = ["0 10 * * MON", "0 9 * * *", "30 9 * * MON-FRI", "0 10 1 * *"];

function zones() {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return el("datalist", { id: "dl-zones" }, ["UTC", ...known].map((zone) => el("option", { value: zone })));
}

export function basicsSection(ctx) {
  const { draft } = ctx;
  let idEdited = !ctx.isNew;
  const name = input({ value: draft.name ?? "", maxlength: "200", placeholder: t("editor.name_hint") });
  const id = input({ value: draft.id ?? "", maxlength: "64", readonly: !ctx.isNew, placeholder: "spring-sale" });
  name.addEventListener("input", () => {
    draft.name = name.value;
    if (!idEdited) {
      id.value = slugify(name.value);
      draft.id = id.value;
    }
    ctx.changed();
  });
  id.addEventListener("input", () => {
    idEdited = true;
    draft.id = id.value.trim();
    ctx.changed();
  });
  ctx.listen("saved", () => {
    id.readOnly = true;
  });

  const purposes = el("div", { class: "mk-choices", role: "radiogroup", "aria-label": t("editor.purpose") });
  for (const purpose of ["marketing", "transactional"]) {
    const radio = el("input", { type: "radio", name: "purpose", value: purpose });
    radio.checked = (draft.purpose ?? "marketing") === purpose;
    radio.addEventListener("change", () => {
      if (purpose === "transactional" || "purpose" in draft) draft.purpose = purpose;
      ctx.changed();
      ctx.emit("purpose");
    });
    purposes.append(
      el("label", { class: "mk-choice" }, radio, el("span", {}, el("strong", {}, t(`editor.purpose_${purpose}`)), el("small", {}, t(`editor.purpose_${purpose}_hint`)))),
    );
  }

  return card(
    t("editor.about"),
    el(
      "div",
      { class: "mk-grid" },
      field({ label: t("editor.name"), control: name, path: "name" }),
      field({ label: t("editor.id"), control: id, path: "id", hint: t("editor.id_hint") }),
      group({ legend: t("editor.purpose"), children: [purposes], path: "purpose", className: "mk-field--wide" }),
    ),
  );
}

export function audienceSection(ctx) {
  const { draft } = ctx;
  const options = ctx.segments.map((s) => [s.id, `${s.name} (${s.id})`]);
  const inline = draft.audience !== undefined && typeof draft.audience !== "string";
  if (inline) options.unshift(["", t("editor.audience_inline")]);
  else if (!draft.audience) options.unshift(["", t("editor.audience_pick")]);
  const picker = select(options, typeof draft.audience === "string" ? draft.audience : "", { id: "audience" });
  const size = el("span", { id: "audience-size" });
  picker.addEventListener("change", () => {
    if (picker.value) draft.audience = picker.value;
    ctx.changed();
  });
  ctx.listen("preview", (preview) => {
    size.textContent = preview ? t("editor.audience_size", { n: number(preview.audience) }) : "";
  });
  return card(
    t("editor.audience"),
    field({
      label: t("editor.segment"),
      control: picker,
      path: "audience",
      hint: el("span", {}, size, " ", el("a", { href: "#/segments" }, t("editor.audience_manage"))),
    }),
  );
}

function atPanel(schedule, changed) {
  const when = input({ type: "datetime-local", value: /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(schedule.at ?? "") ? schedule.at.slice(0, 16) : "" });
  const zone = input({ value: schedule.timezone ?? "", list: "dl-zones", placeholder: BROWSER_ZONE });
  when.addEventListener("input", () => {
    schedule.at = when.value;
    if (!schedule.timezone) {
      schedule.timezone = BROWSER_ZONE;
      zone.value = BROWSER_ZONE;
    }
    changed();
  });
  zone.addEventListener("input", () => {
    if (zone.value.trim()) schedule.timezone = zone.value.trim();
    else delete schedule.timezone;
    changed();
  });
  return el(
    "div",
    { class: "mk-grid" },
    field({ label: t("editor.at"), control: when, path: "schedule.at" }),
    field({ label: t("editor.timezone"), control: zone, path: "schedule.timezone" }),
  );
}

function cronPanel(schedule, changed, nextSends) {
  const presets = [["", t("editor.cron_custom")], ...CRON_PRESETS.map((cron) => [cron, describeCron(cron)])];
  const preset = select(presets, CRON_PRESETS.includes(schedule.cron) ? schedule.cron : "", { "aria-label": t("editor.cron_presets") });
  const cron = input({ value: schedule.cron ?? "", placeholder: "0 10 * * MON", class: "input mk-mono", spellcheck: "false" });
  const zone = input({ value: schedule.timezone ?? "", list: "dl-zones", placeholder: "UTC" });
  const words = el("p", { class: "mk-cron-words", id: "cron-words" });
  const describe = () => {
    words.textContent = describeCron(cron.value) ?? t("cron.custom", { cron: cron.value });
  };
  preset.addEventListener("change", () => {
    if (!preset.value) return;
    cron.value = preset.value;
    schedule.cron = preset.value;
    describe();
    changed();
  });
  cron.addEventListener("input", () => {
    schedule.cron = cron.value.trim();
    preset.value = CRON_PRESETS.includes(schedule.cron) ? schedule.cron : "";
    describe();
    changed();
  });
  zone.addEventListener("input", () => {
    if (zone.value.trim()) schedule.timezone = zone.value.trim();
    else delete schedule.timezone;
    changed();
  });
  describe();
  return el(
    "div",
    { class: "mk-grid" },
    field({ label: t("editor.cron_presets"), control: preset }),
    field({ label: t("editor.cron"), control: cron, path: "schedule.cron", hint: t("editor.cron_hint") }),
    field({ label: t("editor.timezone"), control: zone, path: "schedule.timezone" }),
    el("div", { class: "mk-field mk-field--wide" }, words, nextSends),
  );
}

function eventPanel(schedule, changed) {
  const event = input({ value: schedule.event ?? "", list: "dl-events", placeholder: "cart.abandoned" });
  const unless = input({ value: schedule.unless ?? "", list: "dl-events", placeholder: "order.created" });
  event.addEventListener("input", () => {
    schedule.event = event.value.trim();
    changed();
  });
  unless.addEventListener("input", () => {
    if (unless.value.trim()) schedule.unless = unless.value.trim();
    else delete schedule.unless;
    changed();
  });
  const delay = spanPicker(schedule.delay, (value) => {
    if (value) schedule.delay = value;
    else delete schedule.delay;
    changed();
  }, { label: t("editor.delay") });
  return el(
    "div",
    { class: "mk-grid" },
    field({ label: t("editor.event"), control: event, path: "schedule.event", hint: t("editor.event_hint") }),
    group({ legend: t("editor.delay"), children: [delay, el("p", { class: "mk-hint" }, t("editor.delay_hint"))], path: "schedule.delay" }),
    field({ label: t("editor.unless"), control: unless, path: "schedule.unless", hint: t("editor.unless_hint") }),
  );
}

/** `schedule: flow`, or {flow: true, delay, unless} once a delay or an `unless` is set. */
function flowPanel(schedule, write) {
  const parts = schedule && typeof schedule === "object" ? { ...schedule } : { flow: true };
  const save = () => {
    const { flow, ...rest } = parts;
    write(Object.keys(rest).length ? { flow: true, ...rest } : "flow");
  };
  const unless = input({ value: parts.unless ?? "", list: "dl-events", placeholder: "order.created" });
  unless.addEventListener("input", () => {
    if (unless.value.trim()) parts.unless = unless.value.trim();
    else delete parts.unless;
    save();
  });
  const delay = spanPicker(parts.delay, (value) => {
    if (value) parts.delay = value;
    else delete parts.delay;
    save();
  }, { label: t("editor.delay") });
  return el(
    "div",
    { class: "mk-grid" },
    el("p", { class: "mk-hint mk-field--wide" }, t("editor.flow_hint")),
    group({ legend: t("editor.delay"), children: [delay, el("p", { class: "mk-hint" }, t("editor.delay_hint"))], path: "schedule.delay" }),
    field({ label: t("editor.unless"), control: unless, path: "schedule.unless", hint: t("editor.unless_hint") }),
  );
}

function tomorrowAtTen() {
  const day = new Date(Date.now() + 86400000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}T10:00`;
}

export function scheduleSection(ctx) {
  const { draft } = ctx;
  const current = scheduleKind(draft.schedule);
  // What each kind holds, so switching back and forth keeps what the marketer typed.
  const memo = {
    now: "now",
    at: { at: tomorrowAtTen(), timezone: BROWSER_ZONE },
    cron: { cron: "0 10 * * MON", timezone: BROWSER_ZONE },
    event: { event: "", delay: "1h" },
    flow: "flow",
  };
  if (current !== "now" || draft.schedule !== undefined) memo[current] = draft.schedule ?? "now";
  const panel = el("div", { class: "mk-schedule-panel" });
  const nextSends = el("ul", { class: "mk-next", id: "next-sends", "aria-label": t("editor.next_sends") });
  ctx.listen("check", (result) => {
    // In the schedule's own time zone, the one the marketer typed the time in.
    const zone = draft.schedule && typeof draft.schedule === "object" ? draft.schedule.timezone || "UTC" : undefined;
    fill(nextSends, result.next_times.map((time) => el("li", {}, dateTime(time, zone))));
    nextSends.hidden = result.next_times.length === 0;
  });

  const kinds = el("div", { class: "mk-segmented", role: "radiogroup", "aria-label": t("editor.when") });
  function show(kind) {
    const schedule = memo[kind];
    if (kind === "at") fill(panel, atPanel(schedule, ctx.changed), el("div", { class: "mk-field" }, nextSends));
    else if (kind === "cron") fill(panel, cronPanel(schedule, ctx.changed, nextSends));
    else if (kind === "event") fill(panel, eventPanel(schedule, ctx.changed));
    else if (kind === "flow") {
      fill(panel, flowPanel(schedule, (value) => {
        memo.flow = value;
        draft.schedule = value;
        ctx.changed();
      }));
    } else fill(panel, el("p", { class: "mk-hint" }, t("editor.now_hint")));
  }
  for (const kind of ["now", "at", "cron", "event", "flow"]) {
    const radio = el("input", { type: "radio", name: "schedule-kind", value: kind, class: "visually-hidden" });
    radio.checked = kind === current;
    radio.addEventListener("change", () => {
      draft.schedule = memo[kind];
      show(kind);
      ctx.changed();
    });
    kinds.append(el("label", { class: "mk-segment" }, radio, el("span", {}, t(`editor.when_${kind}`))));
  }
  show(current);
  return card(t("editor.when"), zones(), group({ legend: t("editor.when_kind"), children: [kinds], path: "schedule" }), panel);
}
