/*
 * The campaign editor. It edits the campaign definition itself (the JSON the API takes and a
 * campaigns YAML file holds), in place: each section writes its keys, and every key it does not
 * know — journey steps, anything added later — is saved back as it came. After each change the
 * server checks the definition (POST /api/v1/campaigns/check): its problems go next to their fields
 * once the marketer has tried to save, the YAML beside the form follows along, and a valid
 * definition is previewed for a real customer. Save keeps a draft; launch saves and starts it.
 */

import { api } from "../inbox/api.js";
import { debounce, el, fill, toast } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { catalog as loadCatalog, campaignOptions, segments as loadSegments, session, taken } from "./data.js";
import { contentSection, initialLanguages, variantsSection } from "./editor-content.js";
import { channelsSection, rulesSection } from "./editor-delivery.js";
import { audienceSection, basicsSection, scheduleSection } from "./editor-plan.js";
import { previewSection, testSendSection } from "./editor-preview.js";
import { journeySection } from "./journey.js";
import { scheduleText } from "./schedule-text.js";
import { card, confirmDialog, number, showProblems, statusBadge } from "./ui.js";

const CHECK_DELAY_MS = 400;
const EDITABLE = ["draft", "paused"];

function newDefinition(options, segments) {
  return {
    id: "",
    name: "",
    audience: segments[0]?.id,
    schedule: "now",
    // What this hub can send on, in the usual order of preference (web chat only reaches visitors
    // who are online, so it is left for the marketer to add).
    channels: options.connected.filter((channel) => channel !== "webchat"),
  };
}

/** A tiny event hub the sections use to hear about checks, previews and each other. */
function events() {
  const listeners = new Map();
  return {
    listen(name, fn) {
      listeners.set(name, [...(listeners.get(name) || []), fn]);
    },
    emit(name, value) {
      for (const fn of listeners.get(name) || []) fn(value);
    },
  };
}

