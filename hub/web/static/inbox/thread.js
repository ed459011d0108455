/*
 * The open conversation: its header (status, assignee, team, priority, labels, the bot), the actions
 * on it (assign, snooze until a time, resolve, reopen, hand back to the bot) and its timeline of
 * messages from every channel with their delivery status, interleaved with private notes.
 */

import { api } from "./api.js";
import { loadComposer, resetComposer } from "./composer.js";
import { loadCustomer } from "./customer.js";
import { $, attempt, debounce, dismissable, el, fill, ms, safeUrl, toast } from "./dom.js";
import { clockTime, fullTime, t } from "./i18n.js";
import { loadLabels, renderList, setUnread, updateListed } from "./list.js";
import { channelBadge, statusChip } from "./names.js";
import { slaBadge } from "./sla.js";
import { agentName, may, state } from "./state.js";

// ---- opening ------------------------------------------------------------------------------------

let opening = 0;

export async function openConversation(id) {
  const ticket = ++opening;
  if (state.currentId !== id) {
    state.typing.clear();
    renderTyping();
  }
  state.currentId = id;
  state.fresh.delete(id);
  location.hash = `c/${id}`;
  document.body.dataset.view = "thread";
  renderList();
  try {
    const [conversation, messages, notes] = await Promise.all([
      api(`/api/v1/conversations/${id}`),
      api(`/api/v1/conversations/${id}/messages`),
      may("notes:read") ? api(`/api/v1/conversations/${id}/notes`) : Promise.resolve([]),
    ]);
    if (ticket !== opening) return; // the agent already moved on to another one
    const switched = !state.current || state.current.customer_id !== conversation.customer_id;
    state.current = conversation;
    state.items.clear();
    state.newestMessageId = 0;
    $("timeline").replaceChildren();
    $("earlier").hidden = true;
    for (const message of messages) upsertMessage(message, { place: false });
    for (const note of notes) upsertNote(note, { place: false });
    sortTimeline();
    $("thread-placeholder").hidden = true;
    $("thread").hidden = false;
    renderHeader();
    resetComposer();
    scrollTimeline(true);
    markRead();
    if (switched) {
      state.customer = null;
      $("customer").replaceChildren();
    }
    loadCustomer(conversation.customer_id);
    loadComposer(conversation);
    offerEarlier(id, messages.length ? messages[0].id : state.newestMessageId + 1);
  } catch (error) {
    toast(error.message);
  }
}

// ---- read position ------------------------------------------------------------------------------

/** The agent has seen the open conversation up to its newest message (when the tab is in view). */
export const markRead = debounce(() => {
  const id = state.currentId;
  if (id === null || document.visibilityState !== "visible" || state.me.agent_id === null) return;
  setUnread(id, 0);
  attempt(() => api(`/api/v1/conversations/${id}/read`, { method: "POST", body: { message_id: state.newestMessageId || null } }));
}, 300);

// ---- header and tools -----------------------------------------------------------------------------

function metaChip(text, extra = {}) {
  return el("span", { class: "chip", ...extra }, text);
}

