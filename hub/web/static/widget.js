/*
 * omnihub website chat widget.
 *
 * Embed on any page:
 *   <script src="https://hub.example.com/static/widget.js" data-account="site" defer></script>
 *
 * It adds a launcher button and a chat panel, remembers the visitor in localStorage, sends messages
 * through the hub's webhook (retrying with the same id, which the hub deduplicates), follows replies
 * over Server-Sent Events and reports which replies the visitor has seen.
 */
(() => {
  "use strict";

  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  const account = (script && script.dataset.account) || "site";
  // Talk to the hub that served this script, so the widget also works embedded on another origin.
  const hub = new URL(script ? script.src : location.href, location.href).origin;
  const visitorApi = `${hub}/webchat/${encodeURIComponent(account)}`;
  const webhook = `${hub}/webhooks/webchat/${encodeURIComponent(account)}`;
  const storageKey = `omnihub.webchat.${account}`;
  const language = (navigator.language || "en").split("-")[0].toLowerCase();
  // Automatic retries after a network error or a 5xx; after these the visitor gets a Retry button.
  const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];

  const STRINGS = {
    en: {
      title: "Chat with us",
      open: "Open chat",
      close: "Close chat",
      online: "We reply in a few minutes",
      reconnecting: "Reconnecting…",
      welcome: "Hi! Ask us anything — a real person reads every message.",
      name: "Your name (optional)",
      placeholder: "Write a message…",
      send: "Send",
      sending: "Sending…",
      sent: "Sent",
      failed: "Not sent",
      retry: "Retry",
      you: "You",
      bot: "Assistant",
      agent: "Support",
      unavailable: "Chat is unavailable right now. Please try again in a moment.",
      unread: (n) => `${n} unread ${n === 1 ? "reply" : "replies"}`,
      typing: "Support is typing…",
      file: "File",
    },
    es: {
      title: "Chatea con nosotros",
      open: "Abrir chat",
      close: "Cerrar chat",
      online: "Respondemos en unos minutos",
      reconnecting: "Reconectando…",
      welcome: "¡Hola! Pregúntanos lo que quieras: una persona real lee cada mensaje.",
      name: "Tu nombre (opcional)",
      placeholder: "Escribe un mensaje…",
      send: "Enviar",
      sending: "Enviando…",
      sent: "Enviado",
      failed: "No enviado",
      retry: "Reintentar",
      you: "Tú",
      bot: "Asistente",
      agent: "Soporte",
      unavailable: "El chat no está disponible ahora. Inténtalo de nuevo en un momento.",
      unread: (n) => `${n} ${n === 1 ? "respuesta nueva" : "respuestas nuevas"}`,
      typing: "Soporte está escribiendo…",
      file: "Archivo",
    },
  };
  const t = STRINGS[language] || STRINGS.en;

  // ---- small helpers ------------------------------------------------------------------------

  /** Build an element; strings become text nodes, so visitor and agent text is never parsed as HTML. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  /** 32 random hex characters: a valid message id (8-64 of [A-Za-z0-9_-]). crypto.randomUUID only
   * exists on https pages, getRandomValues everywhere. */
  function newId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function load() {
    try {
      return JSON.parse(localStorage.getItem(storageKey)) || {};
    } catch {
      return {};
    }
  }

  function save() {
    try {
      localStorage.setItem(storageKey, JSON.stringify(stored));
    } catch {
      // Private mode or a full quota: the chat still works, it just won't be remembered.
    }
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // ---- state --------------------------------------------------------------------------------

  // {visitor_id, token, name, last_read_id}: last_read_id is the newest reply already reported read.
  const stored = load();
  let session = stored.visitor_id && stored.token ? { visitor_id: stored.visitor_id, token: stored.token } : null;
  let sessionRequest = null;
  let stream = null;
  let reconnectDelay = 2000;
  let open = false;
  // key -> entry. Own messages are keyed by the provider id the hub gives them ("<visitor>:<id>"),
  // so the optimistic bubble and the same message in the history are one entry.
  const entries = new Map();
  // Insertion counter: breaks ties in the display order (see reorder).
  let sequence = 0;

  // ---- DOM ------------------------------------------------------------------------------------

  const badge = el("span", { class: "ohw-badge", hidden: true });
  const launcher = el(
    "button",
    {
      type: "button",
      class: "ohw-launcher",
      "aria-label": t.open,
      "aria-expanded": "false",
      "aria-controls": "ohw-panel",
      onclick: () => toggle(!open),
    },
    el("span", { class: "ohw-launcher-icon", "aria-hidden": "true" }),
    badge,
  );
  const titleText = el("h2", { class: "ohw-title", id: "ohw-title" }, t.title);
  const statusText = el("p", { class: "ohw-status" }, t.online);
  const list = el("div", { class: "ohw-messages", role: "log", "aria-live": "polite", "aria-label": t.title });
  const welcome = el("p", { class: "ohw-welcome" }, t.welcome);
  const typingLine = el("p", { class: "ohw-typing", "aria-live": "polite", hidden: true }, t.typing);
  const errorBox = el("p", { class: "ohw-error", role: "alert", hidden: true });
  const nameInput = el("input", {
    class: "ohw-name",
    type: "text",
    autocomplete: "name",
    maxLength: 200,
    placeholder: t.name,
    "aria-label": t.name,
    value: stored.name || "",
  });
  const input = el("textarea", {
    class: "ohw-input",
    rows: 1,
    maxLength: 4000,
    placeholder: t.placeholder,
    "aria-label": t.placeholder,
    onkeydown: (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    },
    oninput: () => {
      autosize();
      announceTyping();
    },
  });
  const sendButton = el(
    "button",
    { type: "submit", class: "ohw-send", "aria-label": t.send },
    el("span", { "aria-hidden": "true", class: "ohw-send-icon" }),
  );
  const form = el(
    "form",
    {
      class: "ohw-composer",
      onsubmit: (event) => {
        event.preventDefault();
        submit();
      },
    },
    nameInput,
    el("div", { class: "ohw-row" }, input, sendButton),
  );
  const panel = el(
    "section",
    { id: "ohw-panel", class: "ohw-panel", role: "dialog", "aria-labelledby": "ohw-title", hidden: true },
    el(
      "header",
      { class: "ohw-header" },
      el("span", { class: "ohw-avatar", "aria-hidden": "true" }),
      el("div", { class: "ohw-heading" }, titleText, statusText),
      el("button", { type: "button", class: "ohw-close", "aria-label": t.close, onclick: () => toggle(false) }, "×"),
    ),
    el("div", { class: "ohw-body" }, welcome, list, typingLine),
    errorBox,
    form,
  );
  const root = el("div", { class: "ohw-root", lang: STRINGS[language] ? language : "en" }, panel, launcher);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toggle(false);
  });

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  }

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function toggle(show) {
    open = show;
    panel.hidden = !show;
    root.classList.toggle("ohw-is-open", show);
    launcher.setAttribute("aria-expanded", String(show));
    updateBadge();
    if (show) {
      ensureConnected();
      scrollToEnd();
      input.focus();
      flushReads();
    } else {
      launcher.focus();
    }
  }

  function scrollToEnd() {
    list.parentElement.scrollTop = list.parentElement.scrollHeight;
  }

  // ---- rendering --------------------------------------------------------------------------

  const AUTHOR_LABEL = { bot: t.bot, agent: t.agent, system: "" };

  function renderEntry(entry) {
    const mine = entry.direction === "inbound";
    const meta = mine
      ? statusLine(entry)
      : el("span", {}, [AUTHOR_LABEL[entry.author], clock(entry.created_at)].filter(Boolean).join(" · "));
    const node = el(
      "div",
      { class: `ohw-msg ohw-msg--${mine ? "customer" : entry.author}`, "data-state": entry.state || "delivered" },
      entry.text ? el("div", { class: "ohw-bubble" }, entry.text) : null,
      renderFiles(entry.attachments || []),
      renderButtons(entry.buttons || []),
      el("div", { class: "ohw-meta" }, meta),
    );
    if (entry.node) entry.node.replaceWith(node);
    entry.node = node;
    return node;
  }

  function statusLine(entry) {
    if (entry.state === "sending") return el("span", {}, t.sending);
    if (entry.state === "failed") {
      return el(
        "span",
        { class: "ohw-failed" },
        entry.error ? `${t.failed}: ${entry.error} ` : `${t.failed}. `,
        el("button", { type: "button", class: "ohw-retry", onclick: () => deliver(entry) }, t.retry),
      );
    }
    return el("span", {}, `${t.sent} · ${clock(entry.created_at)}`);
  }

  /** Files an agent sent: pictures shown, other files as links (web links only, never other schemes). */
  function renderFiles(files) {
    const shown = files.filter((file) => /^https?:\/\//i.test(file.url || ""));
    if (!shown.length) return null;
    return el(
      "div",
      { class: "ohw-files" },
      shown.map((file) => {
        const name = file.filename || t.file;
        const image = file.kind === "image" || /^image\//.test(file.content_type || "");
        return el(
          "a",
          { class: "ohw-file", href: file.url, target: "_blank", rel: "noopener noreferrer" },
          image ? el("img", { src: file.url, alt: name, class: "ohw-image", loading: "lazy" }) : name,
        );
      }),
    );
  }

  function renderButtons(buttons) {
    if (!buttons.length) return null;
    return el(
      "div",
      { class: "ohw-buttons" },
      buttons.map((button) =>
        /^https?:\/\//i.test(button.url || "")
          ? el(
              "a",
              { class: "ohw-choice", href: button.url, target: "_blank", rel: "noopener noreferrer" },
              button.title,
            )
          : el("button", { type: "button", class: "ohw-choice", onclick: () => send(button.title) }, button.title),
      ),
    );
  }

  /** Add a message from the hub (history or live), or update the optimistic bubble it confirms. */
  function upsert(item) {
    const key = item.direction === "inbound" && item.provider_id ? item.provider_id : `m${item.id}`;
    const entry = entries.get(key) || { key, seq: ++sequence };
    const isNew = !entries.has(key);
    Object.assign(entry, item, { state: "delivered", serverId: item.id, order: item.id });
    entries.set(key, entry);
    const node = renderEntry(entry);
    if (isNew) list.append(node);
    showConversation();
    return isNew;
  }

  function lastServerId() {
    return Math.max(0, ...[...entries.values()].map((e) => e.serverId || 0));
  }

  function pendingOwn() {
    return [...entries.values()].some((e) => e.direction === "inbound" && !e.serverId);
  }

  /** The hub's order (message ids). A message the hub hasn't confirmed yet sits right after what
   * the visitor saw when they sent it, so a reply to it never appears above it. */
  function reorder() {
    const sorted = [...entries.values()].sort((a, b) => a.order - b.order || a.seq - b.seq);
    for (const entry of sorted) list.append(entry.node);
  }

  /** Once the visitor has written, the intro and the name field have done their job. */
  function showConversation() {
    welcome.hidden = true;
    nameInput.hidden = ![...entries.values()].every((e) => e.direction !== "inbound");
  }

  // ---- read receipts and unread badge ------------------------------------------------------

  function unreadReplies() {
    const lastRead = stored.last_read_id || 0;
    return [...entries.values()].filter((e) => e.direction === "outbound" && e.serverId > lastRead);
  }

  function updateBadge() {
    const count = open ? 0 : unreadReplies().length;
    badge.hidden = count === 0;
    badge.textContent = String(count);
    launcher.setAttribute("aria-label", count ? `${t.open} (${t.unread(count)})` : open ? t.close : t.open);
  }

  /** Tell the hub which replies the visitor has now seen (only while the panel is open and the tab visible). */
  async function flushReads() {
    updateBadge();
    if (!open || document.visibilityState !== "visible" || !session) return;
    const replies = unreadReplies();
    if (!replies.length) return;
    const newest = Math.max(...replies.map((e) => e.serverId));
    const ids = replies
      .map((e) => e.provider_id)
      .filter(Boolean)
      .slice(-100);
    stored.last_read_id = newest;
    save();
    if (!ids.length) return;
    try {
      await postEvent({ type: "read", id: newId(), message_ids: ids });
    } catch {
      // A lost receipt only means the agent never sees this reply as read; not worth a retry loop.
    }
  }
  document.addEventListener("visibilitychange", flushReads);

  // ---- talking to the hub -------------------------------------------------------------------

  async function startSession() {
    const response = await fetch(`${visitorApi}/session`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(session || {}),
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const body = await response.json();
    session = { visitor_id: body.visitor_id, token: body.token };
    Object.assign(stored, session);
    save();
    titleText.textContent = body.title || t.title;
  }

  /** One session request at a time; a failed one is forgotten so the next action tries again. */
  function ensureSession() {
    if (!sessionRequest) {
      sessionRequest = startSession().catch((error) => {
        sessionRequest = null;
        throw error;
      });
    }
    return sessionRequest;
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      return (body.error && body.error.message) || response.statusText;
    } catch {
      return response.statusText || `HTTP ${response.status}`;
    }
  }

  // ---- typing -----------------------------------------------------------------------------------

  let lastTyping = 0;
  let typingTimer = null;

  /** Agents with the conversation open see that the visitor is writing (at most every 4 s). */
  function announceTyping() {
    if (!session || !input.value.trim() || Date.now() - lastTyping < 4000) return;
    lastTyping = Date.now();
    fetch(`${visitorApi}/typing`, { method: "POST", headers: visitorHeaders() }).catch(() => {});
  }

  function showTyping() {
    typingLine.hidden = false;
    scrollToEnd();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      typingLine.hidden = true;
    }, 6000);
  }

  function visitorHeaders() {
    return { "X-Webchat-Visitor": session.visitor_id, "X-Webchat-Token": session.token };
  }

  function postEvent(body) {
    return fetch(webhook, {
      method: "POST",
      headers: { ...visitorHeaders(), "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  async function loadHistory() {
    const response = await fetch(`${visitorApi}/messages`, {
      headers: visitorHeaders(),
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    for (const item of await response.json()) upsert(item);
    reorder();
    scrollToEnd();
    flushReads();
  }

  async function ensureConnected() {
    if (stream) return;
    try {
      await ensureSession();
    } catch {
      showError(t.unavailable);
      return;
    }
    showError("");
    connect();
  }

  function connect() {
    const query = new URLSearchParams({ visitor: session.visitor_id, token: session.token });
    stream = new EventSource(`${visitorApi}/stream?${query}`);
    // "ready" arrives on every (re)connection, after the hub has subscribed us: loading the history
    // then catches up on anything that went out while we were away, without a gap.
    stream.addEventListener("ready", () => {
      reconnectDelay = 2000;
      statusText.textContent = t.online;
      loadHistory().catch(() => showError(t.unavailable));
    });
    stream.addEventListener("typing", showTyping);
    stream.addEventListener("message", (event) => {
      const item = JSON.parse(event.data);
      if (item.direction === "outbound") typingLine.hidden = true;
      if (upsert(item)) {
        reorder();
        scrollToEnd();
        flushReads();
        // A reply usually means the hub has processed what the visitor sent: fetch the history to
        // confirm those messages with their real ids and times.
        if (pendingOwn()) loadHistory().catch(() => showError(t.unavailable));
      }
    });
    stream.addEventListener("error", () => {
      statusText.textContent = t.reconnecting;
      // The browser retries by itself unless the hub refused the stream (e.g. a token it no longer
      // accepts); then start over with a fresh session after a growing pause.
      if (stream.readyState === EventSource.CLOSED) {
        stream = null;
        sessionRequest = null;
        setTimeout(ensureConnected, reconnectDelay);
        reconnectDelay = Math.min(reconnectDelay * 2, 30000);
      }
    });
  }

  /** Post one message, retrying network errors and 5xx with the same id so the hub keeps one copy. */
  async function deliver(entry) {
    entry.state = "sending";
    entry.error = "";
    renderEntry(entry);
    for (let attempt = 0; ; attempt++) {
      let failure = "";
      try {
        await ensureSession();
        adoptKey(entry);
        const response = await postEvent({
          type: "message",
          id: entry.clientId,
          text: entry.text,
          name: entry.name,
          locale: language,
        });
        if (response.ok) {
          entry.state = "sent";
          renderEntry(entry);
          return;
        }
        if (response.status < 500 && response.status !== 429) {
          // The hub refused the message itself; repeating it unchanged would fail the same way.
          entry.state = "failed";
          entry.error = await errorMessage(response);
          renderEntry(entry);
          return;
        }
      } catch (error) {
        failure = error.message;
      }
      if (entry.serverId) {
        // The history already shows the hub has it: an earlier attempt got through.
        entry.state = "delivered";
        renderEntry(entry);
        return;
      }
      if (attempt >= RETRY_DELAYS_MS.length) {
        entry.state = "failed";
        entry.error = failure && failure !== "Failed to fetch" ? failure : "";
        renderEntry(entry);
        return;
      }
      await wait(RETRY_DELAYS_MS[attempt]);
    }
  }

  /** Key a message by the provider id the hub will give it, once the visitor id is known. */
  function adoptKey(entry) {
    const key = `${session.visitor_id}:${entry.clientId}`;
    if (entry.key === key) return;
    entries.delete(entry.key);
    entry.key = key;
    entries.set(key, entry);
  }

  function send(text) {
    const trimmed = text.trim();
    if (!trimmed) return;
    const clientId = newId();
    const name = nameInput.value.trim();
    if (name !== (stored.name || "")) {
      stored.name = name;
      save();
    }
    const key = `pending:${clientId}`;
    const entry = {
      key,
      seq: ++sequence,
      order: lastServerId() + 0.5,
      clientId,
      text: trimmed,
      name: name || undefined,
      direction: "inbound",
      author: "customer",
      created_at: new Date().toISOString(),
      state: "sending",
    };
    entries.set(key, entry);
    list.append(renderEntry(entry));
    showConversation();
    scrollToEnd();
    ensureConnected();
    deliver(entry);
  }

  function submit() {
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    lastTyping = 0;
    autosize();
    send(text);
  }

  // ---- start ----------------------------------------------------------------------------------

  function mount() {
    document.body.append(root);
    // A returning visitor gets their history and live replies (and the unread badge) right away;
    // a new one only talks to the hub once they open the chat.
    if (session) ensureConnected();
  }

  const stylesheet = el("link", {
    rel: "stylesheet",
    href: new URL("widget.css", script ? script.src : location.href).href,
  });
  // Mount once the styles are in, so the page never flashes an unstyled panel.
  stylesheet.addEventListener("load", mount, { once: true });
  stylesheet.addEventListener("error", mount, { once: true });
  document.head.append(stylesheet);
})();
