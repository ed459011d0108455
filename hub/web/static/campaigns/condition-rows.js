/*
 * The builder's rows on screen: field -> operator -> value controls for each condition, groups of
 * rows matched all/any, add and remove. Fields and comparisons come from the server's catalog
 * (/api/v1/segments/catalog); conditions.js turns rows into the definition and back.
 *
 * Typing in a value only updates the row (the page keeps focus and the live count follows);
 * adding, removing or changing a row's field redraws the rows.
 */

import { el } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { EVENT_UNITS, attributeType, choiceOf, newRow, operatorsFor } from "./conditions.js";
import { channelName, problemLine, select } from "./ui.js";

const COMPARISONS = ["gte", "gt", "eq", "ne", "lte", "lt"];

function fieldPicker(row, catalog) {
  const node = el("select", { class: "select cond-field", "aria-label": t("cond.field") });
  const group = (label, options) => el("optgroup", { label }, options.map(([value, text]) => el("option", { value }, text)));
  node.append(
    group(t("cond.group_profile"), [
      ["tag", t("field.tag")],
      ["locale", t("field.locale")],
      ["created", t("field.created")],
    ]),
    group(t("cond.group_attributes"), [
      ...catalog.attributes.map((a) => [`attribute:${a.key}`, a.label || a.key]),
      ["attribute:*", t("field.attribute_other")],
    ]),
    group(t("cond.group_channels"), [
      ["channel", t("field.channel")],
      ["consent", t("field.consent")],
    ]),
    group(t("cond.group_activity"), [["event", t("field.event")]]),
    group(t("cond.group_orders"), catalog.figures.map((f) => [`figure:${f}`, t(`figure.${f}`)])),
    group(t("cond.group_conversations"), catalog.facts.map((f) => [`fact:${f}`, t(`fact.${f}`)])),
    group(t("cond.group_advanced"), [["raw", t("field.raw")]]),
  );
  node.value = choiceOf(row, catalog);
  return node;
}

function textInput(value, label, onInput, props = {}) {
  const node = el("input", { class: "input cond-value", type: "text", autocomplete: "off", "aria-label": label, ...props });
  node.value = value ?? "";
  node.addEventListener("input", () => onInput(node.value));
  return node;
}

