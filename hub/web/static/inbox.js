/*
 * The agent inbox: conversation list, the open conversation with its reply box, and the customer.
 *
 * State comes from the REST API (/api/v1) and stays current through the live stream
 * (/api/v1/live). The stream is best effort, so every (re)connection reloads what is on screen.
 * All text from customers and colleagues goes into the page as text nodes, never as HTML.
 */
"use strict";

// ---- helpers ----------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

/** Build an element; string children become text nodes. */
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** A random key for Idempotency-Key (crypto.randomUUID needs https; the demo runs on plain http). */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Call the API; errors carry the server's message. A lost session sends the agent to sign in. */
async function api(path, { method = "GET", body, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check your connection.");
  }
  if (response.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.hash)}`);
    throw new ApiError(401, "Your session has ended; please sign in again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(
      response.status,
      (data && data.error && data.error.message) || `Request failed (HTTP ${response.status}).`,
    );
  }
  return data;
}

function toast(message, kind = "error") {
  const node = el("div", { class: `toast toast--${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

/** Run an action from a button, showing what went wrong instead of failing silently. */
async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    toast(error.message);
    return undefined;
  }
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function initials(name) {
  const parts = (name || "?").trim().split(/\s+/);
  return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

/** A stable colour per person, so the same customer always gets the same avatar. */
function hue(seed) {
  let hash = 0;
  for (const ch of String(seed)) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return Math.abs(hash) % 360;
}

function avatar(name, seed, size = "") {
  return el("span", { class: `avatar ${size}`, style: `--hue: ${hue(seed)}`, "aria-hidden": "true" }, initials(name));
}

/** Milliseconds since the epoch: ISO strings from the API don't compare reliably as text
 * ("…:05Z" vs "…:05.5Z"), numbers do. */
const ms = (iso) => Date.parse(iso);

function relativeTime(iso) {
  const seconds = (Date.now() - ms(iso)) / 1000;
  if (seconds < 45) return "now";
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)}d`;
  return new Date(iso).toLocaleDateString([], { day: "numeric", month: "short" });
}

function clockTime(iso) {
  const date = new Date(iso);
  const today = date.toDateString() === new Date().toDateString();
  return today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

function timeEl(iso, text) {
  return el(
    "time",
    { datetime: iso, title: new Date(iso).toLocaleString(), dataset: text ? {} : { relative: "" } },
    text || relativeTime(iso),
  );
}

/** Only web links and our own paths become links (never javascript: or data: from a provider). */
function safeUrl(url) {
  return typeof url === "string" && (/^https?:\/\//i.test(url) || /^\/(?!\/)/.test(url));
}

const CHANNELS = {
  webchat: "Web chat",
  telegram: "Telegram",
  viber: "Viber",
  whatsapp: "WhatsApp",
  sms: "SMS",
  email: "Email",
  voice: "Voice",
};

function channelBadge(type) {
  return el("span", { class: "chip chip--channel", dataset: { channel: type } }, CHANNELS[type] || type);
}

const STATUS_LABELS = { open: "Open", pending: "Pending", snoozed: "Snoozed", resolved: "Resolved" };

// ---- state ------------------------------------------------------------------------------------

const state = {
  me: null,
  can: new Set(),
  agents: new Map(), // agent id -> name
  filter: "open",
  conversations: new Map(), // id -> ConversationListItem
  rows: new Map(), // id -> <li>
  fresh: new Set(), // conversations that arrived live and haven't been opened yet
  arriving: new Set(), // fresh ones whose row should play the arrival animation once
  unread: new Set(),
  seen: {}, // id -> time (ms) of the newest message the agent has seen there (kept in localStorage)
  currentId: null,
  current: null, // the open conversation (ConversationOut)
  items: new Map(), // "m12" / "n3" -> {at, id, node} for the open conversation's timeline
  customer: null,
  mode: "reply",
  pendingReply: null, // {text, key}: a retried submission reuses its Idempotency-Key
  sending: false,
};

const FILTER_QUERY = {
  open: "status=open",
  mine: "status=open&assignee=me",
  unassigned: "status=open&assignee=none",
};

function seenKey() {
  return `omnihub.inbox.seen.${state.me.agent_id}`;
}

function loadSeen() {
  try {
    state.seen = JSON.parse(localStorage.getItem(seenKey())) || {};
  } catch {
    state.seen = {};
  }
}

function markSeen(conversationId, iso) {
  const at = ms(iso);
  if (!at || (state.seen[conversationId] || 0) >= at) return;
  state.seen[conversationId] = at;
  localStorage.setItem(seenKey(), JSON.stringify(state.seen));
}

/** A customer has been waiting since after the agent last looked (or the agent never opened it). */
function waitingUnseen(conversation) {
  const seen = state.seen[conversation.id];
  return Boolean(conversation.waiting_since) && (!seen || ms(conversation.waiting_since) > seen);
}

function matchesFilter(conversation) {
  if (conversation.status !== "open") return false;
  if (state.filter === "mine") return conversation.assignee_id === state.me.agent_id;
  if (state.filter === "unassigned") return conversation.assignee_id === null;
  return true;
}

function agentName(id) {
  if (id === state.me.agent_id) return "You";
  return state.agents.get(id) || `Agent #${id}`;
}