export function renderHeader() {
  const conversation = state.current;
  if (!conversation) return;
  const listed = state.conversations.get(conversation.id);
  const name =
    (state.customer && state.customer.id === conversation.customer_id && state.customer.display_name) ||
    (listed && listed.customer_name) ||
    t("customer.fallback_name", { id: conversation.customer_id });
  $("thread-title").textContent = name;
  const assignee =
    conversation.assignee_id === null
      ? t("thread.unassigned")
      : conversation.assignee_id === state.me.agent_id
        ? t("thread.assigned_to_you")
        : t("thread.assigned_to", { name: agentName(conversation.assignee_id, t) });
  fill(
    $("thread-meta"),
    channelBadge(conversation.channel_type),
    el("span", {}, conversation.channel_account),
    statusChip(conversation.status),
    slaBadge(conversation),
    conversation.status === "snoozed" && conversation.snoozed_until
      ? el("span", {}, t("thread.snoozed_until", { time: fullTime(conversation.snoozed_until) }))
      : null,
    el("span", {}, assignee),
    conversation.team_id !== null ? el("span", {}, state.teams.get(conversation.team_id) || "") : null,
    ["high", "urgent"].includes(conversation.priority)
      ? metaChip(t(`priority.${conversation.priority}`), { dataset: { priority: conversation.priority } })
      : null,
    conversation.bot_active ? metaChip(t("thread.bot_active"), { class: "chip chip--bot" }) : null,
  );
  const manage = may("conversations:manage");
  const resolved = conversation.status === "resolved";
  $("assign-me").hidden = !manage || state.me.agent_id === null || conversation.assignee_id === state.me.agent_id;
  $("resolve").hidden = !manage || resolved;
  $("reopen").hidden = !manage || !resolved;
  $("snooze").hidden = !manage || resolved;
  $("thread-tools").hidden = !manage;
  $("bot").hidden = !manage || resolved || conversation.bot_active;
  renderTools(conversation);
}

function renderTools(conversation) {
  const assignee = $("assignee");
  const agents = [...state.agents.values()].filter((agent) => agent.active && agent.role !== "marketer");
  assignee.replaceChildren(
    el("option", { value: "" }, t("thread.nobody")),
    ...agents.map((agent) => el("option", { value: String(agent.id) }, agent.id === state.me.agent_id ? t("agent.you") : agent.name)),
  );
  assignee.value = conversation.assignee_id === null ? "" : String(conversation.assignee_id);
  const team = $("team");
  team.replaceChildren(
    el("option", { value: "" }, t("thread.no_team")),
    ...[...state.teams].map(([id, teamName]) => el("option", { value: String(id) }, teamName)),
  );
  team.value = conversation.team_id === null ? "" : String(conversation.team_id);
  $("priority").value = conversation.priority;
  $("status").value = conversation.status;
  $("labels").replaceChildren(
    ...conversation.labels.map((label) =>
      el(
        "li",
        { class: "chip chip--label" },
        label,
        el(
          "button",
          { type: "button", class: "chip-remove", "aria-label": t("tool.remove_label", { label }), onclick: () => setLabels(conversation.labels.filter((l) => l !== label)) },
          "×",
        ),
      ),
    ),
  );
}

// ---- actions ------------------------------------------------------------------------------------

export function applyConversation(conversation) {
  updateListed(conversation);
  if (state.current && state.current.id === conversation.id) {
    state.current = conversation;
    renderHeader();
  }
}

async function change(path, body, method = "POST") {
  const id = state.currentId;
  if (id === null) return;
  const url = path ? `/api/v1/conversations/${id}/${path}` : `/api/v1/conversations/${id}`;
  const updated = await attempt(() => api(url, { method, body }));
  if (updated) applyConversation(updated);
  return updated;
}

export function assignToMe() {
  if (!$("assign-me").hidden) return change("assign", { agent_id: state.me.agent_id, team_id: state.current.team_id });
}

export function resolve() {
  if (!$("resolve").hidden) return change("status", { status: "resolved" });
}

export function reopen() {
  if (!$("reopen").hidden) return change("status", { status: "open" });
}

export function handToBot() {
  if (!$("bot").hidden) return change("bot");
}

async function setLabels(labels) {
  const updated = await change("", { labels }, "PATCH");
  if (updated) attempt(loadLabels);
}

function addLabel() {
  const input = $("label-input");
  const label = input.value.trim();
  if (!label || !state.current) return;
  input.value = "";
  if (!state.current.labels.includes(label)) setLabels([...state.current.labels, label]);
}

// ---- snooze ---------------------------------------------------------------------------------------

function atHour(days, hour) {
  const date = new Date();
  date.setDate(date.getDate() + days);
  date.setHours(hour, 0, 0, 0);
  return date;
}

