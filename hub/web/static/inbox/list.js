/*
 * The conversation list: a view (all / mine / unassigned / team) refined by status, channel, label,
 * SLA at risk (a policy's target at risk or overdue: inbox/sla.py) and a search, all answered by the server (indexed, keyset-paged: "Load more" asks for
 * the page after the last row). Live updates patch rows in place; anything the client cannot decide
 * (a new conversation, a search) reloads the first page.
 */

import { api, query } from "./api.js";
import { $, attempt, avatar, debounce, el, ms } from "./dom.js";
import { fullTime, plural, relativeTime, t } from "./i18n.js";
import { channelBadge, channelName } from "./names.js";
import { slaBadge } from "./sla.js";
import { state } from "./state.js";
import { openConversation } from "./thread.js";

const PAGE = 50;
// Matches the server's default threshold (inbox/listing.py DEFAULT_AT_RISK_MINUTES).
export const AT_RISK_MINUTES = 15;

function listQuery(extra = {}) {
  const f = state.filters;
  return query({
    view: state.view,
    status: f.status,
    channel: f.channel,
    label: f.label,
    sla_at_risk: f.atRisk,
    q: f.q.trim(),
    limit: PAGE,
    ...extra,
  });
}

function sortedConversations() {
  return [...state.conversations.values()].sort(
    (a, b) => ms(b.last_message_at) - ms(a.last_message_at) || b.id - a.id,
  );
}

let loading = 0;

export async function loadConversations() {
  const ticket = ++loading;
  const list = await api(`/api/v1/conversations?${listQuery()}`);
  if (ticket !== loading) return; // a newer filter's answer is on its way
  state.conversations.clear();
  for (const conversation of list) state.conversations.set(conversation.id, conversation);
  state.hasMore = list.length === PAGE;
  for (const [id, row] of state.rows) {
    if (!state.conversations.has(id)) {
      row.remove();
      state.rows.delete(id);
    }
  }
  renderList();
}

async function loadMore() {
  const sorted = sortedConversations();
  if (!sorted.length) return;
  const page = await api(`/api/v1/conversations?${listQuery({ before_id: sorted[sorted.length - 1].id })}`);
  for (const conversation of page) state.conversations.set(conversation.id, conversation);
  state.hasMore = page.length === PAGE;
  renderList();
}

/** Whether a conversation belongs in the list as filtered (search and SLA are the server's call). */
export function matchesFilter(conversation) {
  const f = state.filters;
  if (f.status && conversation.status !== f.status) return false;
  if (state.view === "mine" && conversation.assignee_id !== state.me.agent_id) return false;
  if (state.view === "unassigned" && conversation.assignee_id !== null) return false;
  if (state.view === "team" && conversation.team_id !== state.prefs.team_id) return false;
  if (f.channel && conversation.channel_type !== f.channel) return false;
  if (f.label && !conversation.labels.includes(f.label)) return false;
  return true;
}

function atRisk(conversation) {
  return (
    !conversation.bot_active &&
    conversation.waiting_since &&
    ["open", "pending"].includes(conversation.status) &&
    Date.now() - ms(conversation.waiting_since) > AT_RISK_MINUTES * 60000
  );
}

function rowChips(conversation) {
  const chips = [channelBadge(conversation.channel_type)];
  // An SLA policy's countdown; without one, how long the customer has waited for a person.
  const sla = slaBadge(conversation);
  if (sla) chips.push(sla);
  if (["high", "urgent"].includes(conversation.priority))
    chips.push(el("span", { class: "chip chip--priority", dataset: { priority: conversation.priority } }, t(`priority.${conversation.priority}`)));
  if (!sla && atRisk(conversation))
    chips.push(el("span", { class: "chip chip--risk", title: fullTime(conversation.waiting_since) }, t("list.waiting", { time: relativeTime(conversation.waiting_since) })));
  if (conversation.status === "snoozed" && conversation.snoozed_until)
    chips.push(el("span", { class: "chip chip--status", dataset: { status: "snoozed" } }, t("list.snoozed_until", { time: fullTime(conversation.snoozed_until) })));
  for (const label of conversation.labels.slice(0, 2)) chips.push(el("span", { class: "chip chip--label" }, label));
  return chips;
}

/** The row for a conversation; rebuilt only when something it shows changed, so live updates
 * don't steal keyboard focus from the list. */
