/*
 * The reply box: a reply to the customer (on the channel they last wrote from, or any other they
 * have, with that channel's limits: SMS segments, the WhatsApp 24-hour window, length) or a private
 * note with @mentions of colleagues; canned responses found by fuzzy search ("/" at the start, or
 * the button) and filled from the customer record; attachments; and "typing" news for colleagues.
 */

import { api, newKey, query } from "./api.js";
import { $, attempt, debounce, el, fill, toast } from "./dom.js";
import { clockTime, t } from "./i18n.js";
import { channelName } from "./names.js";
import { smsSegments } from "./sms.js";
import { may, state } from "./state.js";
import { scrollTimeline, upsertMessage, upsertNote } from "./thread.js";

const composer = {
  mode: "reply",
  options: [], // reply options of the open conversation; the first is where the customer last wrote
  attachments: [], // uploaded files waiting to go out with the reply
  uploading: 0,
  mentions: new Map(), // "@Name" -> agent id, for the note being written
  pending: null, // {signature, key}: a retried submission reuses its Idempotency-Key
  sending: false,
  draftFor: null,
  suggest: null, // {kind: "canned" | "mention", items, index, start, end}
};
const drafts = new Map(); // conversation id -> unsent text

const text = () => $("composer-text");

// ---- modes ----------------------------------------------------------------------------------------

export function setMode(mode) {
  if (mode === "note" && $("note-toggle").hidden) return;
  if (mode === "reply" && document.querySelector('.mode[data-mode="reply"]').hidden) return;
  composer.mode = mode;
  $("composer").dataset.mode = mode;
  for (const button of document.querySelectorAll(".mode")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
  const note = mode === "note";
  text().placeholder = note ? t("composer.note_placeholder") : t("composer.reply_placeholder");
  $("composer-label").textContent = note ? t("composer.note_label") : t("composer.reply_label");
  $("composer-send").textContent = note ? t("composer.add_note") : t("composer.send");
  $("channel-field").hidden = note || composer.options.length === 0;
  $("attach").hidden = note;
  closeSuggestions();
  updateLimits();
  text().focus();
}

export function focusComposer(mode) {
  if ($("composer").hidden || $("thread").hidden) return;
  setMode(mode);
}

/** A conversation was opened: keep the previous one's draft, bring back this one's. */
export function resetComposer() {
  if (composer.draftFor !== null) drafts.set(composer.draftFor, text().value);
  composer.draftFor = state.currentId;
  text().value = drafts.get(state.currentId) || "";
  composer.attachments = [];
  composer.mentions.clear();
  composer.pending = null;
  composer.options = [];
  lastTyping = 0;
  renderAttachments();
  closeSuggestions();
  renderChannels();
}

// ---- channels and their limits --------------------------------------------------------------------

export async function loadComposer(conversation) {
  if (!may("conversations:reply")) return;
  const options = await attempt(() => api(`/api/v1/conversations/${conversation.id}/reply-options`));
  if (!options || state.currentId !== conversation.id) return;
  composer.options = options;
  renderChannels();
}

function renderChannels() {
  const select = $("reply-channel");
  select.replaceChildren(
    ...composer.options.map((option) =>
      el(
        "option",
        { value: option.channel_account },
        // A web chat visitor id means nothing to a person; phone numbers and emails do.
        `${channelName(option.channel_type)} · ${option.channel_type === "webchat" ? option.channel_account : option.address}` +
          (option.default ? ` (${t("composer.last_used")})` : ""),
      ),
    ),
  );
  $("channel-field").hidden = composer.mode === "note" || composer.options.length === 0;
  updateLimits();
}

function selectedChannel() {
  return composer.options.find((option) => option.channel_account === $("reply-channel").value) || composer.options[0];
}

function updateLimits() {
  const line = $("channel-limits");
  const option = selectedChannel();
  line.replaceChildren();
  line.className = "channel-limits";
  if (composer.mode !== "reply" || !option) return;
  const value = text().value;
  const parts = [];
  if (option.channel_type === "sms") {
    const counted = smsSegments(value);
    parts.push(t("limits.sms", { segments: counted.segments, encoding: counted.encoding, units: counted.units, per: counted.perSegment }));
  }
  if (option.channel_type === "whatsapp") {
    if (option.whatsapp_window_open) {
      parts.push(t("limits.whatsapp_open", { time: clockTime(option.whatsapp_window_closes_at) }));
    } else {
      parts.push(t("limits.whatsapp_closed"));
      line.classList.add("channel-limits--warning");
    }
  }
  const length = Array.from(value).length;
  if (length > option.max_text_length * 0.8) {
    parts.push(t("limits.length", { n: length, max: option.max_text_length }));
    if (length > option.max_text_length) line.classList.add("channel-limits--warning");
  }
  line.textContent = parts.join(" · ");
}

// ---- attachments ----------------------------------------------------------------------------------

function renderAttachments() {
  fill(
    $("attachments"),
    ...composer.attachments.map((file, index) =>
      el(
        "li",
        { class: "chip chip--file" },
        file.filename,
        el(
          "button",
          {
            type: "button",
            class: "chip-remove",
            "aria-label": t("composer.remove_attachment", { name: file.filename }),
            onclick: () => {
              composer.attachments.splice(index, 1);
              renderAttachments();
            },
          },
          "×",
        ),
      ),
    ),
    composer.uploading ? el("li", { class: "muted" }, t("composer.uploading")) : null,
  );
}

async function attach(files) {
  for (const file of files) {
    composer.uploading += 1;
    renderAttachments();
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      composer.attachments.push(await api("/api/v1/uploads", { method: "POST", form }));
    } catch (error) {
      toast(error.message);
    } finally {
      composer.uploading -= 1;
      renderAttachments();
    }
  }
}

