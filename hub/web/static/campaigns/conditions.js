/*
 * Segment conditions (the grammar of docs/segments.md) as rows of the builder, and back.
 *
 * A row is one field -> operator -> value line ({tag: vip}, {event: order.created, within: 30 days,
 * count: {gte: 2}}, {attribute: city, in: [Madrid]}) or a group of rows (all / any). A condition the
 * rows cannot show exactly (a `not:`, an event with `sum` or `where`, an attribute with two
 * comparisons, anything unknown) becomes a "written" row holding its JSON, so opening and saving a
 * segment never loses or changes what the builder does not edit.
 */

export const EVENT_UNITS = ["minutes", "hours", "days", "weeks"];
const WITHIN = /^\s*(\d+)\s*(minute|hour|day|week)s?\s*$/;
const NUMERIC = /^-?\d+(\.\d+)?$/;
const COMPARISONS = ["eq", "ne", "gt", "gte", "lt", "lte"];
const DATE_WORDS = ["before", "after", "on_or_before", "on_or_after"];

let nextId = 0;
const uid = () => `r${++nextId}`;
const isMapping = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

function written(condition) {
  // Short ones on one line; longer ones indented to be read.
  const compact = JSON.stringify(condition);
  return { id: uid(), field: "raw", text: compact.length <= 70 ? compact : JSON.stringify(condition, null, 2) };
}

function within(value) {
  if (value === undefined) return { n: "", unit: "days" };
  const match = WITHIN.exec(String(value));
  return match ? { n: Number(match[1]), unit: `${match[2]}s` } : null;
}

/** {gte: 2} or 2 -> [op, value]; null when it is more than one comparison. */
function singleComparison(range) {
  if (typeof range === "number") return ["eq", range];
  if (!isMapping(range)) return null;
  const entries = Object.entries(range);
  return entries.length === 1 && COMPARISONS.includes(entries[0][0]) ? entries[0] : null;
}

/** The builder row for one condition. */
export function toRow(condition, catalog) {
  if (!isMapping(condition)) return written(condition);
  const keys = Object.keys(condition);
  const only = (...allowed) => keys.every((key) => allowed.includes(key));

  if ("attribute" in condition) {
    const ops = keys.filter((key) => key !== "attribute");
    if (ops.length !== 1 || typeof condition.attribute !== "string") return written(condition);
    const [op] = ops;
    const value = condition[op];
    if (op === "exists") {
      if (typeof value !== "boolean") return written(condition);
      return { id: uid(), field: "attribute", key: condition.attribute, op: value ? "exists" : "not_exists", value: "" };
    }
    if (op === "in" || op === "not_in") {
      return Array.isArray(value) ? { id: uid(), field: "attribute", key: condition.attribute, op, value: value.join(", ") } : written(condition);
    }
    if (isMapping(value) || Array.isArray(value)) return written(condition);
    return { id: uid(), field: "attribute", key: condition.attribute, op, value };
  }

  if ("event" in condition || "no_event" in condition) {
    if (!only("event", "no_event", "within", "count") || ("event" in condition && "no_event" in condition)) return written(condition);
    const span = within(condition.within);
    if (span === null) return written(condition);
    const kind = condition.event ?? condition.no_event;
    if ("count" in condition) {
      const comparison = singleComparison(condition.count);
      if (comparison === null || "no_event" in condition) return written(condition);
      return { id: uid(), field: "event", key: kind, op: "count", cmp: comparison[0], value: comparison[1], within: span };
    }
    return { id: uid(), field: "event", key: kind, op: "event" in condition ? "did" : "did_not", cmp: "gte", value: 2, within: span };
  }

  const figure = (catalog.figures || []).find((name) => name in condition);
  if (figure) {
    const comparison = singleComparison(condition[figure]);
    const span = within(condition.within);
    if (!only(figure, "within") || comparison === null || span === null) return written(condition);
    return { id: uid(), field: "figure", key: figure, op: comparison[0], value: comparison[1], within: span };
  }

  if (keys.length !== 1) return written(condition);
  const [key] = keys;
  const value = condition[key];
  if ((key === "all" || key === "any") && Array.isArray(value)) {
    return { id: uid(), field: "group", mode: key, rows: value.map((item) => toRow(item, catalog)) };
  }
  if ((key === "tag" || key === "no_tag") && typeof value === "string") {
    return { id: uid(), field: "tag", op: key === "tag" ? "has" : "has_not", value };
  }
  if ((key === "channel" || key === "no_channel") && typeof value === "string") {
    return { id: uid(), field: "channel", op: key === "channel" ? "has" : "has_not", value };
  }
  const consentShape = isMapping(value) && typeof value.channel === "string" && Object.keys(value).every((k) => k === "channel" || k === "purpose");
  if ((key === "consent" || key === "no_consent") && consentShape) {
    return {
      id: uid(),
      field: "consent",
      op: key === "consent" ? "granted" : "not_granted",
      value: value.channel,
      purpose: value.purpose ?? "marketing",
      // Written back only if it was written (marketing is the default).
      purposeWritten: "purpose" in value,
    };
  }
  if (key === "locale" && typeof value === "string") return { id: uid(), field: "locale", op: "is", value };
  if (key === "created" && isMapping(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1 && [...DATE_WORDS, ...COMPARISONS].includes(entries[0][0])) {
      return { id: uid(), field: "created", op: entries[0][0], value: entries[0][1] };
    }
  }
  if ((catalog.facts || []).includes(key) && typeof value === "boolean") {
    return { id: uid(), field: "fact", key, op: value ? "yes" : "no" };
  }
  return written(condition);
}

