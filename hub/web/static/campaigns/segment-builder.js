/*
 * The segment builder: a name, an id and the conditions as rows; beside them, how many customers
 * match right now and a few of them, asked of the server (POST /api/v1/segments/preview) a moment
 * after each change. Saving writes the same definition a segment file or the API takes.
 */

import { api } from "../inbox/api.js";
import { attempt, avatar, debounce, el, fill, toast } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { rootOf, conditionsOf } from "./conditions.js";
import { conditionEditor } from "./condition-rows.js";
import { catalog as loadCatalog, forgetCatalog, taken } from "./data.js";
import { card, confirmDialog, field, input, number, problemLine, slugify } from "./ui.js";

const PREVIEW_DELAY_MS = 350;
const SAMPLE = 6;

function sampleRow(customer) {
  return el(
    "li",
    { class: "mk-person", dataset: { customer: customer.id } },
    avatar(customer.display_name, customer.display_name || customer.id, "avatar--small"),
    el(
      "div",
      { class: "mk-person-text" },
      el("span", { class: "mk-person-name" }, customer.display_name || t("builder.unnamed", { id: customer.id })),
      el("span", { class: "mk-sub" }, [customer.locale || "–", ...(customer.tags || []).slice(0, 3)].join(" · ")),
    ),
  );
}