function renderRow(conversation) {
  const id = conversation.id;
  const flags = { active: id === state.currentId, fresh: state.fresh.has(id), unread: conversation.unread_count };
  const signature = JSON.stringify([conversation, flags, state.filters.q]);
  const old = state.rows.get(id);
  if (old && old.dataset.signature === signature) return old;
  const classes = ["conversation"];
  if (flags.active) classes.push("is-active");
  if (flags.fresh) classes.push("is-new");
  if (flags.unread) classes.push("is-unread");
  if (state.arriving.delete(id)) classes.push("is-arriving");
  const snippet = (state.filters.q && conversation.match_text) || conversation.last_message_text;
  const button = el(
    "button",
    {
      type: "button",
      class: "conversation-button",
      "aria-current": flags.active ? "true" : undefined,
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
        flags.fresh ? el("span", { class: "chip chip--new" }, t("list.new")) : null,
        el("time", { datetime: conversation.last_message_at, title: fullTime(conversation.last_message_at), dataset: { relative: "" } }, relativeTime(conversation.last_message_at)),
      ),
      el(
        "span",
        { class: "conversation-bottom" },
        el("span", { class: "conversation-snippet" }, snippet || t("list.no_messages")),
        flags.unread
          ? el(
              "span",
              { class: "unread-count", title: plural("list.unread_messages", flags.unread) },
              flags.unread > 99 ? "99+" : String(flags.unread),
              el("span", { class: "visually-hidden" }, ` ${t("list.unread")}`),
            )
          : null,
      ),
      el("span", { class: "conversation-chips" }, rowChips(conversation)),
    ),
  );
  const row = el("li", { class: classes.join(" "), dataset: { id: String(id), signature } }, button);
  if (old) old.replaceWith(row);
  state.rows.set(id, row);
  return row;
}

export function renderList() {
  const list = $("conversation-list");
  const sorted = sortedConversations();
  sorted.forEach((conversation, index) => {
    const row = renderRow(conversation);
    if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
  });
  while (list.children.length > sorted.length) list.lastElementChild.remove();
  $("list-empty").hidden = sorted.length > 0;
  $("list-more").hidden = !state.hasMore;
}

export const refreshList = debounce(() => attempt(loadConversations), 300);

/** A conversation changed: patch its row, drop it if it left the filter, fetch it if it joined. */
export function updateListed(conversation) {
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
    refreshList(); // it now belongs here (reopened, unassigned...): the row needs its name
  }
  refreshCounts();
}

export function setUnread(conversationId, count) {
  const listed = state.conversations.get(conversationId);
  if (listed && listed.unread_count !== count) {
    listed.unread_count = count;
    renderList();
  }
}

export async function newConversationsArrived() {
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

// ---- counts beside the views --------------------------------------------------------------------

async function loadCounts() {
  state.counts = await api(`/api/v1/conversations/counts?waiting_minutes=${AT_RISK_MINUTES}`);
  for (const node of document.querySelectorAll("[data-count]")) {
    const value = state.counts[node.dataset.count];
    node.textContent = value ? String(value) : "";
  }
  document.querySelector('.filter[data-view="team"]').hidden = state.counts.team === null;
  const unread = state.counts.unread_mine;
  document.title = `${unread ? `(${unread}) ` : ""}${t("page.title")}`;
}

export const refreshCounts = debounce(() => attempt(loadCounts), 500);

// ---- filters ----------------------------------------------------------------------------------------

export function setView(view) {
  if (view === "team" && document.querySelector('.filter[data-view="team"]').hidden) return;
  state.view = view;
  for (const button of document.querySelectorAll(".filter[data-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  }
  attempt(loadConversations);
}

function fillSelect(select, options, keep) {
  const first = select.options[0];
  select.replaceChildren(first, ...options.map(([value, text]) => el("option", { value }, text)));
  select.value = options.some(([value]) => value === keep) ? keep : "";
}

export async function loadLabels() {
  state.labels = (await api("/api/v1/conversations/labels")).map((entry) => entry.label);
  fillSelect($("filter-label"), state.labels.map((label) => [label, label]), state.filters.label);
  $("label-suggestions").replaceChildren(...state.labels.map((label) => el("option", { value: label })));
}

export function renderChannelFilter() {
  const types = [...new Set(state.channels.map((account) => account.type))];
  fillSelect($("filter-channel"), types.map((type) => [type, channelName(type)]), state.filters.channel);
}

export function moveSelection(step) {
  const ids = sortedConversations().map((c) => c.id);
  if (!ids.length) return;
  const index = ids.indexOf(state.currentId);
  const next = index === -1 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, index + step));
  openConversation(ids[next]);
  state.rows.get(ids[next])?.querySelector("button").focus({ preventScroll: false });
}

export function wireList() {
  for (const button of document.querySelectorAll(".filter[data-view]")) {
    button.addEventListener("click", () => setView(button.dataset.view));
  }
  const reload = () => attempt(loadConversations);
  $("filter-status").addEventListener("change", (event) => {
    state.filters.status = event.target.value;
    reload();
  });
  $("filter-channel").addEventListener("change", (event) => {
    state.filters.channel = event.target.value;
    reload();
  });
  $("filter-label").addEventListener("change", (event) => {
    state.filters.label = event.target.value;
    reload();
  });
  $("filter-at-risk").addEventListener("change", (event) => {
    state.filters.atRisk = event.target.checked;
    reload();
  });
  const search = debounce((value) => {
    state.filters.q = value;
    reload();
  }, 250);
  $("search").addEventListener("input", (event) => search(event.target.value));
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.target.value = "";
      search("");
      event.target.blur();
    }
  });
  $("list-more").addEventListener("click", () => attempt(loadMore));
}