/** A new row for a field the marketer picked ("tag", "attribute:city", "figure:ltv" ...). */
export function newRow(choice, catalog) {
  const [field, key = ""] = choice.split(":");
  const id = uid();
  switch (field) {
    case "tag":
      return { id, field, op: "has", value: "" };
    case "locale":
      return { id, field, op: "is", value: "" };
    case "created":
      return { id, field, op: "after", value: "30 days ago" };
    case "channel":
      return { id, field, op: "has", value: catalog.identity_kinds[0] };
    case "consent":
      const channel = catalog.consent_channels.includes("sms") ? "sms" : catalog.consent_channels[0];
      return { id, field, op: "granted", value: channel, purpose: "marketing", purposeWritten: true };
    case "event":
      return { id, field, key: "", op: "did", cmp: "gte", value: 2, within: { n: 30, unit: "days" } };
    case "figure":
      return { id, field, key, op: "gte", value: "", within: { n: "", unit: "days" } };
    case "attribute":
      return { id, field, key: key === "*" ? "" : key, other: key === "*", op: operatorsFor(key, catalog)[0], value: "" };
    case "fact":
      return { id, field, key, op: "yes" };
    case "group":
      return { id, field, mode: "any", rows: [] };
    default:
      return { id, field: "raw", text: "{}" };
  }
}

/** The field picker's value for a row. */
export function choiceOf(row, catalog) {
  if (row.field === "attribute") return row.other || !attributeType(row.key, catalog) ? "attribute:*" : `attribute:${row.key}`;
  if (row.field === "figure" || row.field === "fact") return `${row.field}:${row.key}`;
  return row.field;
}

export function attributeType(key, catalog) {
  const declared = (catalog.attributes || []).find((a) => a.key === key);
  return declared ? declared.type : null;
}

/** The comparisons offered for an attribute, as the builder shows them (exists split in two). */
export function operatorsFor(key, catalog) {
  const type = attributeType(key, catalog) ?? "any";
  const ops = catalog.operators_by_type[type] || catalog.operators_by_type.any;
  return ops.flatMap((op) => (op === "exists" ? ["exists", "not_exists"] : [op]));
}

function typed(value, type) {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (type === "number" || (type === "any" && NUMERIC.test(text))) return NUMERIC.test(text) ? Number(text) : null;
  if (type === "boolean" || type === "any") {
    if (text === "true") return true;
    if (text === "false") return false;
  }
  return text;
}

function spanOf(span) {
  if (!span || span.n === "" || span.n === null || span.n === undefined) return undefined;
  const n = Number(span.n);
  return Number.isInteger(n) && n > 0 ? `${n} ${span.unit}` : null;
}

const filled = (value) => value !== undefined && value !== null && String(value).trim() !== "";

