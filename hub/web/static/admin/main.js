/*
 * The admins' settings page: one tab per subject, chosen by the address's hash so each has a link
 * and the back button works.
 *
 *   #/channels   channel accounts: health, webhook URLs         channels.js
 *   #/flows      bot flows: validation problems, diagrams       flows.js
 *   #/campaigns  campaigns, read only (edited in /campaigns)    campaigns.js
 *   #/people     agents (roles, teams, invitations) and teams   people.js
 *   #/tokens     API tokens                                     tokens.js
 *   #/hours      business hours and holidays                    hours.js
 *   #/sla        SLA policies                                   sla.js
 *   #/audit      the audit log                                  audit.js
 *   #/privacy    GDPR export and erasure                        privacy.js
 *
 * Each tab is ``async (container) => cleanup`` (the cleanup stops its timers, if any).
 */

import { api } from "../inbox/api.js";
import { $, attempt, el, hue, initials } from "../inbox/dom.js";
import { addTexts, currentLanguage, t, useLanguage } from "../inbox/i18n.js";
import { mountNav } from "../inbox/nav.js";
import { auditTab } from "./audit.js";
import { campaignsTab } from "./campaigns.js";
import { channelsTab } from "./channels.js";
import { flowsTab } from "./flows.js";
import { hoursTab } from "./hours.js";
import { peopleTab } from "./people.js";
import { privacyTab } from "./privacy.js";
import { slaTab } from "./sla.js";
import { tokensTab } from "./tokens.js";

const TABS = {
  channels: channelsTab,
  flows: flowsTab,
  campaigns: campaignsTab,
  people: peopleTab,
  tokens: tokensTab,
  hours: hoursTab,
  sla: slaTab,
  audit: auditTab,
  privacy: privacyTab,
};

let me = null;
let cleanup = null;
let shown = 0;

async function show() {
  const current = ++shown;
  if (cleanup) cleanup();
  cleanup = null;
  const name = location.hash.replace(/^#\//, "").split("/")[0];
  const tab = name in TABS ? name : "channels";
  for (const link of document.querySelectorAll(".adm-tab")) {
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const container = $("view");
  container.dataset.tab = tab;
  container.replaceChildren(el("p", { class: "adm-loading" }, t("adm.loading")));
  try {
    const stop = await TABS[tab](container, me);
    if (current !== shown) {
      if (stop) stop(); // the admin moved on while it loaded
      return;
    }
    cleanup = stop || null;
  } catch (error) {
    if (current !== shown || error.status === 401) return;
    container.replaceChildren(el("div", { class: "adm-empty" }, el("p", {}, error.message)));
  }
}

function showMe() {
  $("me-name").textContent = me.name;
  $("me-role").textContent = t(`role.${me.role}`);
  $("me-avatar").textContent = initials(me.name);
  $("me-avatar").style.setProperty("--hue", String(hue(me.agent_id ?? me.name)));
  $("language").value = currentLanguage();
  document.title = t("adm.page_title");
}

async function changeLanguage(language) {
  const saved = await attempt(() => api("/api/v1/workspace/me", { method: "PATCH", body: { locale: language } }));
  if (!saved) {
    $("language").value = currentLanguage();
    return;
  }
  await useLanguage(saved.locale);
  showMe();
  attempt(() => mountNav($("nav")));
  show();
}

async function start() {
  me = await api("/api/v1/auth/me");
  // API tokens have no preferences; signed-in admins have a language.
  const prefs = me.agent_id !== null ? await api("/api/v1/workspace/me") : { locale: "en" };
  addTexts("/static/admin/locales");
  await useLanguage(prefs.locale);
  showMe();
  attempt(() => mountNav($("nav")));
  $("language").addEventListener("change", (event) => changeLanguage(event.target.value));
  $("logout").addEventListener("click", async () => {
    await attempt(() => api("/api/v1/auth/logout", { method: "POST" }));
    location.assign("/login");
  });
  window.addEventListener("hashchange", show);
  await show();
}

start();