// ---- conversation list --------------------------------------------------------------------------

async function loadConversations() {
  const list = await api(`/api/v1/conversations?${FILTER_QUERY[state.filter]}&limit=100`);
  state.conversations.clear();
  for (const conversation of list) {
    state.conversations.set(conversation.id, conversation);
    if (waitingUnseen(conversation)) state.unread.add(conversation.id);
  }
  for (const [id, row] of state.rows) {
    if (!state.conversations.has(id)) {
      row.remove();
      state.rows.delete(id);
    }
  }
  renderList();
}

/** The row for a conversation; rebuilt only when something it shows changed, so live updates
 * don't steal keyboard focus from the list. */
function renderRow(conversation) {
  const id = conversation.id;
  const flags = { active: id === state.currentId, fresh: state.fresh.has(id), unread: state.unread.has(id) };
  const signature = JSON.stringify([
    conversation.customer_name,
    conversation.channel_type,
    conversation.last_message_text,
    conversation.last_message_at,
    flags,
  ]);
  const old = state.rows.get(id);
  if (old && old.dataset.signature === signature) return old;
  const classes = ["conversation"];
  if (flags.active) classes.push("is-active");
  if (flags.fresh) classes.push("is-new");
  if (flags.unread) classes.push("is-unread");
  if (state.arriving.delete(id)) classes.push("is-arriving");
  const button = el(
    "button",
    {
      type: "button",
      class: "conversation-button",
      "aria-current": id === state.currentId ? "true" : undefined,
      onclick: () => openConversation(id),
    },
    avatar(conversation.customer_name, conversation.customer_id),
    el(
      "span",
      { class: "conversation-main" },
      el(
        "span",
        { class: "conversation-top" },
        el("span", { class: "conversation-name" }, conversation.customer_name),
        state.fresh.has(id) ? el("span", { class: "chip chip--new" }, "New") : null,
        timeEl(conversation.last_message_at),
      ),
      el(
        "span",
        { class: "conversation-bottom" },
        channelBadge(conversation.channel_type),
        el("span", { class: "conversation-snippet" }, conversation.last_message_text || "No messages yet"),
        state.unread.has(id)
          ? el(
              "span",
              { class: "unread-dot", title: "New customer messages" },
              el("span", { class: "visually-hidden" }, "Unread"),
            )
          : null,
      ),
    ),
  );
  const row = el("li", { class: classes.join(" "), dataset: { id: String(id), signature } }, button);
  if (old) old.replaceWith(row);
  state.rows.set(id, row);
  return row;
}

function renderList() {
  const list = $("conversation-list");
  const sorted = [...state.conversations.values()].sort(
    (a, b) => ms(b.last_message_at) - ms(a.last_message_at) || b.id - a.id,
  );
  sorted.forEach((conversation, index) => {
    const row = renderRow(conversation);
    if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
  });
  $("list-empty").hidden = sorted.length > 0;
}