function picker(options, value, label, onChange, className = "cond-op") {
  const node = select(options, value, { class: `select ${className}`, "aria-label": label });
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

/** "in the last [30] [days]" — empty means at any time. */
function withinControls(row, changed) {
  const amount = textInput(row.within.n, t("cond.within_amount"), (value) => {
    row.within.n = value === "" ? "" : Number(value);
    changed();
  }, { type: "number", min: "1", step: "1", class: "input input--number cond-within", placeholder: t("cond.any_time") });
  const unit = picker(EVENT_UNITS.map((u) => [u, t(`unit.${u}`)]), row.within.unit, t("cond.within_unit"), (value) => {
    row.within.unit = value;
    changed();
  }, "cond-unit");
  return [el("span", { class: "cond-word" }, t("cond.in_the_last")), amount, unit];
}

function attributeValue(row, catalog, changed) {
  if (row.op === "exists" || row.op === "not_exists") return [];
  const type = attributeType(row.key, catalog) ?? "any";
  const set = (value) => {
    row.value = value;
    changed();
  };
  if (type === "boolean" && row.op === "eq") {
    if (row.value === "" || row.value === undefined) row.value = true;
    return [picker([["true", t("cond.yes")], ["false", t("cond.no")]], String(row.value), t("cond.value"), set, "cond-value")];
  }
  if (row.op === "birthday") {
    return [textInput(row.value, t("cond.value"), set, { placeholder: t("cond.birthday_hint"), list: "dl-birthday" })];
  }
  const dated = type === "date" || type === "datetime" || ["before", "after", "on_or_before", "on_or_after"].includes(row.op);
  const listed = row.op === "in" || row.op === "not_in";
  const placeholder = listed ? t("cond.list_hint") : dated ? t("cond.date_hint") : type === "number" ? "0" : "";
  const numeric = type === "number" && !listed;
  return [textInput(row.value, t("cond.value"), set, { placeholder, type: numeric ? "number" : "text", step: numeric ? "any" : undefined })];
}

function controls(row, catalog, changed, redraw) {
  const set = (key) => (value) => {
    row[key] = value;
    changed();
  };
  switch (row.field) {
    case "tag":
      return [
        picker([["has", t("cond.has")], ["has_not", t("cond.has_not")]], row.op, t("cond.operator"), set("op")),
        textInput(row.value, t("cond.value"), set("value"), { list: "dl-tags", placeholder: "vip" }),
      ];
    case "locale":
      return [el("span", { class: "cond-word" }, t("op.eq")), textInput(row.value, t("cond.value"), set("value"), { placeholder: "es", list: "dl-locales" })];
    case "created":
      return [
        picker(["after", "before", "on_or_after", "on_or_before"].map((op) => [op, t(`op.${op}`)]), row.op, t("cond.operator"), set("op")),
        textInput(row.value, t("cond.value"), set("value"), { placeholder: t("cond.date_hint") }),
      ];
    case "channel":
      return [
        picker([["has", t("cond.has")], ["has_not", t("cond.has_not")]], row.op, t("cond.operator"), set("op")),
        picker(catalog.identity_kinds.map((k) => [k, t(`identity.${k}`)]), row.value, t("cond.value"), set("value"), "cond-value"),
      ];
    case "consent":
      return [
        picker([["granted", t("cond.granted")], ["not_granted", t("cond.not_granted")]], row.op, t("cond.operator"), set("op")),
        picker(catalog.consent_channels.map((c) => [c, channelName(c)]), row.value, t("cond.channel"), set("value"), "cond-value"),
        picker(catalog.purposes.map((p) => [p, t(`purpose.${p}`)]), row.purpose, t("cond.purpose"), (value) => {
          row.purpose = value;
          row.purposeWritten = true;
          changed();
        }, "cond-purpose"),
      ];
    case "event": {
      const parts = [
        textInput(row.key, t("cond.event_kind"), set("key"), { list: "dl-events", placeholder: "order.created", class: "input cond-value cond-event" }),
        picker([["did", t("cond.did")], ["did_not", t("cond.did_not")], ["count", t("cond.count")]], row.op, t("cond.operator"), (value) => {
          row.op = value;
          changed();
          redraw();
        }),
      ];
      if (row.op === "count") {
        parts.push(
          picker(COMPARISONS.map((c) => [c, t(`cmp.${c}`)]), row.cmp, t("cond.comparison"), set("cmp"), "cond-cmp"),
          textInput(row.value, t("cond.times"), set("value"), { type: "number", min: "0", step: "1", class: "input input--number cond-count" }),
          el("span", { class: "cond-word" }, t("cond.times_word")),
        );
      }
      return [...parts, ...withinControls(row, changed)];
    }
    case "figure": {
      const parts = [
        picker(COMPARISONS.map((c) => [c, t(`cmp.${c}`)]), row.op, t("cond.comparison"), set("op"), "cond-cmp"),
        textInput(row.value, t("cond.value"), set("value"), { type: "number", step: "any", class: "input input--number cond-value" }),
      ];
      return row.key === "days_since_last_order" ? parts : [...parts, ...withinControls(row, changed)];
    }
    case "attribute": {
      const parts = [];
      if (row.other || !attributeType(row.key, catalog)) {
        parts.push(textInput(row.key, t("cond.attribute_key"), (value) => {
          row.key = value;
          changed();
        }, { placeholder: t("cond.attribute_key"), class: "input cond-key" }));
      }
      const ops = operatorsFor(row.key, catalog);
      if (!ops.includes(row.op)) row.op = ops[0];
      parts.push(
        picker(ops.map((op) => [op, t(`op.${op}`)]), row.op, t("cond.operator"), (value) => {
          row.op = value;
          changed();
          redraw();
        }),
        ...attributeValue(row, catalog, changed),
      );
      return parts;
    }
    case "fact":
      return [picker([["yes", t("cond.yes")], ["no", t("cond.no")]], row.op, t("cond.value"), set("op"), "cond-value")];
    case "raw": {
      const lines = Math.min(8, Math.max(1, row.text.split("\n").length));
      const area = el("textarea", { class: "input cond-raw", rows: String(lines), spellcheck: "false", "aria-label": t("field.raw") });
      area.value = row.text;
      area.addEventListener("input", () => {
        row.text = area.value;
        changed();
      });
      return [area, el("p", { class: "mk-hint cond-raw-hint" }, t("cond.raw_hint"))];
    }
    default:
      return [];
  }
}

/**
 * The editor for a root group. ``onChange`` runs after every edit; ``readOnly`` shows the rows but
 * lets nothing change (segments defined in files).
 */
export function conditionEditor(root, catalog, onChange, { readOnly = false } = {}) {
  const container = el("div", { class: "cond-editor" });
  const lists = el(
    "div",
    { hidden: true },
    el("datalist", { id: "dl-tags" }, catalog.tags.map((tag) => el("option", { value: tag }))),
    el("datalist", { id: "dl-events" }, catalog.events.map((kind) => el("option", { value: kind }))),
    el("datalist", { id: "dl-locales" }, ["en", "es", "pt", "fr", "de", "it", "uk"].map((code) => el("option", { value: code }))),
    el("datalist", { id: "dl-birthday" }, ["today", "next 7 days", "next 30 days"].map((value) => el("option", { value }))),
  );

  function redraw() {
    container.replaceChildren(groupNode(root, null), lists);
    if (readOnly) for (const control of container.querySelectorAll("input, select, textarea, button")) control.disabled = true;
  }

  function structural() {
    redraw();
    onChange();
  }

  function rowNode(row, parent) {
    if (row.field === "group") return groupNode(row, parent);
    const field = fieldPicker(row, catalog);
    field.addEventListener("change", () => {
      const index = parent.rows.indexOf(row);
      parent.rows[index] = newRow(field.value, catalog);
      structural();
    });
    return el(
      "li",
      { class: "cond-row", dataset: { row: row.id, field: row.field } },
      el("div", { class: "cond-line" }, field, el("div", { class: "cond-controls" }, ...controls(row, catalog, onChange, redraw)), removeButton(row, parent)),
      problemLine(),
    );
  }

  function removeButton(row, parent) {
    return el(
      "button",
      {
        type: "button",
        class: "btn btn-ghost btn-icon cond-remove",
        "aria-label": t("cond.remove"),
        title: t("cond.remove"),
        onclick: () => {
          parent.rows.splice(parent.rows.indexOf(row), 1);
          structural();
        },
      },
      "×",
    );
  }

  function groupNode(group, parent) {
    const mode = picker([["all", t("group.all")], ["any", t("group.any")]], group.mode, t("cond.match"), (value) => {
      group.mode = value;
      onChange();
    }, "cond-mode");
    const heading = parent === null ? t("cond.root_before") : null;
    return el(
      parent === null ? "div" : "li",
      { class: `cond-group ${parent === null ? "cond-group--root" : ""}`, dataset: { row: group.id, field: "group" } },
      el(
        "div",
        { class: "cond-group-head" },
        heading ? el("span", { class: "cond-word" }, heading) : null,
        mode,
        el("span", { class: "cond-word" }, t("cond.group_after")),
        parent === null ? null : removeButton(group, parent),
      ),
      group.rows.length
        ? el("ul", { class: "cond-rows" }, group.rows.map((row) => rowNode(row, group)))
        : el("p", { class: "mk-muted cond-empty" }, parent === null ? t("cond.empty_root") : t("cond.empty_group")),
      el(
        "div",
        { class: "cond-add" },
        el("button", { type: "button", class: "btn btn-small", dataset: { add: "condition" }, onclick: () => {
          group.rows.push(newRow("tag", catalog));
          structural();
          const rows = container.querySelectorAll(`[data-row="${group.id}"] .cond-row .cond-field`);
          rows[rows.length - 1]?.focus();
        } }, `+ ${t("cond.add")}`),
        parent === null
          ? el("button", { type: "button", class: "btn btn-small btn-ghost", dataset: { add: "group" }, onclick: () => {
              group.rows.push(newRow("group", catalog));
              structural();
            } }, `+ ${t("cond.add_group")}`)
          : null,
      ),
      problemLine(),
    );
  }

  redraw();
  return {
    node: container,
    redraw,
    /** Mark rows still incomplete and put each problem next to its row. */
    mark(incomplete, problemsByRow) {
      for (const node of container.querySelectorAll("[data-row]")) {
        const id = node.dataset.row;
        node.classList.toggle("is-incomplete", incomplete.includes(id));
        const line = node.querySelector(":scope > .mk-problem");
        const problems = problemsByRow.get(id) || [];
        node.classList.toggle("has-problem", problems.length > 0);
        if (line) {
          line.hidden = problems.length === 0;
          line.textContent = problems.join(" · ");
        }
      }
    },
  };
}
