/*
 * The agent's presence, in the top bar: online (round robin may give them conversations of their
 * team, up to their capacity), away or offline (not now). Saved on the server
 * (PATCH /api/v1/workspace/me); while this screen is connected the server counts them as present,
 * so closing every inbox tab is as good as going offline after a minute or so (inbox/assignment.py).
 * People who do not answer customers (marketers, API tokens) have no presence.
 */

import { api } from "./api.js";
import { attempt, el } from "./dom.js";
import { translatePage } from "./i18n.js";
import { state } from "./state.js";

const CHOICES = ["online", "away", "offline"];

export function mountPresence(container) {
  if (state.me.agent_id === null || !state.can.has("conversations:reply")) {
    container.hidden = true;
    return;
  }
  const select = el(
    "select",
    { id: "presence", class: "select select--small presence-select", "data-i18n-label": "presence.label" },
    ...CHOICES.map((choice) => el("option", { value: choice, "data-i18n": `presence.${choice}` })),
  );
  const dot = el("span", { class: "presence-dot", "aria-hidden": "true" });
  container.replaceChildren(dot, select);
  // Option texts and the label come from data-i18n (translated now and on every language change).
  translatePage(container);
  show(container, select, state.prefs.presence || "offline");
  select.addEventListener("change", async () => {
    const wanted = select.value;
    const saved = await attempt(() => api("/api/v1/workspace/me", { method: "PATCH", body: { presence: wanted } }));
    show(container, select, saved ? saved.presence : state.prefs.presence);
  });
  container.hidden = false;
}

function show(container, select, presence) {
  state.prefs.presence = presence;
  select.value = presence;
  container.dataset.presence = presence;
}