function setFilter(filter) {
  state.filter = filter;
  for (const button of document.querySelectorAll(".filter")) {
    button.setAttribute("aria-pressed", String(button.dataset.filter === filter));
  }
  attempt(loadConversations);
}

// ---- the open conversation ----------------------------------------------------------------------

const PAGE = 1000;

/** Every message of a conversation. The API pages from the oldest (after_id), so a long
 * conversation takes several calls; one page is the usual case. */
async function allMessages(id) {
  const messages = [];
  for (;;) {
    const after = messages.length ? `&after_id=${messages[messages.length - 1].id}` : "";
    const page = await api(`/api/v1/conversations/${id}/messages?limit=${PAGE}${after}`);
    messages.push(...page);
    if (page.length < PAGE) return messages;
  }
}

async function openConversation(id) {
  saveDraft();
  state.currentId = id;
  state.items.clear();
  state.fresh.delete(id);
  state.unread.delete(id);
  state.pendingReply = null;
  state.current = null;
  state.customer = null;
  $("customer").replaceChildren();
  $("customer").hidden = true;
  history.replaceState(null, "", `#c/${id}`);
  document.body.dataset.view = "thread";
  $("thread-placeholder").hidden = true;
  $("thread").hidden = false;
  $("timeline").replaceChildren();
  $("composer-text").value = drafts.get(id) || "";
  renderList();

  const canNotes = state.can.has("notes:read");
  try {
    const [conversation, messages, notes] = await Promise.all([
      api(`/api/v1/conversations/${id}`),
      allMessages(id),
      canNotes ? api(`/api/v1/conversations/${id}/notes`) : [],
    ]);
    if (state.currentId !== id) return; // the agent moved on while this loaded
    state.current = conversation;
    renderHeader();
    for (const message of messages) upsertMessage(message, { live: false, place: false });
    for (const note of notes) upsertNote(note, { live: false, place: false });
    sortTimeline();
    scrollTimeline(true);
    const newest = messages.length ? messages[messages.length - 1].created_at : conversation.last_message_at;
    markSeen(id, newest);
    loadCustomer(conversation.customer_id);
  } catch (error) {
    toast(error.message);
  }
}

function renderHeader() {
  const conversation = state.current;
  const listed = state.conversations.get(conversation.id);
  const name =
    (listed && listed.customer_name) ||
    (state.customer && state.customer.display_name) ||
    `Customer ${conversation.customer_id}`;
  $("thread-title").textContent = name;
  const status = el(
    "span",
    { class: "chip chip--status", dataset: { status: conversation.status } },
    STATUS_LABELS[conversation.status],
  );
  const assignee =
    conversation.assignee_id === null ? "Unassigned" : `Assigned to ${agentName(conversation.assignee_id)}`;
  $("thread-meta").replaceChildren(
    channelBadge(conversation.channel_type),
    el("span", {}, conversation.channel_account),
    status,
    el("span", {}, assignee),
  );
  const manage = state.can.has("conversations:manage");
  $("assign-me").hidden = !manage || conversation.assignee_id === state.me.agent_id;
  $("resolve").hidden = !manage || conversation.status === "resolved";
  $("reopen").hidden = !manage || conversation.status !== "resolved";
}

const RECEIPTS = {
  queued: ["Sending…", "○"],
  sent: ["Sent", "✓"],
  delivered: ["Delivered", "✓✓"],
  read: ["Read", "✓✓"],
};

function authorLabel(message) {
  if (message.author_kind === "customer")
    return (
      (state.conversations.get(message.conversation_id) || {}).customer_name ||
      (state.customer && state.customer.display_name) ||
      "Customer"
    );
  if (message.author_kind === "bot") return "Bot";
  if (message.author_kind === "agent") return message.author_agent_id ? agentName(message.author_agent_id) : "Agent";
  return "System";
}

