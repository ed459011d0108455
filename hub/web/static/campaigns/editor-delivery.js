/*
 * How the campaign reaches people: the channel preference order (drag, or the up/down buttons) with
 * the cascade's receipt timeout; the rules that protect customers (the hub's quiet hours and
 * frequency cap, shown; send once or again; a send window; a maximum rate) and what counts as a
 * conversion.
 */

import { el, fill } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { card, channelName, field, group, input, select, spanPicker } from "./ui.js";

function arrow(symbol, label, disabled, onclick) {
  return el("button", { type: "button", class: "btn btn-ghost btn-icon", disabled, "aria-label": label, onclick }, symbol);
}

export function channelsSection(ctx) {
  const { draft } = ctx;
  if (!Array.isArray(draft.channels)) draft.channels = [];
  const order = el("ol", { class: "mk-order", id: "channel-order", "aria-label": t("editor.channel_order") });
  const add = el("div", { class: "mk-add-channels" });
  let dragged = null;

  function move(from, to) {
    const [channel] = draft.channels.splice(from, 1);
    draft.channels.splice(to, 0, channel);
    changed();
  }

  function changed() {
    draw();
    ctx.changed();
    ctx.emit("channels");
  }

  function draw() {
    const channels = draft.channels;
    fill(
      order,
      channels.map((channel, index) =>
        el(
          "li",
          {
            class: "mk-order-item",
            draggable: "true",
            dataset: { channel },
            ondragstart: (event) => {
              dragged = index;
              event.dataTransfer.effectAllowed = "move";
            },
            ondragover: (event) => event.preventDefault(),
            ondrop: (event) => {
              event.preventDefault();
              if (dragged !== null && dragged !== index) move(dragged, index);
              dragged = null;
            },
          },
          el("span", { class: "mk-grip", "aria-hidden": "true" }, "⋮⋮"),
          el("span", { class: "mk-order-rank" }, String(index + 1)),
          el("span", { class: "chip chip--channel", dataset: { channel } }, channelName(channel)),
          ctx.options.connected.includes(channel) ? null : el("span", { class: "mk-warn" }, t("editor.no_account")),
          el(
            "span",
            { class: "mk-order-buttons" },
            arrow("↑", t("editor.move_up", { channel: channelName(channel) }), index === 0, () => move(index, index - 1)),
            arrow("↓", t("editor.move_down", { channel: channelName(channel) }), index === channels.length - 1, () => move(index, index + 1)),
            el("button", { type: "button", class: "btn btn-ghost btn-icon", "aria-label": t("editor.remove_channel", { channel: channelName(channel) }), onclick: () => {
              draft.channels.splice(index, 1);
              changed();
            } }, "×"),
          ),
        ),
      ),
      channels.length ? null : el("li", { class: "mk-muted" }, t("editor.no_channels")),
    );
    const missing = ctx.options.channel_types.filter((channel) => !channels.includes(channel));
    fill(
      add,
      missing.length ? el("span", { class: "mk-sub" }, t("editor.add_channel")) : null,
      missing.map((channel) =>
        el("button", { type: "button", class: "btn btn-small", dataset: { addChannel: channel }, onclick: () => {
          draft.channels.push(channel);
          changed();
        } }, `+ ${channelName(channel)}`),
      ),
    );
  }
  draw();

  const fallbackOn = el("input", { type: "checkbox", id: "fallback-on" });
  fallbackOn.checked = draft.fallback_after !== undefined && draft.fallback_after !== null;
  let fallbackValue = draft.fallback_after ?? "30m";
  const picker = spanPicker(fallbackValue, (value) => {
    fallbackValue = value ?? fallbackValue;
    if (fallbackOn.checked && value) draft.fallback_after = value;
    ctx.changed();
  }, { fallbackUnit: "m", label: t("editor.fallback_after") });
  const enable = () => {
    for (const control of picker.querySelectorAll("input, select")) control.disabled = !fallbackOn.checked;
  };
  fallbackOn.addEventListener("change", () => {
    if (fallbackOn.checked) draft.fallback_after = fallbackValue;
    else delete draft.fallback_after;
    enable();
    ctx.changed();
  });
  enable();

  return card(
    t("editor.channels"),
    el("p", { class: "mk-hint" }, t("editor.channels_hint")),
    group({ legend: t("editor.channel_order"), children: [order, add], path: "channels" }),
    group({
      legend: t("editor.cascade"),
      path: "fallback_after",
      children: [
        el("label", { class: "mk-check" }, fallbackOn, el("span", {}, t("editor.fallback_after"))),
        picker,
        el("p", { class: "mk-hint" }, t("editor.cascade_hint")),
      ],
    }),
  );
}

