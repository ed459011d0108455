/*
 * The agents' inbox: one window with the conversation list, the open conversation with its reply
 * box, and the customer panel. State comes from the REST API (/api/v1) and stays current through the
 * workspace's live stream. Modules: list, thread, composer, customer, live, shortcuts; texts in
 * i18n.js and locales/.
 */

import { api } from "./api.js";
import { applyComposerPermissions, wireComposer } from "./composer.js";
import { $, attempt, hue, initials, toast } from "./dom.js";
import { currentLanguage, relativeTime, t, useLanguage } from "./i18n.js";
import { loadConversations, loadLabels, refreshCounts, renderChannelFilter, renderList, wireList } from "./list.js";
import { connectLive, unlockSound } from "./live.js";
import { mountNav } from "./nav.js";
import { mountPresence } from "./presence.js";
import { startSlaClock } from "./sla.js";
import { state } from "./state.js";
import { wireShortcuts } from "./shortcuts.js";
import { markRead, openConversation, renderHeader, wireThread } from "./thread.js";

async function changeLanguage(language) {
  const saved = await attempt(() => api("/api/v1/workspace/me", { method: "PATCH", body: { locale: language } }));
  if (!saved) {
    $("language").value = currentLanguage();
    return;
  }
  await useLanguage(saved.locale);
  showMe();
  applyComposerPermissions();
  for (const row of state.rows.values()) row.dataset.signature = ""; // rebuild rows in the new language
  renderList();
  refreshCounts();
  if (state.currentId !== null) openConversation(state.currentId);
}

function showMe() {
  $("me-name").textContent = state.me.name;
  $("me-role").textContent = t(`role.${state.me.role}`);
  $("me-avatar").textContent = initials(state.me.name);
  $("me-avatar").style.setProperty("--hue", String(hue(state.me.agent_id)));
  $("language").value = currentLanguage();
}

function wireUp() {
  wireList();
  wireThread();
  wireComposer();
  wireShortcuts();
  unlockSound();
  startSlaClock();
  $("language").addEventListener("change", (event) => changeLanguage(event.target.value));
  $("logout").addEventListener("click", async () => {
    await attempt(() => api("/api/v1/auth/logout", { method: "POST" }));
    location.assign("/login");
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.currentId !== null) markRead();
  });
  // Keep "5m" honest without re-rendering anything else.
  setInterval(() => {
    for (const node of document.querySelectorAll("time[data-relative]")) node.textContent = relativeTime(node.getAttribute("datetime"));
  }, 30000);
}

async function start() {
  state.me = await api("/api/v1/auth/me");
  state.can = new Set(state.me.permissions);
  // API tokens have no preferences; signed-in agents have a language and maybe a team.
  state.prefs = state.me.agent_id !== null ? await api("/api/v1/workspace/me") : { locale: "en", team_id: null };
  await useLanguage(state.prefs.locale);
  showMe();
  mountPresence($("presence-box"));
  attempt(() => mountNav($("nav")));
  wireUp();
  applyComposerPermissions();
  const [agents, teams, channels] = await Promise.all([
    attempt(() => api("/api/v1/agents")),
    attempt(() => api("/api/v1/workspace/teams")),
    attempt(() => api("/api/v1/workspace/channels")),
  ]);
  for (const agent of agents || []) state.agents.set(agent.id, agent);
  for (const team of teams || []) state.teams.set(team.id, team.name);
  state.channels = channels || [];
  renderChannelFilter();
  // Subscribe before the first load so nothing that happens in between is missed.
  connectLive();
  await Promise.all([attempt(loadConversations), attempt(loadLabels)]);
  refreshCounts();
  renderHeader();
  const linked = /^#c\/(\d+)$/.exec(location.hash);
  if (linked) openConversation(Number(linked[1]));
}

start().catch((error) => {
  if (error.status !== 401) toast(error.message);
});