function nextMonday() {
  const date = atHour(1, 9);
  while (date.getDay() !== 1) date.setDate(date.getDate() + 1);
  return date;
}

/** A datetime-local value (local time, minutes) for a Date. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

async function snoozeUntil(date) {
  closeSnooze();
  if (!(date instanceof Date) || Number.isNaN(date.getTime()) || date <= new Date()) {
    toast(t("snooze.future"));
    return;
  }
  await change("status", { status: "snoozed", snoozed_until: date.toISOString() });
}

let closeSnooze = () => {};

export function openSnooze() {
  const menu = $("snooze-menu");
  if ($("snooze").hidden || !menu.hidden) return;
  const presets = [
    [t("snooze.hour"), () => new Date(Date.now() + 3600000)],
    [t("snooze.evening"), () => atHour(0, 18)],
    [t("snooze.tomorrow"), () => atHour(1, 9)],
    [t("snooze.next_week"), () => nextMonday()],
  ];
  const custom = el("input", { type: "datetime-local", class: "input", id: "snooze-at", min: localInput(new Date()), value: localInput(atHour(1, 9)) });
  menu.replaceChildren(
    el("p", { class: "popover-title" }, t("snooze.title")),
    ...presets
      .filter(([, when]) => when() > new Date())
      .map(([text, when]) => el("button", { type: "button", class: "menu-item", onclick: () => snoozeUntil(when()) }, text, el("span", { class: "muted" }, clockTime(when().toISOString())))),
    el(
      "form",
      { class: "snooze-custom", onsubmit: (event) => { event.preventDefault(); snoozeUntil(new Date(custom.value)); } },
      el("label", { for: "snooze-at" }, t("snooze.until")),
      custom,
      el("button", { type: "submit", class: "btn btn-small btn-primary" }, t("snooze.confirm")),
    ),
  );
  menu.hidden = false;
  $("snooze").setAttribute("aria-expanded", "true");
  menu.querySelector("button").focus();
  closeSnooze = dismissable(menu, () => {
    menu.hidden = true;
    $("snooze").setAttribute("aria-expanded", "false");
    closeSnooze = () => {};
  });
}

// ---- timeline -------------------------------------------------------------------------------------

const RECEIPTS = { queued: ["delivery.queued", "○"], sent: ["delivery.sent", "✓"], delivered: ["delivery.delivered", "✓✓"], read: ["delivery.read", "✓✓"] };

function authorLabel(message) {
  if (message.author_kind === "customer")
    return (
      (state.customer && state.customer.id === message.customer_id && state.customer.display_name) ||
      (state.conversations.get(message.conversation_id) || {}).customer_name ||
      t("author.customer")
    );
  if (message.author_kind === "bot") return t("author.bot");
  if (message.author_kind === "agent") return message.author_agent_id ? agentName(message.author_agent_id, t) : t("author.agent");
  return t("author.system");
}

async function retryMessage(message, button) {
  button.disabled = true;
  button.textContent = t("delivery.retrying");
  try {
    await api(`/api/v1/conversations/${message.conversation_id}/messages/${message.id}/retry`, { method: "POST" });
  } catch (error) {
    toast(error.message);
    button.disabled = false;
    button.textContent = t("delivery.retry");
  }
}

function deliveryStatus(message) {
  if (message.direction !== "outbound") return null;
  if (message.status === "failed") {
    return el(
      "div",
      { class: "delivery delivery--failed", role: "status" },
      el("span", {}, message.failure_reason ? t("delivery.failed_because", { reason: message.failure_reason }) : t("delivery.failed")),
      may("conversations:reply")
        ? el("button", { type: "button", class: "btn btn-small", onclick: (event) => retryMessage(message, event.currentTarget) }, t("delivery.retry"))
        : null,
    );
  }
  const [key, tick] = RECEIPTS[message.status] || [message.status, ""];
  return el("div", { class: "delivery", dataset: { status: message.status } }, el("span", { class: "tick", "aria-hidden": "true" }, tick), t(key));
}

function attachmentList(attachments) {
  if (!attachments.length) return null;
  return el(
    "ul",
    { class: "attachments", "aria-label": t("composer.attachments") },
    attachments.map((file) => {
      const name = file.filename || t("composer.attachment");
      if (!safeUrl(file.url)) return el("li", {}, name);
      const image = file.kind === "image" || /^image\//.test(file.content_type || "");
      return el(
        "li",
        {},
        el("a", { href: file.url, target: "_blank", rel: "noopener" }, image ? el("img", { src: file.url, alt: name, class: "attachment-image", loading: "lazy" }) : null, image ? null : name),
      );
    }),
  );
}

function renderMessage(message) {
  const outbound = message.direction === "outbound";
  // History from the customer's other conversations says where it came from.
  const elsewhere = message.conversation_id !== state.currentId;
  return el(
    "li",
    { class: `item msg msg--${outbound ? "out" : "in"} msg--${message.author_kind}`, dataset: { messageId: String(message.id) } },
    el(
      "div",
      { class: "item-head" },
      el("span", { class: "item-author" }, authorLabel(message)),
      channelBadge(message.channel_type),
      elsewhere ? el("span", { class: "chip chip--elsewhere" }, t("thread.other_conversation", { id: message.conversation_id })) : null,
      el("time", { datetime: message.created_at, title: fullTime(message.created_at) }, clockTime(message.created_at)),
    ),
    message.text ? el("div", { class: "bubble" }, message.text) : null,
    attachmentList(message.attachments),
    message.buttons.length ? el("div", { class: "buttons" }, message.buttons.map((b) => el("span", { class: "chip" }, b.title))) : null,
    deliveryStatus(message),
  );
}

/** A note's text with the @mentions of colleagues highlighted. */
function noteText(note) {
  const names = note.mentions.map((id) => state.agents.get(id)?.name).filter(Boolean);
  if (!names.length) return note.text;
  const pattern = new RegExp(`(@(?:${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}))`, "g");
  return note.text.split(pattern).map((part, index) => (index % 2 ? el("mark", { class: "mention" }, part) : part));
}

