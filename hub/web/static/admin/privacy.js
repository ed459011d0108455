/*
 * Privacy (GDPR): find a customer, download everything the hub holds about them as JSON, or erase
 * them. Erasure cannot be undone, so the button waits for the customer's id or name typed again; the
 * server checks the same.
 */

import { api, query } from "../inbox/api.js";
import { el, fill, toast } from "../inbox/dom.js";
import { plural, t } from "../inbox/i18n.js";
import { card, empty, heading, input, notice, onSubmit, when } from "./ui.js";

const ERASED_EVENT = "customer.erased";

function summary(result) {
  const counts = ["messages", "notes", "identities", "consents", "timeline_entries", "outbox_rows", "campaign_sends", "raw_events", "files_deleted"];
  return el(
    "ul",
    { class: "adm-summary" },
    el("li", {}, t("adm.privacy.erased_records", { ids: result.customer_ids.join(", ") })),
    ...counts.map((key) => el("li", {}, t(`adm.privacy.count.${key}`, { n: result[key] }))),
  );
}

export async function privacyTab(container) {
  const results = el("div", { class: "adm-results" });
  const selected = el("div");

  async function choose(customerId) {
    const customer = await api(`/api/v1/customers/${customerId}?timeline_limit=1000`);
    const erased = customer.timeline.some((entry) => entry.kind === ERASED_EVENT);
    const notes = el("input", { type: "checkbox", checked: true });
    const download = el("a", { class: "btn btn-primary", href: `/api/v1/customers/${customer.id}/export`, download: `customer-${customer.id}-export.json` }, t("adm.privacy.download"));
    notes.addEventListener("change", () => (download.href = `/api/v1/customers/${customer.id}/export?${query({ notes: notes.checked ? "true" : "false" })}`));
    const exportCard = card(
      t("adm.privacy.export"),
      el("p", { class: "adm-lead" }, t("adm.privacy.export_lead")),
      el("label", { class: "adm-check" }, notes, t("adm.privacy.include_notes")),
      el("p", { class: "adm-hint" }, t("adm.privacy.notes_hint")),
      el("div", { class: "adm-form-actions" }, download),
    );
    const confirmation = input({ name: "confirm", autocomplete: "off", "aria-label": t("adm.privacy.confirm_label") });
    confirmation.placeholder = t("adm.privacy.confirm_placeholder", { id: customer.id });
    const eraseButton = el("button", { type: "submit", class: "btn adm-danger", disabled: true }, t("adm.privacy.erase_button"));
    const accepted = new Set([String(customer.id), customer.display_name.trim().toLowerCase()].filter(Boolean));
    confirmation.addEventListener("input", () => (eraseButton.disabled = !accepted.has(confirmation.value.trim().toLowerCase())));
    const outcome = el("div");
    const eraseForm = el(
      "form",
      { class: "adm-form", "aria-label": t("adm.privacy.erase") },
      el("ul", { class: "adm-erase-list" }, ...["messages", "identities", "record", "kept"].map((key) => el("li", {}, t(`adm.privacy.erase_${key}`)))),
      el("label", { class: "adm-field" }, el("span", { class: "adm-field-label" }, t("adm.privacy.confirm_label")), confirmation),
      el("div", { class: "adm-form-actions" }, eraseButton),
    );
    onSubmit(eraseForm, async () => {
      const result = await api(`/api/v1/customers/${customer.id}/erase`, { method: "POST", body: { confirm: confirmation.value.trim() } });
      toast(t("adm.privacy.erased_toast", { id: customer.id }), "info");
      // The search results still show their name: they go, like the name itself.
      fill(results);
      await choose(customer.id);
      fill(outcome, notice("ok", el("strong", {}, t("adm.privacy.erased_title")), summary(result)));
      selected.prepend(outcome);
    });
    const identities = customer.identities.map((identity) => el("li", {}, el("span", { class: "chip" }, identity.kind), " ", identity.address));
    fill(
      selected,
      card(
        null,
        el(
          "div",
          { class: "adm-customer", dataset: { customer: customer.id } },
          el("h2", { class: "adm-card-title" }, customer.display_name || t("adm.privacy.unnamed", { id: customer.id }), erased ? null : el("span", { class: "muted" }, ` #${customer.id}`)),
          erased ? notice("idle", t("adm.privacy.already_erased")) : null,
          customer.merged_into_id ? notice("warn", t("adm.privacy.merged", { id: customer.merged_into_id })) : null,
          identities.length ? el("ul", { class: "adm-identities" }, ...identities) : el("p", { class: "muted" }, t("adm.privacy.no_identities")),
        ),
      ),
      el("div", { class: "adm-grid" }, exportCard, erased || customer.merged_into_id ? null : card(t("adm.privacy.erase"), eraseForm)),
    );
  }

  const search = input({ name: "q", type: "search", required: true, maxlength: 200, placeholder: t("adm.privacy.search_placeholder"), "aria-label": t("adm.privacy.search_placeholder") });
  const searchForm = el("form", { class: "adm-inline adm-search", role: "search" }, search, el("button", { type: "submit", class: "btn btn-primary" }, t("adm.privacy.search")));
  onSubmit(searchForm, async () => {
    const found = await api(`/api/v1/customers?${query({ q: search.value.trim(), limit: 20 })}`);
    fill(
      results,
      found.length
        ? el(
            "ul",
            { class: "adm-result-list" },
            ...found.map((customer) => {
              const pick = el("button", { type: "button", class: "adm-result", dataset: { customer: customer.id } }, el("strong", {}, customer.display_name || `#${customer.id}`), el("span", { class: "muted" }, `#${customer.id} · `, when(customer.updated_at)));
              pick.addEventListener("click", () => choose(customer.id).catch((error) => toast(error.message)));
              return el("li", {}, pick);
            }),
          )
        : empty(t("adm.privacy.no_results")),
      found.length ? el("p", { class: "muted" }, plural("adm.privacy.results", found.length)) : null,
    );
  });
  fill(container, heading("adm.privacy.title", "adm.privacy.lead"), card(null, searchForm, results), selected);
}
