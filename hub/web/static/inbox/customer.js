/*
 * The customer panel (customer 360): identities on every channel, consent per channel and purpose,
 * editable attributes and tags, segments, LTV and last orders, calls, CSAT, the whole timeline, and
 * duplicate suggestions with their reasons and a merge that can be undone.
 */

import { api } from "./api.js";
import { $, attempt, avatar, debounce, el, safeUrl, toast } from "./dom.js";
import { duration, fullTime, money, relativeTime, t } from "./i18n.js";
import { channelName } from "./names.js";
import { may, state } from "./state.js";
import { renderHeader } from "./thread.js";

const TIMELINE_STEP = 25;
let timelineLimit = TIMELINE_STEP;
let editingAttributes = false;
let loaded = { duplicates: [], insights: null };

function section(title, ...content) {
  return el("section", { class: "panel-section" }, el("h3", { class: "panel-title" }, title), ...content);
}

function emptyLine(text) {
  return el("p", { class: "muted" }, text);
}

function timeEl(iso) {
  return el("time", { datetime: iso, title: fullTime(iso), dataset: { relative: "" } }, relativeTime(iso));
}

// ---- what each timeline entry says ----------------------------------------------------------------

function activityLabel(entry) {
  const payload = entry.payload || {};
  switch (entry.kind) {
    case "message.inbound":
      return t("activity.customer_wrote", { channel: channelName(payload.channel || "") });
    case "message.outbound":
      if (payload.campaign_id !== undefined) return t("activity.campaign_message");
      return t(`activity.reply_${payload.author || "system"}`, { channel: channelName(payload.channel || "") });
    case "call.ended":
      return t("activity.call", { duration: duration(payload.duration_seconds) });
    case "call.missed":
      return t("activity.missed_call");
    case "csat.submitted":
      return t("activity.rated", { rating: payload.rating ?? "?" });
    case "order.created":
      return t("activity.order", { amount: typeof payload.amount === "number" ? money(payload.amount) : payload.amount ?? "" });
    case "channel.subscribed":
      return t("activity.subscribed");
    case "channel.unsubscribed":
      return t("activity.unsubscribed");
    case "attributes.changed":
      return t("activity.attributes_changed");
    case "sla.at_risk":
      return t("activity.sla_at_risk", { target: t(`sla.${payload.target}`) });
    case "sla.breached":
      return t("activity.sla_breached", { target: t(`sla.${payload.target}`) });
    default:
      return entry.kind;
  }
}

function activityDetail(entry) {
  const payload = entry.payload || {};
  if (typeof payload.text === "string" && payload.text) return el("p", { class: "activity-text" }, payload.text);
  if (typeof payload.comment === "string" && payload.comment) return el("p", { class: "activity-text" }, payload.comment);
  if (entry.kind === "call.ended" && safeUrl(payload.recording_url))
    return el("a", { class: "activity-link", href: payload.recording_url, target: "_blank", rel: "noopener" }, t("activity.recording"));
  if (entry.kind === "order.created" && (payload.order_id || payload.id))
    return el("p", { class: "activity-text" }, t("activity.order_number", { id: payload.order_id || payload.id }));
  return null;
}

function activity(entry) {
  return el(
    "li",
    { class: "activity", dataset: { kind: entry.kind } },
    el("div", { class: "activity-head" }, el("span", { class: "activity-kind" }, activityLabel(entry)), timeEl(entry.occurred_at)),
    activityDetail(entry),
  );
}

// ---- sections ---------------------------------------------------------------------------------------

function figures(insights) {
  if (!insights) return null;
  const stat = (label, value) => el("div", { class: "stat" }, el("dt", {}, label), el("dd", {}, value));
  return el(
    "dl",
    { class: "stats" },
    stat(t("customer.ltv"), insights.ltv === null ? "—" : money(insights.ltv)),
    stat(t("customer.orders"), String(insights.orders_count)),
    stat(t("customer.csat"), insights.csat_average === null ? "—" : `${insights.csat_average}/5`),
    stat(t("customer.conversations"), String(insights.conversations)),
  );
}

async function patchCustomer(body) {
  const customer = state.customer;
  const updated = await attempt(() => api(`/api/v1/customers/${customer.id}`, { method: "PATCH", body }));
  if (updated) {
    state.customer = updated;
    render();
  }
  return updated;
}

function tagsSection(customer) {
  const writable = may("customers:write");
  const chips = customer.tags.map((tag) =>
    el(
      "li",
      { class: "chip chip--tag" },
      tag,
      writable
        ? el("button", { type: "button", class: "chip-remove", "aria-label": t("customer.remove_tag", { tag }), onclick: () => patchCustomer({ remove_tags: [tag] }) }, "×")
        : null,
    ),
  );
  const input = writable
    ? el("input", {
        class: "label-input",
        maxlength: "64",
        placeholder: t("customer.add_tag"),
        "aria-label": t("customer.add_tag"),
        onkeydown: (event) => {
          const tag = event.target.value.trim();
          if (event.key === "Enter" && tag) {
            event.preventDefault();
            patchCustomer({ add_tags: [tag] });
          }
        },
      })
    : null;
  return section(t("customer.tags"), el("ul", { class: "label-list" }, chips.length ? chips : el("li", { class: "muted" }, t("customer.no_tags"))), input);
}

