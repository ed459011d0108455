/*
 * The supervisors' reports page. The filters (a range preset or custom days, channel, team) become
 * the query of every report (/api/v1/reports/<name>); the answers fill the headline figures, the
 * charts (charts.js) and the tables (tables.js), and each card's CSV link downloads its table with
 * the same query. Days are the hub's business-hours days: the range's end ("today") comes from the
 * server, not from this browser's clock.
 */

import { api, query } from "../inbox/api.js";
import { $, attempt, debounce, el, fill, hue, initials, toast } from "../inbox/dom.js";
import { addTexts, currentLanguage, t, useLanguage } from "../inbox/i18n.js";
import { mountNav } from "../inbox/nav.js";
import { barChart, barList, funnels, heatmap, lineChart } from "./charts.js";
import { count, day, duration, percent, rating } from "./format.js";
import { renderTable } from "./tables.js";

const REPORTS = [
  "response-times",
  "volume-daily",
  "volume-channels",
  "volume-heatmap",
  "agents",
  "teams",
  "csat",
  "bot-handoffs",
  "campaigns",
];

const state = {
  me: null,
  today: null, // the last day of the default range, from the server (business-hours time zone)
  timezone: "",
  preset: "30",
  from: "",
  to: "",
  channel: "",
  team: "",
  reports: {},
  loading: 0,
};

