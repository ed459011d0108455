/*
 * API tokens: for scripts and other systems. A new token's secret is shown here once (only its hash
 * is stored); revoking one stops it at its next request.
 */

import { api } from "../inbox/api.js";
import { el, fill, toast } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { ROLES, actorName, badge, card, copyButton, empty, field, heading, input, notice, onSubmit, select, table, when } from "./ui.js";

export async function tokensTab(container) {
  const secretBox = el("div");

  async function refresh() {
    const [tokens, agents] = await Promise.all([api("/api/v1/tokens"), api("/api/v1/agents")]);
    const rows = tokens.map((token) => {
      const revoke = token.revoked_at
        ? null
        : el("button", { type: "button", class: "btn btn-small", "aria-label": t("adm.tokens.revoke_named", { name: token.name }) }, t("adm.tokens.revoke"));
      revoke?.addEventListener("click", async () => {
        if (!confirm(t("adm.tokens.revoke_confirm", { name: token.name }))) return;
        try {
          await api(`/api/v1/tokens/${token.id}/revoke`, { method: "POST" });
          toast(t("adm.tokens.revoked_toast", { name: token.name }), "info");
          fill(secretBox);
          await refresh();
        } catch (error) {
          toast(error.message);
        }
      });
      return [
        el("strong", {}, token.name),
        t(`role.${token.role}`),
        el("span", { class: "muted", title: token.created_by }, actorName(token.created_by, agents)),
        when(token.created_at),
        when(token.last_used_at),
        token.revoked_at ? badge("idle", t("adm.tokens.revoked")) : badge("ok", t("adm.tokens.active")),
        revoke,
      ];
    });
    fill(
      list,
      tokens.length
        ? table(
            [t("adm.tokens.name"), t("adm.tokens.role"), t("adm.tokens.created_by"), t("adm.tokens.created"), t("adm.tokens.last_used"), t("adm.tokens.status"), ""],
            rows,
            { label: t("adm.tokens.title"), rowData: tokens.map((token) => ({ token: token.name })) },
          )
        : empty(t("adm.tokens.none")),
    );
  }

  const name = input({ name: "name", required: true, maxlength: 200, placeholder: t("adm.tokens.name_placeholder") });
  const role = select(ROLES.map((r) => [r, t(`role.${r}`)]), "agent", { name: "role" });
  const form = el(
    "form",
    { class: "adm-form adm-form--row", "aria-label": t("adm.tokens.create") },
    field(t("adm.tokens.name"), name),
    field(t("adm.tokens.role"), role),
    el("div", { class: "adm-form-actions" }, el("button", { type: "submit", class: "btn btn-primary" }, t("adm.tokens.create_button"))),
  );
  onSubmit(form, async () => {
    const created = await api("/api/v1/tokens", { method: "POST", body: { name: name.value.trim(), role: role.value } });
    fill(
      secretBox,
      notice(
        "warn",
        el("strong", {}, t("adm.tokens.secret_once", { name: created.name })),
        el("div", { class: "adm-webhook" }, el("code", { class: "adm-code adm-secret" }, created.token), copyButton(created.token)),
      ),
    );
    form.reset();
    await refresh();
  });
  const list = el("div");
  fill(container, heading("adm.tokens.title", "adm.tokens.lead"), card(t("adm.tokens.create"), form, secretBox), card(null, list));
  await refresh();
}