export async function campaignEditor(container, campaignId = null) {
  const [options, catalog, segments, identities, existing] = await Promise.all([
    campaignOptions(),
    loadCatalog(),
    loadSegments(),
    api("/api/v1/campaigns/test-identities"),
    campaignId ? api(`/api/v1/campaigns/${campaignId}`) : Promise.resolve(null),
  ]);
  const draft = existing ? structuredClone(existing.definition) : newDefinition(options, segments);
  let status = existing?.status ?? "draft";
  let closed = false;
  let showing = false; // problems are shown next to fields once the marketer tried to save
  let lastCheck = null;
  let lastPreview = null;

  const hub = events();
  const ctx = {
    draft,
    isNew: existing === null,
    options,
    catalog,
    segments,
    identities,
    email: session.prefs?.email ?? null,
    locales: initialLanguages(draft),
    listen: hub.listen,
    emit: hub.emit,
    previewStep: null, // the journey step the preview shows (a test send sends it)
    changed: () => later(),
    save: (opts) => save(opts),
  };
  hub.listen("preview", (preview) => {
    lastPreview = preview;
  });

  const form = el("div", { class: "mk-stack mk-form", id: "campaign-form" });
  const general = el("ul", { class: "form-error mk-general", id: "general-problems", role: "alert", hidden: true });
  const verdict = el("span", { class: "mk-verdict", id: "check-verdict" });
  const yaml = el("pre", { class: "mk-yaml", id: "campaign-yaml", "aria-label": t("editor.yaml") });
  const saveButton = el("button", { type: "button", class: "btn", id: "campaign-save", onclick: () => save() }, t("editor.save"));
  const launchButton = el("button", { type: "button", class: "btn btn-primary", id: "campaign-launch", onclick: launch }, t("editor.launch"));
  const title = el("h1", { class: "mk-title" }, existing ? existing.name : t("editor.new_title"), " ", statusBadge(status));

  async function check() {
    if (closed) return;
    const result = await api("/api/v1/campaigns/check", { method: "POST", body: draft });
    if (closed) return;
    lastCheck = result;
    yaml.textContent = result.yaml;
    verdict.textContent = result.valid ? t("editor.ready") : t("editor.problems", { n: result.problems.length });
    verdict.dataset.valid = String(result.valid);
    hub.emit("check", result);
    if (showing) drawProblems();
  }

  function drawProblems() {
    const unclaimed = showProblems(form, lastCheck ? lastCheck.problems : []);
    fill(general, unclaimed.map((p) => el("li", {}, p.path ? `${p.path}: ${p.message}` : p.message)));
    general.hidden = unclaimed.length === 0;
  }

  const later = debounce(() => check().catch((error) => toast(error.message)), CHECK_DELAY_MS);

  /** Save the definition (a new or draft/paused campaign); true when it is saved. */
  async function save({ quiet = false } = {}) {
    if (!EDITABLE.includes(status)) {
      toast(t("editor.not_editable", { status: t(`campaign_status.${status}`) }));
      return false;
    }
    if (!draft.id) {
      showing = true;
      await check().catch(() => undefined);
      toast(t("editor.fix_problems"));
      return false;
    }
    saveButton.disabled = true;
    try {
      if (ctx.isNew && (await taken(`/api/v1/campaigns/${encodeURIComponent(draft.id)}`))) {
        const problem = { path: "id", message: t("editor.id_taken", { id: draft.id }) };
        showProblems(form, [problem, ...(lastCheck ? lastCheck.problems : [])]);
        toast(problem.message);
        return false;
      }
      const saved = await api(`/api/v1/campaigns/${encodeURIComponent(draft.id || "")}`, { method: "PUT", body: draft });
      status = saved.status;
      if (ctx.isNew) {
        ctx.isNew = false;
        hub.emit("saved");
        // The address now names the campaign, without reloading the editor.
        history.replaceState(null, "", `#/campaigns/${saved.id}/edit`);
      }
      fill(title, saved.name, " ", statusBadge(status));
      if (!quiet) toast(t("editor.saved"), "info");
      return true;
    } catch (error) {
      showing = true;
      await check().catch(() => undefined);
      if (!lastCheck || lastCheck.valid) {
        general.hidden = false;
        fill(general, el("li", {}, error.message));
      }
      toast(error.status === 422 ? t("editor.fix_problems") : error.message);
      return false;
    } finally {
      saveButton.disabled = false;
    }
  }

  async function launch() {
    if (!(await save({ quiet: true }))) return;
    const audience = lastPreview ? t("editor.launch_audience", { n: number(lastPreview.audience) }) : "";
    const sure = await confirmDialog({
      title: t("editor.launch_title", { name: draft.name }),
      body: `${scheduleText(draft.schedule)}. ${audience}`,
      confirm: t("editor.launch"),
    });
    if (!sure) return;
    try {
      await api(`/api/v1/campaigns/${draft.id}/launch`, { method: "POST" });
    } catch (error) {
      toast(error.message);
      return;
    }
    toast(t("editor.launched", { name: draft.name }), "info");
    location.hash = `#/campaigns/${draft.id}`;
  }

  const editable = EDITABLE.includes(status);
  const back = existing
    ? el("a", { class: "mk-back", href: `#/campaigns/${existing.id}` }, `← ${existing.name}`)
    : el("a", { class: "mk-back", href: "#/campaigns" }, `← ${t("campaigns.title")}`);
  // A journey's messages live in its steps (no campaign-wide content or variants).
  const journey = Array.isArray(draft.steps);
  fill(
    form,
    basicsSection(ctx),
    audienceSection(ctx),
    scheduleSection(ctx),
    channelsSection(ctx),
    journey ? journeySection(ctx) : contentSection(ctx),
    journey ? null : variantsSection(ctx),
    rulesSection(ctx),
  );
  fill(
    container,
    el("datalist", { id: "dl-events" }, catalog.events.map((kind) => el("option", { value: kind }))),
    el(
      "header",
      { class: "mk-head" },
      el("div", {}, back, title),
      el("div", { class: "mk-actions" }, verdict, editable ? saveButton : null, status === "draft" ? launchButton : null),
    ),
    existing && existing.source.startsWith("file:") ? el("p", { class: "mk-notice" }, t("editor.from_file", { file: existing.source.slice(5) })) : null,
    editable ? null : el("p", { class: "mk-notice" }, t("editor.read_only", { status: t(`campaign_status.${status}`) })),
    general,
    el(
      "div",
      { class: "mk-split mk-split--editor" },
      form,
      el(
        "aside",
        { class: "mk-aside mk-stack", "aria-label": t("preview.title") },
        previewSection(ctx),
        testSendSection(ctx),
        card(t("editor.yaml"), el("p", { class: "mk-hint" }, t("editor.yaml_hint")), yaml),
      ),
    ),
  );
  await check();
  return () => {
    closed = true;
  };
}