export async function segmentBuilder(container, segmentId = null) {
  const [catalog, existing, everyone] = await Promise.all([
    loadCatalog(),
    segmentId ? api(`/api/v1/segments/${segmentId}`) : Promise.resolve(null),
    api("/api/v1/segments/preview?sample=0", { method: "POST", body: { name: "everyone", conditions: [] } }),
  ]);
  const fromFile = existing !== null && existing.source.startsWith("file:");
  const root = rootOf(existing ? existing.conditions : [], catalog);
  let idEdited = existing !== null;

  const name = input({ value: existing?.name ?? "", maxlength: "200", placeholder: t("builder.name_hint") });
  const id = input({ value: existing?.id ?? "", maxlength: "64", placeholder: "spanish-vips", readonly: existing !== null });
  const description = el("textarea", { class: "input", rows: "2", maxlength: "1000" });
  description.value = existing?.description ?? "";
  name.addEventListener("input", () => {
    if (!idEdited) id.value = slugify(name.value);
  });
  id.addEventListener("input", () => {
    idEdited = true;
  });

  const count = el("strong", { class: "mk-count", id: "segment-count", "aria-live": "polite" }, "…");
  const countNote = el("p", { class: "mk-sub", id: "segment-count-note" });
  const sample = el("ul", { class: "mk-people", id: "segment-sample", "aria-label": t("builder.sample") });
  const previewProblem = problemLine();
  const generalProblem = el("p", { class: "form-error", role: "alert", hidden: true });

  let asked = 0;
  let current = conditionsOf(root, catalog);
  const editor = conditionEditor(root, catalog, changed, { readOnly: fromFile });

  async function preview() {
    const mine = ++asked;
    current = conditionsOf(root, catalog);
    count.classList.add("is-loading");
    try {
      const result = await api(`/api/v1/segments/preview?sample=${SAMPLE}`, {
        method: "POST",
        body: { name: name.value.trim() || "preview", conditions: current.conditions },
      });
      if (mine !== asked) return;
      count.textContent = number(result.count);
      count.dataset.count = String(result.count);
      countNote.textContent = t("builder.of_all", { n: number(everyone.count) });
      fill(sample, result.sample.length ? result.sample.map(sampleRow) : el("li", { class: "mk-muted" }, t("builder.nobody")));
      previewProblem.hidden = true;
      editor.mark(current.incomplete, new Map());
    } catch (error) {
      if (mine !== asked) return;
      count.textContent = "–";
      delete count.dataset.count;
      previewProblem.hidden = false;
      previewProblem.textContent = error.message;
      editor.mark(current.incomplete, problemsByRow(error.message));
    } finally {
      if (mine === asked) count.classList.remove("is-loading");
    }
  }

  /** "conditions[1].attribute: ..." -> the row at conditions[1]. */
  function problemsByRow(message) {
    const found = new Map();
    for (const problem of message.split("; ")) {
      let best = null;
      for (const [rowId, path] of current.paths) {
        if ((problem.startsWith(`${path}.`) || problem.startsWith(`${path}:`)) && (!best || path.length > best[1].length)) best = [rowId, path];
      }
      if (best) found.set(best[0], [...(found.get(best[0]) || []), problem.slice(best[1].length).replace(/^[.:]\s*/, "")]);
    }
    return found;
  }

  const later = debounce(preview, PREVIEW_DELAY_MS);
  function changed() {
    count.classList.add("is-loading");
    later();
  }

  async function save() {
    current = conditionsOf(root, catalog);
    generalProblem.hidden = true;
    const segment = id.value.trim();
    const problem = !name.value.trim()
      ? t("builder.need_name")
      : !segment
        ? t("builder.need_id")
        : current.incomplete.length
          ? t("builder.incomplete", { n: current.incomplete.length })
          : null;
    if (problem) {
      generalProblem.hidden = false;
      generalProblem.textContent = problem;
      editor.mark(current.incomplete, new Map());
      return;
    }
    try {
      if (existing === null && (await taken(`/api/v1/segments/${encodeURIComponent(segment)}`))) {
        generalProblem.hidden = false;
        generalProblem.textContent = t("builder.id_taken", { id: segment });
        return;
      }
      await api(`/api/v1/segments/${encodeURIComponent(segment)}`, {
        method: "PUT",
        body: { name: name.value.trim(), description: description.value, conditions: current.conditions },
      });
    } catch (error) {
      generalProblem.hidden = false;
      generalProblem.textContent = error.message;
      editor.mark(current.incomplete, problemsByRow(error.message));
      return;
    }
    forgetCatalog();
    toast(t("builder.saved", { name: name.value.trim() }), "info");
    location.hash = "#/segments";
  }

  async function remove() {
    const sure = await confirmDialog({
      title: t("builder.delete_title", { name: existing.name }),
      body: t("builder.delete_body"),
      confirm: t("builder.delete"),
      danger: true,
    });
    if (!sure) return;
    if ((await attempt(() => api(`/api/v1/segments/${existing.id}`, { method: "DELETE" }))) !== undefined) location.hash = "#/segments";
  }

  fill(
    container,
    el(
      "header",
      { class: "mk-head" },
      el(
        "div",
        {},
        el("a", { class: "mk-back", href: "#/segments" }, `← ${t("segments.title")}`),
        el("h1", { class: "mk-title" }, existing ? existing.name : t("builder.new_title")),
        el("p", { class: "mk-lead" }, t("builder.lead")),
      ),
      el(
        "div",
        { class: "mk-actions" },
        existing && !fromFile ? el("button", { type: "button", class: "btn btn-ghost", onclick: remove }, t("builder.delete")) : null,
        el("button", { type: "button", class: "btn btn-primary", id: "segment-save", disabled: fromFile, onclick: save }, t("builder.save")),
      ),
    ),
    fromFile ? el("p", { class: "mk-notice" }, t("builder.from_file", { file: existing.source.slice(5) })) : null,
    el(
      "div",
      { class: "mk-split" },
      el(
        "div",
        { class: "mk-stack" },
        card(
          null,
          el(
            "div",
            { class: "mk-grid" },
            field({ label: t("builder.name"), control: name }),
            field({ label: t("builder.id"), control: id, hint: t("builder.id_hint") }),
            field({ label: t("builder.description"), control: description, wide: true }),
          ),
        ),
        card(t("builder.conditions"), editor.node, generalProblem),
      ),
      el(
        "aside",
        { class: "mk-aside", "aria-label": t("builder.matching") },
        card(
          null,
          el("p", { class: "mk-label" }, t("builder.matching")),
          count,
          countNote,
          previewProblem,
          el("p", { class: "mk-label mk-label--spaced" }, t("builder.sample")),
          sample,
        ),
      ),
    ),
  );
  if (fromFile) for (const control of [name, id, description]) control.disabled = true;
  await preview();
  return () => {
    asked += 1; // a preview still under way must not draw on the next view
  };
}