function identitiesSection(customer) {
  const items = customer.identities.map((identity) =>
    el(
      "li",
      { class: "identity" },
      el("span", { class: "chip chip--kind" }, identity.kind),
      el(
        "span",
        { class: "identity-address", title: identity.address },
        identity.display_name && identity.kind !== "webchat" ? `${identity.display_name} · ${identity.address}` : identity.address,
      ),
      identity.verified
        ? el("span", { class: "verified", title: t("customer.verified_by", { source: identity.source }) }, el("span", { "aria-hidden": "true" }, "✓"), el("span", { class: "verified-text" }, t("customer.verified")))
        : el("span", { class: "unverified" }, t("customer.unverified")),
    ),
  );
  return section(t("customer.identities"), items.length ? el("ul", { class: "plain-list" }, items) : emptyLine(t("customer.none_yet")));
}

function consentSection(customer) {
  const items = customer.consents.map((consent) =>
    el(
      "li",
      { class: "consent" },
      el("span", {}, `${channelName(consent.channel)} · ${t(`purpose.${consent.purpose}`)}`),
      el("span", { class: `chip ${consent.granted ? "chip--ok" : "chip--off"}`, title: consent.source || undefined }, consent.granted ? t("consent.granted") : t("consent.withdrawn")),
    ),
  );
  return section(t("customer.consent"), items.length ? el("ul", { class: "plain-list" }, items) : emptyLine(t("customer.no_consent")));
}

function showValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Typed back from an input: numbers and true/false keep their type; the server checks definitions. */
function readValue(raw) {
  const value = raw.trim();
  if (value === "") return null;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === "true" || value === "false") return value === "true";
  return value;
}

function attributesSection(customer) {
  const entries = Object.entries(customer.attributes);
  const writable = may("customers:write");
  if (!editingAttributes) {
    const list = entries.map(([key, value]) => el("div", { class: "attribute" }, el("dt", {}, key), el("dd", {}, showValue(value))));
    return section(
      t("customer.attributes"),
      list.length ? el("dl", { class: "attributes" }, list) : emptyLine(t("customer.no_attributes")),
      writable
        ? el("button", { type: "button", class: "btn btn-small", onclick: () => { editingAttributes = true; render(); } }, t("customer.edit_attributes"))
        : null,
    );
  }
  const rows = entries.map(([key, value]) =>
    el("label", { class: "attribute-edit" }, el("span", {}, key), el("input", { class: "input", name: key, value: showValue(value) })),
  );
  const newKey = el("input", { class: "input", name: "__new_key", placeholder: t("customer.new_attribute"), "aria-label": t("customer.new_attribute"), pattern: "[a-z][a-z0-9_]*" });
  const newValue = el("input", { class: "input", name: "__new_value", placeholder: t("customer.value"), "aria-label": t("customer.value") });
  const form = el(
    "form",
    {
      class: "attributes-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const changes = {};
        for (const [key, value] of entries) {
          const typed = form.elements[key].value;
          if (typed !== showValue(value)) changes[key] = readValue(typed);
        }
        if (newKey.value.trim()) changes[newKey.value.trim()] = readValue(newValue.value);
        if (!Object.keys(changes).length) {
          editingAttributes = false;
          render();
          return;
        }
        editingAttributes = false;
        if (!(await patchCustomer({ attributes: changes }))) editingAttributes = true;
      },
    },
    rows,
    el("div", { class: "attribute-edit attribute-edit--new" }, newKey, newValue),
    el("p", { class: "muted" }, t("customer.attributes_hint")),
    el(
      "div",
      { class: "form-actions" },
      el("button", { type: "submit", class: "btn btn-small btn-primary" }, t("customer.save")),
      el("button", { type: "button", class: "btn btn-small", onclick: () => { editingAttributes = false; render(); } }, t("customer.cancel")),
    ),
  );
  return section(t("customer.attributes"), form);
}

function segmentsLine(customer) {
  const segments = customer.segments || [];
  if (!segments.length) return null;
  return el("ul", { class: "label-list", "aria-label": t("customer.segments") }, segments.map((segment) => el("li", { class: "chip chip--segment", title: segment.id }, segment.name)));
}

function ordersSection(insights) {
  if (!insights || !insights.last_orders.length) return null;
  return section(t("customer.last_orders"), el("ol", { class: "plain-list" }, insights.last_orders.map(activity)));
}

function callsSection(insights) {
  if (!insights || !insights.calls.length) return null;
  return section(t("customer.calls"), el("ol", { class: "plain-list" }, insights.calls.map(activity)));
}

function csatSection(insights) {
  if (!insights || !insights.csat.length) return null;
  return section(t("customer.csat_history"), el("ol", { class: "plain-list" }, insights.csat.map(activity)));
}