function addDays(iso, days) {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

function filters() {
  return { from: state.from, to: state.to, channel: state.channel, team_id: state.team };
}

function choosePreset(preset) {
  state.preset = preset;
  for (const button of document.querySelectorAll(".rp-preset")) button.setAttribute("aria-pressed", String(button.dataset.days === preset));
  $("custom-range").hidden = preset !== "custom";
  if (preset === "custom") {
    $("range-from").value = state.from;
    $("range-to").value = state.to;
    $("range-from").focus();
    return false;
  }
  state.to = state.today;
  state.from = addDays(state.today, 1 - Number(preset));
  return true;
}

// -- rendering -------------------------------------------------------------------------------------

function tile(key, label, value, note) {
  return el(
    "div",
    { class: "rp-kpi", "data-kpi": key, "data-value": value.raw ?? "" },
    el("span", { class: "rp-kpi-label" }, label),
    el("span", { class: "rp-kpi-value" }, value.text),
    el("span", { class: "rp-kpi-note" }, note),
  );
}

function renderKpis() {
  const times = state.reports["response-times"].summary;
  const csat = state.reports.csat.summary;
  const bot = state.reports["bot-handoffs"].summary;
  fill(
    $("kpis"),
    tile("conversations", t("rp.kpi_conversations"), { raw: times.conversations, text: count(times.conversations) }, t("rp.kpi_resolved", { n: count(times.resolved) })),
    tile("first_response", t("rp.kpi_first_response"), { raw: times.first_response_median, text: duration(times.first_response_median) }, t("rp.median")),
    tile("resolution", t("rp.kpi_resolution"), { raw: times.resolution_median, text: duration(times.resolution_median) }, t("rp.median")),
    tile("customer_wait", t("rp.kpi_customer_wait"), { raw: times.customer_wait_median, text: duration(times.customer_wait_median) }, t("rp.median")),
    tile("fcr", t("rp.kpi_fcr"), { raw: times.first_contact_resolution, text: percent(times.first_contact_resolution) }, t("rp.kpi_fcr_note")),
    tile("csat", t("rp.kpi_csat"), { raw: csat.average, text: rating(csat.average) }, t("rp.kpi_csat_note", { score: percent(csat.csat_score), n: count(csat.responses) })),
    tile("containment", t("rp.kpi_containment"), { raw: bot.containment_rate, text: percent(bot.containment_rate) }, t("rp.kpi_containment_note", { n: count(bot.bot_conversations) })),
  );
}

/** The drawing width of a chart container: charts are drawn at the size they are shown. */
function widthOf(id) {
  return Math.max(300, Math.floor($(id).clientWidth));
}

function legend(container, series) {
  fill(container, series.map((line) => el("span", { class: `rp-key ${line.className}` }, line.name)));
}

function renderVolume() {
  const daily = state.reports["volume-daily"];
  const days = daily.rows.map((row) => row.date);
  const series = [
    { key: "customer_messages", name: t("rp.col_customer_messages"), className: "rp-series-1", values: daily.rows.map((r) => r.customer_messages) },
    { key: "agent_replies", name: t("rp.col_agent_replies"), className: "rp-series-2", values: daily.rows.map((r) => r.agent_replies) },
    { key: "bot_messages", name: t("rp.col_bot_messages"), className: "rp-series-3", values: daily.rows.map((r) => r.bot_messages) },
  ];
  legend($("legend-volume-daily"), [{ name: t("rp.conversations_opened"), className: "rp-series-bar" }, ...series]);
  const width = widthOf("chart-volume-daily");
  fill(
    $("chart-volume-daily"),
    el("div", { class: "rp-chart-part", id: "chart-conversations" }, barChart(daily.rows.map((row) => ({ label: row.date, value: row.conversations })), { name: t("rp.conversations_opened"), width })),
    el("div", { class: "rp-chart-part", id: "chart-messages" }, lineChart(days, series, { name: t("rp.messages_per_day"), width, height: 180 })),
  );
  renderTable($("table-volume-daily"), daily);

  const hours = state.reports["volume-heatmap"];
  fill($("chart-volume-heatmap"), heatmap(hours.rows.map((row) => ({ weekday: row.weekday, hour: row.hour, value: row.customer_messages })), { name: t("rp.heatmap") }));

  const channels = state.reports["volume-channels"];
  const named = (channel) => (t(`rp.channel_${channel}`) === `rp.channel_${channel}` ? channel : t(`rp.channel_${channel}`));
  fill(
    $("chart-volume-channels"),
    channels.rows.length
      ? barList(channels.rows.map((row) => ({ label: named(row.channel), value: row.conversations })), { name: t("rp.channels"), width: widthOf("chart-volume-channels") })
      : null,
  );
  renderTable($("table-volume-channels"), channels);
}

function renderCsat() {
  const csat = state.reports.csat;
  $("csat-sub").textContent = csat.summary.responses
    ? t("rp.csat_sub", { n: count(csat.summary.responses), avg: rating(csat.summary.average), score: percent(csat.summary.csat_score) })
    : t("rp.csat_none");
  const ordered = [...csat.rows].sort((a, b) => b.rating - a.rating);
  fill(
    $("chart-csat"),
    barList(
      ordered.map((row) => ({ label: t("rp.stars", { n: row.rating }), value: row.responses, note: `${count(row.responses)} · ${percent(row.share ?? 0)}`, className: `rp-rating-${row.rating}` })),
      { name: t("rp.csat"), width: widthOf("chart-csat") },
    ),
  );
}

function renderBot() {
  const bot = state.reports["bot-handoffs"];
  const summary = bot.summary;
  fill(
    $("chart-bot"),
    barList(
      [
        { label: t("rp.bot_contained"), value: summary.contained, className: "rp-bot-contained" },
        { label: t("rp.bot_handed_off"), value: summary.handed_off, className: "rp-bot-handed" },
        { label: t("rp.bot_taken_over"), value: summary.taken_over, className: "rp-bot-taken" },
      ],
      { name: t("rp.bot"), width: widthOf("chart-bot") },
    ),
  );
  renderTable($("table-bot-handoffs"), bot, { empty: "rp.no_handoffs" });
}

function renderPeople() {
  renderTable($("table-agents"), state.reports.agents, { hide: ["agent_id"] });
  renderTable($("table-teams"), state.reports.teams, { hide: ["team_id"] });
  renderTable($("table-response-times"), state.reports["response-times"]);
}

function renderCampaigns() {
  const campaigns = state.reports.campaigns;
  fill($("chart-campaigns"), campaigns.rows.length ? funnels(campaigns.rows, { name: t("rp.campaigns"), width: widthOf("chart-campaigns") }) : el("p", { class: "rp-empty" }, t("rp.no_campaigns")));
  renderTable($("table-campaigns"), campaigns, { hide: ["campaign_id"], empty: "rp.no_campaigns" });
}

function renderAll() {
  renderKpis();
  renderVolume();
  renderCsat();
  renderBot();
  renderPeople();
  renderCampaigns();
  const range = `${day(state.from, { day: "numeric", month: "short", year: "numeric" })} – ${day(state.to, { day: "numeric", month: "short", year: "numeric" })}`;
  $("range-note").textContent = t("rp.range_note", { range, zone: state.timezone });
}

function linkDownloads() {
  const search = query(filters());
  for (const link of document.querySelectorAll(".rp-csv")) link.href = `/api/v1/reports/${link.dataset.report}.csv?${search}`;
}

async function load() {
  const current = ++state.loading;
  $("report").setAttribute("aria-busy", "true");
  linkDownloads();
  const search = query(filters());
  try {
    const answers = await Promise.all(REPORTS.map((name) => api(`/api/v1/reports/${name}?${search}`)));
    if (current !== state.loading) return; // the filters changed meanwhile
    state.reports = Object.fromEntries(REPORTS.map((name, index) => [name, answers[index]]));
    renderAll();
  } catch (error) {
    if (error.status !== 401) toast(error.message);
  } finally {
    if (current === state.loading) $("report").setAttribute("aria-busy", "false");
  }
}

// -- set-up ----------------------------------------------------------------------------------------

function showMe() {
  $("me-name").textContent = state.me.name;
  $("me-role").textContent = t(`role.${state.me.role}`);
  $("me-avatar").textContent = initials(state.me.name);
  $("me-avatar").style.setProperty("--hue", String(hue(state.me.agent_id ?? state.me.name)));
  $("language").value = currentLanguage();
}

async function changeLanguage(language) {
  if (state.me.agent_id !== null) {
    const saved = await attempt(() => api("/api/v1/workspace/me", { method: "PATCH", body: { locale: language } }));
    if (!saved) {
      $("language").value = currentLanguage();
      return;
    }
  }
  await useLanguage(language);
  showMe();
  await attempt(() => mountNav($("nav")));
  fillFilterOptions();
  if (Object.keys(state.reports).length) renderAll();
}

let channels = [];
let teams = [];

function fillFilterOptions() {
  const channelSelect = $("filter-channel");
  fill(
    channelSelect,
    el("option", { value: "" }, t("rp.all_channels")),
    channels.map((type) => el("option", { value: type }, t(`rp.channel_${type}`) === `rp.channel_${type}` ? type : t(`rp.channel_${type}`))),
  );
  channelSelect.value = state.channel;
  const teamSelect = $("filter-team");
  fill(teamSelect, el("option", { value: "" }, t("rp.all_teams")), teams.map((team) => el("option", { value: String(team.id) }, team.name)));
  teamSelect.value = state.team;
}

function wire() {
  // Charts are drawn for their width: draw them again when it changes.
  window.addEventListener(
    "resize",
    debounce(() => {
      if (Object.keys(state.reports).length) renderAll();
    }, 150),
  );
  $("language").addEventListener("change", (event) => changeLanguage(event.target.value));
  $("logout").addEventListener("click", async () => {
    await attempt(() => api("/api/v1/auth/logout", { method: "POST" }));
    location.assign("/login");
  });
  for (const button of document.querySelectorAll(".rp-preset")) {
    button.addEventListener("click", () => {
      if (choosePreset(button.dataset.days)) load();
    });
  }
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = $("range-from").value;
    const to = $("range-to").value;
    if (!from || !to) return;
    if (to < from) {
      toast(t("rp.range_backwards"));
      return;
    }
    state.from = from;
    state.to = to;
    load();
  });
  $("filter-channel").addEventListener("change", (event) => {
    state.channel = event.target.value;
    load();
  });
  $("filter-team").addEventListener("change", (event) => {
    state.team = event.target.value;
    load();
  });
}

async function start() {
  addTexts("/static/reports/locales");
  state.me = await api("/api/v1/auth/me");
  const prefs = state.me.agent_id !== null ? await attempt(() => api("/api/v1/workspace/me")) : null;
  await useLanguage(prefs ? prefs.locale : "en");
  showMe();
  attempt(() => mountNav($("nav")));
  wire();
  // The server's default range ends today in the business-hours time zone: its last day is ours.
  const probe = await api("/api/v1/reports/csat");
  state.today = probe.to;
  state.timezone = probe.timezone;
  choosePreset("30");
  const [accounts, teamList] = await Promise.all([
    attempt(() => api("/api/v1/workspace/channels")),
    attempt(() => api("/api/v1/workspace/teams")),
  ]);
  channels = [...new Set((accounts || []).map((account) => account.type))].sort();
  teams = teamList || [];
  fillFilterOptions();
  await load();
}

start().catch((error) => {
  if (error.status !== 401) toast(error.message);
});
