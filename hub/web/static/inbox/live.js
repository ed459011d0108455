/*
 * The screen's live stream (/api/v1/workspace/live): new messages, delivery updates, notes and
 * @mentions, status and assignment changes, colleagues typing, and this agent's read positions from
 * other tabs. The stream is best effort, so every (re)connection reloads what is on screen.
 * A conversation newly assigned to this agent, a new unassigned one and an @mention are announced
 * with a sound and a notice.
 */

import { api } from "./api.js";
import { loadComposer } from "./composer.js";
import { refreshCustomer } from "./customer.js";
import { $, attempt, ms, toast } from "./dom.js";
import { t } from "./i18n.js";
import { loadConversations, newConversationsArrived, refreshCounts, refreshList, renderList, setUnread } from "./list.js";
import { agentName, state } from "./state.js";
import {
  applyConversation,
  colleagueTyping,
  markRead,
  openConversation,
  renderTyping,
  scrollTimeline,
  upsertMessage,
  upsertNote,
} from "./thread.js";

// ---- announcing -----------------------------------------------------------------------------------

let audio = null;

/** Browsers only let a page play sound after the person interacted with it: set up on first input. */
export function unlockSound() {
  const unlock = () => {
    if (!audio) audio = new AudioContext();
    if (audio.state === "suspended") audio.resume();
  };
  document.addEventListener("pointerdown", unlock, { once: true });
  document.addEventListener("keydown", unlock, { once: true });
}

function chime() {
  if (!audio || audio.state !== "running") return;
  const now = audio.currentTime;
  for (const [offset, frequency] of [[0, 880], [0.12, 1320]]) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.15, now + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.25);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(now + offset);
    oscillator.stop(now + offset + 0.3);
  }
}

function announce(text, conversationId) {
  chime();
  const notice = toast(text, "notice", conversationId ? { label: t("notify.open"), run: () => openConversation(conversationId) } : null);
  notice.dataset.conversation = String(conversationId || "");
}

// ---- events -----------------------------------------------------------------------------------------

function onMessage(message) {
  const listed = state.conversations.get(message.conversation_id);
  const fromCustomer = message.direction === "inbound" && message.author_kind === "customer";
  const isOpen = message.conversation_id === state.currentId;
  const watching = isOpen && document.visibilityState === "visible";
  if (listed) {
    if (ms(message.created_at) >= ms(listed.last_message_at)) {
      listed.last_message_at = message.created_at;
      listed.last_message_text = message.text;
      listed.last_message_author = message.author_kind;
    }
    if (fromCustomer && !watching) listed.unread_count = (listed.unread_count || 0) + 1;
    renderList();
  } else if (fromCustomer) {
    // A conversation we don't list yet: most likely a brand new one.
    newConversationsArrived()
      .then(() => {
        const arrived = state.conversations.get(message.conversation_id);
        if (arrived && arrived.assignee_id === null) announce(t("notify.new_conversation", { name: arrived.customer_name }), arrived.id);
      })
      .catch((error) => toast(error.message));
  }
  if (fromCustomer) refreshCounts();
  if (isOpen) {
    if (fromCustomer && state.typing.delete("customer")) renderTyping();
    if (upsertMessage(message)) scrollTimeline(false);
    if (watching) markRead();
    refreshCustomer();
  }
}

function onNote(note) {
  if (note.conversation_id === state.currentId && upsertNote(note)) scrollTimeline(false);
  if (note.mentions.includes(state.me.agent_id) && note.author_agent_id !== state.me.agent_id) {
    announce(t("notify.mentioned", { name: note.author_agent_id ? agentName(note.author_agent_id, t) : "" }), note.conversation_id);
  }
}

let stream = null;
let connectedOnce = false;

function setLive(stateName, text) {
  const status = $("live-status");
  status.dataset.state = stateName;
  status.textContent = text;
}

export function connectLive() {
  stream = new EventSource("/api/v1/workspace/live");
  const on = (name, handler) => stream.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  stream.addEventListener("ready", () => {
    setLive("live", t("live.live"));
    // Anything that happened while we were disconnected is only in the database: reload it.
    if (connectedOnce) {
      attempt(loadConversations);
      refreshCounts();
      if (state.currentId !== null) openConversation(state.currentId);
    }
    connectedOnce = true;
  });
  on("message.created", onMessage);
  on("message.updated", (message) => {
    if (message.conversation_id === state.currentId) upsertMessage(message);
  });
  on("note.created", onNote);
  on("conversation.updated", applyConversation);
  on("conversation.assigned", (event) => announce(t("notify.assigned", { name: event.customer_name }), event.conversation_id));
  on("conversation.woke", (event) => announce(t("notify.snooze_over", { name: event.customer_name }), event.conversation_id));
  on("conversation.read", (event) => setUnread(event.conversation_id, 0));
  on("typing", colleagueTyping);
  on("customer.updated", ({ customer_id: customerId }) => {
    if (state.current && state.current.customer_id === customerId) {
      refreshCustomer();
      loadComposer(state.current); // a merge or undo changes where the customer can be reached
    }
    refreshList(); // names in the list may have changed, merged conversations moved
  });
  stream.addEventListener("error", () => {
    setLive("offline", t("live.reconnecting"));
    // EventSource retries by itself, except when the server refused the stream (e.g. the session
    // expired): then check the session (api() redirects to sign-in on 401) and start again.
    if (stream.readyState === EventSource.CLOSED) {
      stream = null;
      setTimeout(() => attempt(() => api("/api/v1/auth/me")).then((me) => me && connectLive()), 3000);
    }
  });
}