// ---- suggestions: canned responses and @mentions --------------------------------------------------

function closeSuggestions() {
  composer.suggest = null;
  $("suggestions").hidden = true;
  $("suggestions").replaceChildren();
  text().removeAttribute("aria-activedescendant");
}

function renderSuggestions() {
  const list = $("suggestions");
  const suggest = composer.suggest;
  if (!suggest || !suggest.items.length) {
    list.hidden = !suggest;
    fill(list, suggest ? el("li", { class: "suggestion suggestion--empty" }, t(suggest.kind === "canned" ? "canned.none" : "mention.none")) : null);
    return;
  }
  list.replaceChildren(
    ...suggest.items.map((item, index) =>
      el(
        "li",
        {
          id: `suggestion-${index}`,
          class: "suggestion",
          role: "option",
          "aria-selected": String(index === suggest.index),
          onmousedown: (event) => {
            event.preventDefault();
            choose(index);
          },
        },
        suggest.kind === "canned"
          ? [el("span", { class: "suggestion-key" }, `/${item.shortcut}`), el("span", { class: "suggestion-title" }, item.title), el("span", { class: "suggestion-body" }, item.body)]
          : [el("span", { class: "suggestion-key" }, `@${item.name}`), el("span", { class: "suggestion-body" }, item.email)],
      ),
    ),
  );
  list.hidden = false;
  text().setAttribute("aria-activedescendant", `suggestion-${suggest.index}`);
}

const findCanned = debounce(async (queryText, start, end) => {
  const id = state.currentId;
  const found = await attempt(() => api(`/api/v1/canned-responses?${query({ q: queryText, conversation_id: id, limit: 8 })}`));
  if (!found || id !== state.currentId) return;
  composer.suggest = { kind: "canned", items: found, index: 0, start, end };
  renderSuggestions();
}, 150);

/** What the agent is typing decides which picker is open: "/word" at the very start for canned
 * responses, "@name" after a space (notes only) for colleagues. */
function updateSuggestions() {
  const value = text().value;
  const caret = text().selectionStart;
  const before = value.slice(0, caret);
  const canned = /^\/([^\s/]*)$/.exec(before);
  if (canned && may("conversations:reply")) {
    findCanned(canned[1], 0, caret);
    return;
  }
  const mention = composer.mode === "note" ? /(^|\s)@([\p{L}\p{N}_.-]*)$/u.exec(before) : null;
  if (mention) {
    const wanted = mention[2].toLowerCase();
    const items = [...state.agents.values()]
      .filter((agent) => agent.active && agent.role !== "marketer" && agent.id !== state.me.agent_id)
      .filter((agent) => agent.name.toLowerCase().includes(wanted) || agent.email.toLowerCase().startsWith(wanted))
      .slice(0, 8);
    composer.suggest = { kind: "mention", items, index: 0, start: caret - mention[2].length - 1, end: caret };
    renderSuggestions();
    return;
  }
  if (composer.suggest) closeSuggestions();
}

function replaceRange(start, end, insert) {
  const box = text();
  box.value = box.value.slice(0, start) + insert + box.value.slice(end);
  const caret = start + insert.length;
  box.setSelectionRange(caret, caret);
  box.focus();
  updateLimits();
}