function renderNote(note) {
  const forMe = note.mentions.includes(state.me.agent_id);
  return el(
    "li",
    { class: `item note${forMe ? " note--mine" : ""}`, dataset: { noteId: String(note.id) } },
    el(
      "div",
      { class: "item-head" },
      el("span", { class: "note-label" }, t("composer.note")),
      el("span", { class: "item-author" }, note.author_agent_id ? agentName(note.author_agent_id, t) : t("author.automation")),
      el("time", { datetime: note.created_at, title: fullTime(note.created_at) }, clockTime(note.created_at)),
    ),
    el("div", { class: "bubble" }, noteText(note)),
  );
}

/**
 * Add or refresh one timeline item; returns whether it is new.
 *
 * Only the live stream may change an item already shown: it delivers changes in order, while an API
 * answer can be overtaken by them (a reply's POST returns "queued" after the stream said "read").
 */
function upsertItem(key, at, id, render, { live = true, place = true } = {}) {
  const existing = state.items.get(key);
  if (existing) {
    if (live) {
      const node = render();
      existing.node.replaceWith(node);
      existing.node = node;
    }
    return false;
  }
  const node = render();
  state.items.set(key, { at: ms(at), id, node });
  $("timeline").append(node);
  if (place) sortTimeline();
  return true;
}

export function upsertMessage(message, options) {
  state.newestMessageId = Math.max(state.newestMessageId, message.id);
  return upsertItem(`m${message.id}`, message.created_at, message.id, () => renderMessage(message), options);
}

export function upsertNote(note, options) {
  return upsertItem(`n${note.id}`, note.created_at, note.id, () => renderNote(note), options);
}