// ---- duplicates, merge and undo ---------------------------------------------------------------------

async function undoMerge(mergeId) {
  const undone = await attempt(() => api(`/api/v1/customers/merges/${mergeId}/undo`, { method: "POST" }));
  if (undone) {
    toast(t("dup.undone"), "info");
    refreshCustomer();
  }
}

async function merge(duplicate) {
  const customer = state.customer;
  const record = await attempt(() => api(`/api/v1/customers/${customer.id}/merge`, { method: "POST", body: { merged_id: duplicate.customer.id } }));
  if (!record) return;
  toast(t("dup.merged", { name: duplicate.customer.display_name || `#${duplicate.customer.id}` }), "info", { label: t("dup.undo"), run: () => undoMerge(record.id) });
  refreshCustomer();
}

function duplicatesSection() {
  const duplicates = loaded.duplicates;
  const canMerge = may("customers:merge");
  const merges = (state.customer.merges || []).filter((m) => m.survivor_id === state.customer.id && !m.undone_at);
  if (!duplicates.length && !merges.length) return null;
  const suggestions = duplicates.map((duplicate) =>
    el(
      "li",
      { class: "duplicate" },
      el("div", { class: "duplicate-head" }, el("strong", {}, duplicate.customer.display_name || `#${duplicate.customer.id}`), el("span", { class: "chip" }, t("dup.score", { score: Math.round(duplicate.score) }))),
      el("ul", { class: "reasons" }, duplicate.reasons.map((reason) => el("li", {}, reason))),
      canMerge ? el("button", { type: "button", class: "btn btn-small", onclick: () => merge(duplicate) }, t("dup.merge", { name: duplicate.customer.display_name || `#${duplicate.customer.id}` })) : null,
    ),
  );
  const done = merges.map((record) =>
    el(
      "li",
      { class: "merge" },
      el("span", {}, t("dup.merged_on", { id: record.merged_id, time: fullTime(record.merged_at) })),
      canMerge ? el("button", { type: "button", class: "btn btn-small", onclick: () => undoMerge(record.id) }, t("dup.undo_merge")) : null,
    ),
  );
  return section(
    t("dup.title"),
    suggestions.length ? el("ul", { class: "plain-list" }, suggestions) : null,
    done.length ? el("ul", { class: "plain-list merges" }, done) : null,
  );
}

// ---- the panel ----------------------------------------------------------------------------------------

function render() {
  const customer = state.customer;
  if (!customer) return;
  const facts = [
    customer.locale && t("customer.language", { locale: customer.locale }),
    customer.timezone,
    t("customer.since", { date: new Date(customer.created_at).toLocaleDateString() }),
  ].filter(Boolean);
  const timeline = customer.timeline.map(activity);
  const parts = [
    el(
      "header",
      { class: "customer-head" },
      avatar(customer.display_name, customer.id, "avatar--large"),
      el("div", {}, el("h2", { class: "customer-name" }, customer.display_name || t("customer.fallback_name", { id: customer.id })), el("p", { class: "muted" }, facts.join(" · "))),
    ),
    segmentsLine(customer),
    figures(loaded.insights),
    duplicatesSection(),
    tagsSection(customer),
    identitiesSection(customer),
    consentSection(customer),
    attributesSection(customer),
    ordersSection(loaded.insights),
    callsSection(loaded.insights),
    csatSection(loaded.insights),
    section(
      t("customer.activity"),
      timeline.length ? el("ol", { class: "plain-list" }, timeline) : emptyLine(t("customer.nothing_yet")),
      timeline.length >= timelineLimit
        ? el("button", { type: "button", class: "btn btn-small", onclick: () => { timelineLimit += TIMELINE_STEP; refreshCustomer(); } }, t("customer.more_activity"))
        : null,
    ),
  ];
  const panel = $("customer");
  const focused = panel.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
  panel.replaceChildren(...parts.filter(Boolean));
  panel.hidden = false;
  if (focused) panel.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
}

export async function loadCustomer(customerId) {
  if (!state.customer || state.customer.id !== customerId) {
    timelineLimit = TIMELINE_STEP;
    editingAttributes = false;
    loaded = { duplicates: [], insights: null };
  }
  try {
    const [customer, insights, duplicates] = await Promise.all([
      api(`/api/v1/customers/${customerId}?timeline_limit=${timelineLimit}`),
      api(`/api/v1/workspace/customers/${customerId}/insights`),
      api(`/api/v1/customers/${customerId}/duplicates`),
    ]);
    if (!state.current || state.current.customer_id !== customerId) return;
    state.customer = customer;
    loaded = { insights, duplicates };
    if (!editingAttributes) render();
    renderHeader();
  } catch (error) {
    $("customer").replaceChildren(section(t("customer.label"), emptyLine(error.message)));
    $("customer").hidden = false;
  }
}

export const refreshCustomer = debounce(() => {
  if (state.current) loadCustomer(state.current.customer_id);
}, 400);
