/* What the inbox screen holds: who is signed in, the list and its filters, the open conversation. */

export const state = {
  me: null, // /api/v1/auth/me
  prefs: null, // /api/v1/workspace/me (locale, team)
  can: new Set(),
  agents: new Map(), // id -> AgentOut
  teams: new Map(), // id -> name
  channels: [], // configured accounts {name, type}
  labels: [], // labels in use, most used first

  // The list: a view (all / mine / unassigned / team) refined by filters, keyset-paged.
  view: "all",
  filters: { status: "open", channel: "", label: "", atRisk: false, q: "" },
  conversations: new Map(), // id -> ConversationListItem
  rows: new Map(), // id -> <li>
  hasMore: false,
  counts: null,
  fresh: new Set(), // arrived live and not opened yet
  arriving: new Set(), // fresh ones whose row plays the arrival animation once

  // The open conversation.
  currentId: null,
  current: null, // ConversationOut
  items: new Map(), // "m12" / "n3" -> {at, id, node}
  newestMessageId: 0,
  customer: null,
  typing: new Map(), // agent id -> {name, mode, until}
};

export function may(permission) {
  return state.can.has(permission);
}

export function agentName(id, t) {
  if (id === state.me.agent_id) return t("agent.you");
  const agent = state.agents.get(id);
  return agent ? agent.name : t("agent.unknown", { id });
}