function entryControls(ctx) {
  const { draft } = ctx;
  const kind = draft.entry === "always" ? "always" : draft.entry && typeof draft.entry === "object" ? "again" : "once";
  let again = draft.entry?.again_after ?? "30d";
  const choice = select(["once", "always", "again"].map((k) => [k, t(`editor.entry_${k}`)]), kind, { id: "entry" });
  const picker = spanPicker(again, (value) => {
    again = value ?? again;
    if (choice.value === "again" && value) draft.entry = { again_after: value };
    ctx.changed();
  }, { fallbackUnit: "d", label: t("editor.entry_again") });
  picker.hidden = kind !== "again";
  choice.addEventListener("change", () => {
    picker.hidden = choice.value !== "again";
    if (choice.value === "once") {
      if ("entry" in draft) draft.entry = "once";
    } else if (choice.value === "always") draft.entry = "always";
    else draft.entry = { again_after: again };
    ctx.changed();
  });
  return field({ label: t("editor.entry"), control: choice, path: "entry", hint: picker });
}

function windowControls(ctx) {
  const { draft } = ctx;
  const [from = "09:00", to = "20:00"] = typeof draft.send_window === "string" ? draft.send_window.split("-") : [];
  const on = el("input", { type: "checkbox", id: "window-on" });
  on.checked = typeof draft.send_window === "string";
  const start = input({ type: "time", value: from, "aria-label": t("editor.window_from") });
  const end = input({ type: "time", value: to, "aria-label": t("editor.window_to") });
  const enable = () => {
    start.disabled = !on.checked;
    end.disabled = !on.checked;
  };
  const write = () => {
    enable();
    if (on.checked) draft.send_window = `${start.value}-${end.value}`;
    else delete draft.send_window;
    ctx.changed();
  };
  for (const control of [on, start, end]) control.addEventListener("input", write);
  enable();
  return group({
    legend: t("editor.window"),
    path: "send_window",
    children: [
      el("label", { class: "mk-check" }, on, el("span", {}, t("editor.window_only"))),
      el("span", { class: "mk-inline" }, start, "–", end),
      el("p", { class: "mk-hint" }, t("editor.window_hint")),
    ],
  });
}

function rateControl(ctx) {
  const { draft } = ctx;
  const rate = input({ type: "number", min: "0.1", step: "any", value: draft.max_rate ?? "", placeholder: t("editor.no_limit"), class: "input input--number" });
  rate.addEventListener("input", () => {
    if (rate.value === "") delete draft.max_rate;
    else draft.max_rate = Number(rate.value);
    ctx.changed();
  });
  return field({ label: t("editor.max_rate"), control: rate, path: "max_rate", hint: t("editor.max_rate_hint") });
}

function conversionControls(ctx) {
  const { draft } = ctx;
  const current = draft.conversion && typeof draft.conversion === "object" ? draft.conversion : {};
  const event = input({ value: current.event ?? "", placeholder: "order.created", list: "dl-events" });
  let within = current.within ?? null;
  const write = () => {
    if (!event.value.trim() && within === null) delete draft.conversion;
    else draft.conversion = { event: event.value.trim() || "order.created", within: within ?? "7d" };
    ctx.changed();
  };
  event.addEventListener("input", write);
  const picker = spanPicker(current.within ?? "7d", (value) => {
    within = value;
    write();
  }, { fallbackUnit: "d", label: t("editor.conversion_within") });
  return group({
    legend: t("editor.conversion"),
    path: "conversion",
    children: [
      event,
      el("span", { class: "mk-inline" }, el("span", { class: "mk-sub" }, t("editor.conversion_within")), picker),
      el("p", { class: "mk-hint" }, t("editor.conversion_hint")),
    ],
  });
}

export function rulesSection(ctx) {
  const rules = el("ul", { class: "mk-notes", id: "hub-rules" });
  const drawRules = () => {
    const transactional = ctx.draft.purpose === "transactional";
    const { quiet_hours: quiet, frequency_cap: cap } = ctx.options;
    fill(
      rules,
      el("li", {}, quiet ? t("editor.quiet_hours", { window: quiet }) : t("editor.no_quiet_hours")),
      el("li", {}, cap.per_day || cap.per_week ? t("editor.frequency_cap", { day: cap.per_day ?? "–", week: cap.per_week ?? "–" }) : t("editor.no_frequency_cap")),
      el("li", { class: transactional ? "mk-strong" : "mk-sub" }, t(transactional ? "editor.transactional_exempt" : "editor.rules_from_hub")),
    );
  };
  drawRules();
  ctx.listen("purpose", drawRules);
  return card(
    t("editor.rules"),
    rules,
    el("div", { class: "mk-grid" }, entryControls(ctx), rateControl(ctx), windowControls(ctx), conversionControls(ctx)),
  );
}