function deliveryStatus(message) {
  if (message.direction !== "outbound") return null;
  if (message.status === "failed") {
    return el(
      "div",
      { class: "delivery delivery--failed", role: "status" },
      el("span", {}, `Failed${message.failure_reason ? `: ${message.failure_reason}` : ""}`),
      state.can.has("conversations:reply")
        ? el(
            "button",
            { type: "button", class: "btn btn-small", onclick: (event) => retryMessage(message, event.currentTarget) },
            "Retry",
          )
        : null,
    );
  }
  const [label, tick] = RECEIPTS[message.status] || [message.status, ""];
  return el(
    "div",
    { class: "delivery", dataset: { status: message.status } },
    el("span", { class: "tick", "aria-hidden": "true" }, tick),
    label,
  );
}

function renderMessage(message) {
  const outbound = message.direction === "outbound";
  return el(
    "li",
    {
      class: `item msg msg--${outbound ? "out" : "in"} msg--${message.author_kind}`,
      dataset: { messageId: String(message.id) },
    },
    el(
      "div",
      { class: "item-head" },
      el("span", { class: "item-author" }, authorLabel(message)),
      channelBadge(message.channel_type),
      timeEl(message.created_at, clockTime(message.created_at)),
    ),
    el("div", { class: "bubble" }, message.text),
    message.attachments.length
      ? el(
          "ul",
          { class: "attachments", "aria-label": "Attachments" },
          message.attachments.map((file) =>
            el(
              "li",
              {},
              safeUrl(file.url)
                ? el("a", { href: file.url, target: "_blank", rel: "noopener" }, file.filename || "attachment")
                : file.filename || "attachment",
            ),
          ),
        )
      : null,
    message.buttons.length
      ? el(
          "div",
          { class: "buttons" },
          message.buttons.map((b) => el("span", { class: "chip" }, b.title)),
        )
      : null,
    deliveryStatus(message),
  );
}

