/*
 * The marketers' workspace: campaigns (list with live counters, detail with the funnel, editor) and
 * segments (list, builder). One page; the view comes from the address's hash so every screen has a
 * link and the browser's back button works:
 *
 *   #/campaigns                the list            campaign-list.js
 *   #/new/campaign             a new campaign      campaign-editor.js
 *   #/campaigns/<id>           its results         campaign-detail.js
 *   #/campaigns/<id>/edit      the editor          campaign-editor.js
 *   #/segments                 the segments        segment-list.js
 *   #/new/segment, #/segments/<id>   the builder   segment-builder.js
 *
 * Each view is ``async (container, ...params) => cleanup``; the cleanup stops its polling.
 */

import { api } from "../inbox/api.js";
import { $, attempt, el, hue, initials, toast } from "../inbox/dom.js";
import { addTexts, currentLanguage, t, useLanguage } from "../inbox/i18n.js";
import { mountNav } from "../inbox/nav.js";
import { campaignDetail } from "./campaign-detail.js";
import { campaignEditor } from "./campaign-editor.js";
import { campaignList } from "./campaign-list.js";
import { session } from "./data.js";
import { segmentBuilder } from "./segment-builder.js";
import { segmentList } from "./segment-list.js";

const ID = "([a-z0-9][a-z0-9_-]*)";
const ROUTES = [
  [new RegExp("^#/new/campaign$"), "campaigns", () => campaignEditor],
  [new RegExp(`^#/campaigns/${ID}/edit$`), "campaigns", () => campaignEditor],
  [new RegExp(`^#/campaigns/${ID}$`), "campaigns", () => campaignDetail],
  [new RegExp("^#/new/segment$"), "segments", () => segmentBuilder],
  [new RegExp(`^#/segments/${ID}$`), "segments", () => segmentBuilder],
  [new RegExp("^#/segments$"), "segments", () => segmentList],
  [/.*/, "campaigns", () => campaignList],
];

let cleanup = null;
let shown = 0;

async function show() {
  const current = ++shown;
  if (cleanup) cleanup();
  cleanup = null;
  const hash = decodeURIComponent(location.hash);
  const [pattern, section, view] = ROUTES.find(([regex]) => regex.test(hash));
  const params = pattern.exec(hash).slice(1);
  for (const tab of document.querySelectorAll(".mk-tab")) {
    if (tab.dataset.section === section) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  const container = $("view");
  container.replaceChildren(el("p", { class: "mk-loading" }, t("mk.loading")));
  try {
    const stop = await view()(container, ...params);
    if (current !== shown) {
      if (stop) stop(); // the marketer moved on while it loaded
      return;
    }
    cleanup = stop || null;
  } catch (error) {
    if (current !== shown || error.status === 401) return;
    container.replaceChildren(
      el(
        "div",
        { class: "mk-empty" },
        el("p", {}, error.status === 404 ? t("mk.not_found") : error.message),
        el("a", { class: "btn", href: "#/campaigns" }, t("mk.back_to_campaigns")),
      ),
    );
  }
  window.scrollTo(0, 0);
}

function showMe() {
  $("me-name").textContent = session.me.name;
  $("me-role").textContent = t(`role.${session.me.role}`);
  $("me-avatar").textContent = initials(session.me.name);
  $("me-avatar").style.setProperty("--hue", String(hue(session.me.agent_id ?? session.me.name)));
  $("language").value = currentLanguage();
  document.title = t("mk.page_title");
}

async function changeLanguage(language) {
  const saved = await attempt(() => api("/api/v1/workspace/me", { method: "PATCH", body: { locale: language } }));
  if (!saved) {
    $("language").value = currentLanguage();
    return;
  }
  session.prefs = saved;
  await useLanguage(saved.locale);
  showMe();
  attempt(() => mountNav($("nav")));
  show();
}

async function start() {
  session.me = await api("/api/v1/auth/me");
  // API tokens have no preferences; signed-in marketers have a language and an email.
  session.prefs = session.me.agent_id !== null ? await api("/api/v1/workspace/me") : { locale: "en", email: null };
  addTexts("/static/campaigns/locales");
  await useLanguage(session.prefs.locale);
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

start().catch((error) => {
  if (error.status !== 401) toast(error.message);
});