async function choose(index) {
  const suggest = composer.suggest;
  if (!suggest || !suggest.items[index]) return;
  const item = suggest.items[index];
  closeSuggestions();
  if (suggest.kind === "mention") {
    const tag = `@${item.name}`;
    composer.mentions.set(tag, item.id);
    replaceRange(suggest.start, suggest.end, `${tag} `);
    return;
  }
  const id = state.currentId;
  const rendered = await attempt(() => api(`/api/v1/canned-responses/${item.id}/render`, { method: "POST", body: { conversation_id: id } }));
  if (rendered && id === state.currentId) replaceRange(suggest.start, suggest.end, rendered.text);
}

function openCanned() {
  if (composer.mode !== "reply") setMode("reply");
  const box = text();
  if (!box.value.startsWith("/")) {
    box.value = `/${box.value}`;
  }
  box.setSelectionRange(1, 1);
  box.focus();
  updateSuggestions();
}

// ---- typing news ------------------------------------------------------------------------------------

let lastTyping = 0;

function announceTyping() {
  const id = state.currentId;
  if (id === null || !text().value.trim() || Date.now() - lastTyping < 4000) return;
  lastTyping = Date.now();
  api(`/api/v1/conversations/${id}/typing`, { method: "POST", body: { mode: composer.mode } }).catch(() => {});
}

// ---- sending ----------------------------------------------------------------------------------------

function mentionedIds(value) {
  return [...composer.mentions].filter(([tag]) => value.includes(tag)).map(([, id]) => id);
}

async function submit(event) {
  event.preventDefault();
  const box = text();
  const value = box.value.trim();
  const id = state.currentId;
  const note = composer.mode === "note";
  if (state.sending || id === null || composer.uploading) return;
  if (!value && (note || !composer.attachments.length)) return;
  state.sending = true;
  $("composer-send").disabled = true;
  try {
    if (note) {
      const created = await api(`/api/v1/conversations/${id}/notes`, { method: "POST", body: { text: value, mentions: mentionedIds(value) } });
      if (state.currentId === id) upsertNote(created, { live: false });
    } else {
      const option = selectedChannel();
      const body = { text: value, attachments: composer.attachments };
      if (option && !option.default) body.channel_account = option.channel_account;
      // The same reply submitted again (a double click, a retry after a lost response) keeps its
      // key, so the hub sends it once.
      const signature = JSON.stringify(body);
      if (!composer.pending || composer.pending.signature !== signature) composer.pending = { signature, key: newKey() };
      const message = await api(`/api/v1/conversations/${id}/messages`, { method: "POST", body, headers: { "Idempotency-Key": composer.pending.key } });
      composer.pending = null;
      composer.attachments = [];
      renderAttachments();
      if (state.currentId === id) upsertMessage(message, { live: false });
    }
    box.value = "";
    lastTyping = 0; // the next words are news again
    composer.mentions.clear();
    drafts.delete(id);
    updateLimits();
    scrollTimeline(true);
  } catch (error) {
    toast(error.message);
  } finally {
    state.sending = false;
    $("composer-send").disabled = false;
  }
}

function onKeydown(event) {
  const suggest = composer.suggest;
  if (suggest && suggest.items.length) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      suggest.index = (suggest.index + step + suggest.items.length) % suggest.items.length;
      renderSuggestions();
      return;
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(suggest.index);
      return;
    }
  }
  if (suggest && event.key === "Escape") {
    event.preventDefault();
    event.stopPropagation();
    closeSuggestions();
    return;
  }
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

export function applyComposerPermissions() {
  const canReply = may("conversations:reply");
  const canNote = may("notes:write");
  $("note-toggle").hidden = !canNote;
  document.querySelector('.mode[data-mode="reply"]').hidden = !canReply;
  $("canned-open").hidden = !canReply;
  $("composer").hidden = !canReply && !canNote;
  $("read-only").hidden = canReply || canNote;
  setMode(canReply ? "reply" : "note");
}

export function wireComposer() {
  for (const button of document.querySelectorAll(".mode")) {
    button.addEventListener("click", () => setMode(button.dataset.mode));
  }
  $("composer").addEventListener("submit", submit);
  text().addEventListener("keydown", onKeydown);
  text().addEventListener("input", () => {
    updateLimits();
    updateSuggestions();
    announceTyping();
  });
  text().addEventListener("blur", () => setTimeout(closeSuggestions, 150));
  $("reply-channel").addEventListener("change", updateLimits);
  $("canned-open").addEventListener("click", openCanned);
  $("attach-input").addEventListener("change", (event) => {
    attach([...event.target.files]);
    event.target.value = "";
  });
}