/** Messages and notes interleaved by time. Only moves nodes that are out of place. */
function sortTimeline() {
  const timeline = $("timeline");
  const sorted = [...state.items.values()].sort((a, b) => a.at - b.at || a.id - b.id);
  sorted.forEach((item, index) => {
    if (timeline.children[index] !== item.node) timeline.insertBefore(item.node, timeline.children[index] || null);
  });
}

/** Follow new items only if the agent is already at the bottom (don't yank them away from reading). */
export function scrollTimeline(force) {
  const timeline = $("timeline");
  const nearBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 120;
  if (force || nearBottom) timeline.scrollTop = timeline.scrollHeight;
}

/** The customer's earlier messages (every channel, every conversation) above the ones shown. */
async function loadEarlier() {
  const id = state.currentId;
  const messages = [...state.items.keys()].filter((key) => key.startsWith("m")).map((key) => state.items.get(key).id);
  const oldest = messages.length ? Math.min(...messages) : state.newestMessageId + 1;
  const page = await attempt(() => api(`/api/v1/conversations/${id}/history?before_id=${oldest}&limit=${EARLIER_PAGE}`));
  if (!page || id !== state.currentId) return;
  const timeline = $("timeline");
  const fromBottom = timeline.scrollHeight - timeline.scrollTop;
  for (const message of page) upsertMessage(message, { place: false });
  sortTimeline();
  timeline.scrollTop = timeline.scrollHeight - fromBottom; // keep what the agent was reading in place
  $("earlier").hidden = page.length < EARLIER_PAGE;
}

const EARLIER_PAGE = 50;

/** Show "Earlier messages" only when there are some (one indexed row to find out). */
async function offerEarlier(id, before) {
  const probe = await attempt(() => api(`/api/v1/conversations/${id}/history?before_id=${before}&limit=1`));
  if (probe && id === state.currentId) $("earlier").hidden = probe.length === 0;
}

// ---- colleagues typing ----------------------------------------------------------------------------

const TYPING_SHOWN_MS = 6000;

/** A colleague (or, on web chat, the customer) is writing in the open conversation. */
export function colleagueTyping(event) {
  if (event.conversation_id !== state.currentId) return;
  const who = event.agent_id === null ? "customer" : event.agent_id;
  state.typing.set(who, { name: event.name, mode: event.mode, until: Date.now() + TYPING_SHOWN_MS });
  renderTyping();
  setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
}

export function renderTyping() {
  const now = Date.now();
  for (const [id, entry] of state.typing) if (entry.until <= now) state.typing.delete(id);
  const line = $("typing");
  const entries = [...state.typing.values()];
  line.hidden = !entries.length;
  const key = { note: "typing.note", customer: "typing.customer" };
  line.textContent = entries.map((entry) => t(key[entry.mode] || "typing.reply", { name: entry.name })).join(" · ");
}

// ---- wiring ---------------------------------------------------------------------------------------

export function wireThread() {
  $("assign-me").addEventListener("click", assignToMe);
  $("resolve").addEventListener("click", resolve);
  $("reopen").addEventListener("click", reopen);
  $("bot").addEventListener("click", handToBot);
  $("snooze").addEventListener("click", openSnooze);
  $("assignee").addEventListener("change", (event) => {
    const value = event.target.value;
    change("assign", { agent_id: value ? Number(value) : null, team_id: state.current.team_id });
  });
  $("team").addEventListener("change", (event) => {
    const value = event.target.value;
    change("assign", { agent_id: state.current.assignee_id, team_id: value ? Number(value) : null });
  });
  $("priority").addEventListener("change", (event) => change("", { priority: event.target.value }, "PATCH"));
  $("status").addEventListener("change", (event) => {
    const status = event.target.value;
    if (status === "snoozed") openSnooze();
    else change("status", { status });
  });
  $("earlier").addEventListener("click", loadEarlier);
  $("label-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      addLabel();
    }
  });
  $("label-input").addEventListener("change", addLabel);
  $("back").addEventListener("click", () => {
    document.body.dataset.view = "list";
  });
}