function renderNote(note) {
  return el(
    "li",
    { class: "item note", dataset: { noteId: String(note.id) } },
    el(
      "div",
      { class: "item-head" },
      el("span", { class: "note-label" }, "Private note"),
      el("span", { class: "item-author" }, note.author_agent_id ? agentName(note.author_agent_id) : "Automation"),
      timeEl(note.created_at, clockTime(note.created_at)),
    ),
    el("div", { class: "bubble" }, note.text),
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

function upsertMessage(message, options) {
  return upsertItem(`m${message.id}`, message.created_at, message.id, () => renderMessage(message), options);
}

function upsertNote(note, options) {
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
function scrollTimeline(force) {
  const timeline = $("timeline");
  const nearBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 120;
  if (force || nearBottom) timeline.scrollTop = timeline.scrollHeight;
}

/** Send a failed message again. The live stream then shows it queued and, with luck, sent. */
async function retryMessage(message, button) {
  button.disabled = true;
  button.textContent = "Retrying…";
  try {
    await api(`/api/v1/conversations/${message.conversation_id}/messages/${message.id}/retry`, { method: "POST" });
  } catch (error) {
    toast(error.message);
    button.disabled = false;
    button.textContent = "Retry";
  }
}

async function changeConversation(path, body) {
  const id = state.currentId;
  const updated = await attempt(() => api(`/api/v1/conversations/${id}/${path}`, { method: "POST", body }));
  if (updated) applyConversation(updated);
}

// ---- composer -----------------------------------------------------------------------------------

const drafts = new Map(); // conversation id -> unsent text

function saveDraft() {
  if (state.currentId !== null) drafts.set(state.currentId, $("composer-text").value);
}

function setMode(mode) {
  state.mode = mode;
  $("composer").dataset.mode = mode;
  for (const button of document.querySelectorAll(".mode")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
  const note = mode === "note";
  $("composer-text").placeholder = note ? "Write a private note — only your team sees it…" : "Write a reply…";
  $("composer-label").textContent = note ? "Private note for your team" : "Reply to the customer";
  $("composer-send").textContent = note ? "Add note" : "Send";
  $("composer-text").focus();
}

async function submitComposer(event) {
  event.preventDefault();
  const textarea = $("composer-text");
  const text = textarea.value.trim();
  const id = state.currentId;
  if (!text || state.sending || id === null) return;
  state.sending = true;
  $("composer-send").disabled = true;
  try {
    if (state.mode === "note") {
      const note = await api(`/api/v1/conversations/${id}/notes`, { method: "POST", body: { text } });
      if (state.currentId === id) upsertNote(note, { live: false });
    } else {
      // The same text submitted again (a double click, or a retry after a lost response) keeps its
      // key, so the hub sends it once.
      if (!state.pendingReply || state.pendingReply.text !== text) state.pendingReply = { text, key: newKey() };
      const message = await api(`/api/v1/conversations/${id}/messages`, {
        method: "POST",
        body: { text },
        headers: { "Idempotency-Key": state.pendingReply.key },
      });
      state.pendingReply = null;
      if (state.currentId === id) upsertMessage(message, { live: false });
    }
    textarea.value = "";
    drafts.delete(id);
    scrollTimeline(true);
  } catch (error) {
    toast(error.message);
  } finally {
    state.sending = false;
    $("composer-send").disabled = false;
  }
}

// ---- customer panel -----------------------------------------------------------------------------

const TIMELINE_LABELS = {
  "message.inbound": "Customer wrote",
  "channel.subscribed": "Subscribed",
  "channel.unsubscribed": "Unsubscribed",
  "call.missed": "Missed call",
  "call.ended": "Call",
};
const REPLY_LABELS = { agent: "Agent replied", bot: "Bot replied", system: "System message" };

/** "Agent replied", "Customer wrote", or the event's own name (order.created) for business events. */
function activityLabel(entry) {
  if (entry.kind === "message.outbound") return REPLY_LABELS[entry.payload.author] || "Message sent";
  return TIMELINE_LABELS[entry.kind] || entry.kind;
}

function section(title, ...content) {
  return el("section", { class: "panel-section" }, el("h3", { class: "panel-title" }, title), ...content);
}

function emptyLine(text) {
  return el("p", { class: "muted" }, text);
}

function renderCustomer(customer) {
  const identities = customer.identities.map((identity) =>
    el(
      "li",
      { class: "identity" },
      el("span", { class: "chip chip--kind" }, identity.kind),
      el(
        "span",
        { class: "identity-address", title: identity.address },
        identity.display_name && identity.kind !== "webchat"
          ? `${identity.display_name} · ${identity.address}`
          : identity.address,
      ),
      identity.verified
        ? el(
            "span",
            { class: "verified", title: `Verified (${identity.source})` },
            el("span", { "aria-hidden": "true" }, "✓"),
            el("span", { class: "verified-text" }, "Verified"),
          )
        : el("span", { class: "unverified" }, "Unverified"),
    ),
  );
  const consents = customer.consents.map((consent) =>
    el(
      "li",
      { class: "consent" },
      el("span", {}, `${CHANNELS[consent.channel] || consent.channel} · ${consent.purpose}`),
      el(
        "span",
        { class: `chip ${consent.granted ? "chip--ok" : "chip--off"}`, title: consent.source || undefined },
        consent.granted ? "Granted" : "Withdrawn",
      ),
    ),
  );
  const attributes = Object.entries(customer.attributes).map(([key, value]) =>
    el(
      "div",
      { class: "attribute" },
      el("dt", {}, key),
      el("dd", {}, typeof value === "string" ? value : JSON.stringify(value)),
    ),
  );
  const activity = customer.timeline
    .slice(0, 6)
    .map((entry) =>
      el(
        "li",
        { class: "activity" },
        el(
          "div",
          { class: "activity-head" },
          el("span", { class: "activity-kind" }, activityLabel(entry)),
          timeEl(entry.occurred_at),
        ),
        typeof entry.payload.text === "string" ? el("p", { class: "activity-text" }, entry.payload.text) : null,
      ),
    );
  const facts = [
    customer.locale && `Language: ${customer.locale}`,
    customer.timezone,
    `Customer since ${new Date(customer.created_at).toLocaleDateString()}`,
  ].filter(Boolean);
  const parts = [
    el(
      "header",
      { class: "customer-head" },
      avatar(customer.display_name, customer.id, "avatar--large"),
      el(
        "div",
        {},
        el("h2", { class: "customer-name" }, customer.display_name),
        el("p", { class: "muted" }, facts.join(" · ")),
      ),
    ),
    customer.tags.length
      ? el(
          "div",
          { class: "tags" },
          customer.tags.map((tag) => el("span", { class: "chip" }, tag)),
        )
      : null,
    section("Identities", identities.length ? el("ul", { class: "plain-list" }, identities) : emptyLine("None yet")),
    section(
      "Consent",
      consents.length ? el("ul", { class: "plain-list" }, consents) : emptyLine("No consent recorded"),
    ),
    section(
      "Attributes",
      attributes.length ? el("dl", { class: "attributes" }, attributes) : emptyLine("No attributes"),
    ),
    section(
      "Recent activity",
      activity.length ? el("ol", { class: "plain-list" }, activity) : emptyLine("Nothing yet"),
    ),
  ];
  $("customer").replaceChildren(...parts.filter(Boolean));
  $("customer").hidden = false;
}

async function loadCustomer(customerId) {
  try {
    const customer = await api(`/api/v1/customers/${customerId}?timeline_limit=6`);
    if (!state.current || state.current.customer_id !== customerId) return;
    state.customer = customer;
    renderCustomer(customer);
    renderHeader();
  } catch (error) {
    $("customer").replaceChildren(section("Customer", emptyLine(error.message)));
    $("customer").hidden = false;
  }
}

const refreshCustomer = debounce(() => {
  if (state.current) loadCustomer(state.current.customer_id);
}, 400);

const refreshList = debounce(() => attempt(loadConversations), 300);

// ---- live updates -------------------------------------------------------------------------------

/** A conversation changed (status, assignee, ...): update the list, and the header if it is open. */
function applyConversation(conversation) {
  const listed = state.conversations.get(conversation.id);
  if (listed) {
    Object.assign(listed, conversation);
    if (!matchesFilter(listed)) {
      state.conversations.delete(conversation.id);
      state.rows.get(conversation.id)?.remove();
      state.rows.delete(conversation.id);
    }
    renderList();
  } else if (matchesFilter(conversation)) {
    refreshList(); // it now belongs here (reopened, unassigned...): the list item needs its name
  }
  if (state.current && state.current.id === conversation.id) {
    state.current = conversation;
    renderHeader();
  }
}

async function newConversationsArrived() {
  const before = new Set(state.conversations.keys());
  await loadConversations();
  for (const id of state.conversations.keys()) {
    if (!before.has(id) && id !== state.currentId) {
      state.fresh.add(id);
      state.arriving.add(id);
    }
  }
  renderList();
}

function onMessage(message) {
  const listed = state.conversations.get(message.conversation_id);
  const fromCustomer = message.direction === "inbound" && message.author_kind === "customer";
  const isOpen = message.conversation_id === state.currentId;
  if (listed) {
    if (ms(message.created_at) >= ms(listed.last_message_at)) {
      listed.last_message_at = message.created_at;
      listed.last_message_text = message.text;
    }
    if (fromCustomer && !isOpen) state.unread.add(message.conversation_id);
    renderList();
  } else if (fromCustomer) {
    // A conversation we don't list yet: most likely a brand new one.
    newConversationsArrived().catch((error) => toast(error.message));
  }
  if (isOpen) {
    if (upsertMessage(message)) scrollTimeline(false);
    if (document.visibilityState === "visible") markSeen(message.conversation_id, message.created_at);
    refreshCustomer();
  }
}

let stream = null;
let connectedOnce = false;

function setLive(stateName, text) {
  const status = $("live-status");
  status.dataset.state = stateName;
  status.textContent = text;
}

function connectLive() {
  stream = new EventSource("/api/v1/live");
  stream.addEventListener("ready", () => {
    setLive("live", "Live");
    // Anything that happened while we were disconnected is only in the database: reload it.
    if (connectedOnce) {
      attempt(loadConversations);
      if (state.currentId !== null) openConversation(state.currentId);
    }
    connectedOnce = true;
  });
  stream.addEventListener("message.created", (event) => onMessage(JSON.parse(event.data)));
  stream.addEventListener("message.updated", (event) => {
    const message = JSON.parse(event.data);
    if (message.conversation_id === state.currentId) upsertMessage(message);
  });
  stream.addEventListener("note.created", (event) => {
    const note = JSON.parse(event.data);
    if (note.conversation_id === state.currentId && upsertNote(note)) scrollTimeline(false);
  });
  stream.addEventListener("conversation.updated", (event) => applyConversation(JSON.parse(event.data)));
  stream.addEventListener("customer.updated", (event) => {
    const { customer_id: customerId } = JSON.parse(event.data);
    if (state.current && state.current.customer_id === customerId) refreshCustomer();
    refreshList(); // names in the list may have changed
  });
  stream.addEventListener("error", () => {
    setLive("offline", "Reconnecting…");
    // EventSource retries by itself, except when the server refused the stream (e.g. the session
    // expired): then check the session (api() redirects to sign-in on 401) and start again.
    if (stream.readyState === EventSource.CLOSED) {
      stream = null;
      setTimeout(() => attempt(() => api("/api/v1/auth/me")).then((me) => me && connectLive()), 3000);
    }
  });
}

// ---- start ----------------------------------------------------------------------------------------

function wireUp() {
  for (const button of document.querySelectorAll(".filter")) {
    button.addEventListener("click", () => setFilter(button.dataset.filter));
  }
  for (const button of document.querySelectorAll(".mode")) {
    button.addEventListener("click", () => setMode(button.dataset.mode));
  }
  $("composer").addEventListener("submit", submitComposer);
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("assign-me").addEventListener("click", () => changeConversation("assign", { agent_id: state.me.agent_id }));
  $("resolve").addEventListener("click", () => changeConversation("status", { status: "resolved" }));
  $("reopen").addEventListener("click", () => changeConversation("status", { status: "open" }));
  $("back").addEventListener("click", () => {
    document.body.dataset.view = "list";
  });
  $("logout").addEventListener("click", async () => {
    await attempt(() => api("/api/v1/auth/logout", { method: "POST" }));
    location.assign("/login");
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.current) markSeen(state.current.id, new Date().toISOString());
  });
  // Keep "5m ago" honest without re-rendering anything else.
  setInterval(() => {
    for (const node of document.querySelectorAll("time[data-relative]"))
      node.textContent = relativeTime(node.getAttribute("datetime"));
  }, 30000);
}

function applyPermissions() {
  const canReply = state.can.has("conversations:reply");
  const canNote = state.can.has("notes:write");
  $("note-toggle").hidden = !canNote;
  $("composer").hidden = !canReply && !canNote;
  $("read-only").hidden = canReply || canNote;
  if (!canReply && canNote) setMode("note");
  document.querySelector('.mode[data-mode="reply"]').hidden = !canReply;
}

async function start() {
  state.me = await api("/api/v1/auth/me");
  state.can = new Set(state.me.permissions);
  loadSeen();
  $("me-name").textContent = state.me.name;
  $("me-role").textContent = state.me.role;
  $("me-avatar").textContent = initials(state.me.name);
  $("me-avatar").style.setProperty("--hue", String(hue(state.me.agent_id)));
  wireUp();
  applyPermissions();
  const agents = await attempt(() => api("/api/v1/agents"));
  for (const agent of agents || []) state.agents.set(agent.id, agent.name);
  // Subscribe before the first load so nothing that happens in between is missed.
  connectLive();
  await attempt(loadConversations);
  const linked = /^#c\/(\d+)$/.exec(location.hash);
  if (linked) openConversation(Number(linked[1]));
}

start().catch((error) => {
  if (error.status !== 401) toast(error.message);
});