/** The condition a row stands for, or null while it is incomplete (a tag not typed yet...). */
export function toCondition(row, catalog) {
  switch (row.field) {
    case "tag":
      return filled(row.value) ? { [row.op === "has" ? "tag" : "no_tag"]: row.value.trim() } : null;
    case "locale":
      return filled(row.value) ? { locale: String(row.value).trim() } : null;
    case "created":
      return filled(row.value) ? { created: { [row.op]: String(row.value).trim() } } : null;
    case "channel":
      return { [row.op === "has" ? "channel" : "no_channel"]: row.value };
    case "consent": {
      const consent = { channel: row.value };
      if (row.purposeWritten || row.purpose !== "marketing") consent.purpose = row.purpose;
      return { [row.op === "granted" ? "consent" : "no_consent"]: consent };
    }
    case "event": {
      if (!filled(row.key)) return null;
      const span = spanOf(row.within);
      if (span === null) return null;
      const condition = { [row.op === "did_not" ? "no_event" : "event"]: row.key.trim() };
      if (span !== undefined) condition.within = span;
      if (row.op === "count") {
        const n = typed(String(row.value), "number");
        if (n === null) return null;
        condition.count = { [row.cmp]: n };
      }
      return condition;
    }
    case "figure": {
      const n = typed(String(row.value), "number");
      const span = spanOf(row.within);
      if (n === null || !filled(row.value) || span === null) return null;
      const condition = { [row.key]: { [row.op]: n } };
      if (span !== undefined) condition.within = span;
      return condition;
    }
    case "attribute": {
      if (!filled(row.key)) return null;
      const key = row.key.trim();
      if (row.op === "exists" || row.op === "not_exists") return { attribute: key, exists: row.op === "exists" };
      if (!filled(row.value)) return null;
      const type = attributeType(key, catalog) ?? "any";
      if (row.op === "in" || row.op === "not_in") {
        const items = String(row.value).split(",").map((item) => typed(item.trim(), type === "boolean" ? "text" : type)).filter((item) => item !== null && item !== "");
        return items.length ? { attribute: key, [row.op]: items } : null;
      }
      const textual = ["contains", "birthday", ...DATE_WORDS].includes(row.op) || type === "date" || type === "datetime" || type === "text";
      const value = textual ? String(row.value).trim() : typed(row.value, type);
      return value === null ? null : { attribute: key, [row.op]: value };
    }
    case "fact":
      return { [row.key]: row.op === "yes" };
    case "raw":
      try {
        const parsed = JSON.parse(row.text);
        return isMapping(parsed) && Object.keys(parsed).length ? parsed : null;
      } catch {
        return null;
      }
    default:
      return null;
  }
}

/** A segment's conditions as the root group of the builder: "all of" the list, or "any of" when
 * the list is a single any-group. */
export function rootOf(conditions, catalog) {
  if (conditions.length === 1 && isMapping(conditions[0]) && Object.keys(conditions[0]).length === 1 && Array.isArray(conditions[0].any)) {
    return { id: uid(), field: "group", mode: "any", rows: conditions[0].any.map((c) => toRow(c, catalog)) };
  }
  return { id: uid(), field: "group", mode: "all", rows: conditions.map((c) => toRow(c, catalog)) };
}

/**
 * The conditions the builder shows now. Incomplete rows are left out (and listed), so the live count
 * follows every complete line; ``paths`` maps each row id to where its condition sits
 * ("conditions[1]", "conditions[0].any[2]"), to put the server's problems next to their row.
 */
export function conditionsOf(root, catalog) {
  const incomplete = [];
  const paths = new Map();

  function items(group, base) {
    const out = [];
    for (const row of group.rows) {
      const path = `${base}[${out.length}]`;
      if (row.field === "group") {
        const children = items(row, `${path}.${row.mode}`);
        if (!children.length) continue; // an empty group means nothing yet
        paths.set(row.id, path);
        out.push({ [row.mode]: children });
        continue;
      }
      const condition = toCondition(row, catalog);
      if (condition === null) {
        incomplete.push(row.id);
        continue;
      }
      paths.set(row.id, path);
      out.push(condition);
    }
    return out;
  }

  if (root.mode === "any") {
    const children = items(root, "conditions[0].any");
    return { conditions: children.length ? [{ any: children }] : [], incomplete, paths };
  }
  return { conditions: items(root, "conditions"), incomplete, paths };
}
