/*
 * Agents and teams: everyone who signs in, with their role (admin, supervisor, agent, marketer),
 * team and whether they may still sign in; inviting someone; the teams, renamed and staffed here.
 * Every change is saved at once and lands in the audit log; the server refuses to leave the hub
 * without an active admin, and says so.
 */

import { api } from "../inbox/api.js";
import { el, fill, toast } from "../inbox/dom.js";
import { plural, t } from "../inbox/i18n.js";
import { ROLES, badge, card, field, heading, input, onSubmit, select, table } from "./ui.js";

function teamOptions(teams) {
  return [["", t("adm.people.no_team")], ...teams.map((team) => [String(team.id), team.name])];
}

/** A random starting password to hand over (the person signs in with it). */
function suggestPassword() {
  const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(14));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

export async function peopleTab(container, me) {
  async function refresh() {
    const [agents, teams] = await Promise.all([api("/api/v1/agents"), api("/api/v1/teams")]);
    fill(container, heading("adm.people.title", "adm.people.lead"), agentsCard(agents, teams), el("div", { class: "adm-grid" }, inviteCard(teams), teamsCard(agents, teams)));
  }

  async function change(agent, body, revert) {
    try {
      await api(`/api/v1/agents/${agent.id}`, { method: "PATCH", body });
      toast(t("adm.saved"), "info");
      await refresh();
    } catch (error) {
      revert();
      toast(error.message);
    }
  }

  function agentsCard(agents, teams) {
    const rows = agents.map((agent) => {
      const role = select(ROLES.map((r) => [r, t(`role.${r}`)]), agent.role, { "aria-label": t("adm.people.role_of", { name: agent.name }), disabled: !agent.active });
      role.addEventListener("change", () => change(agent, { role: role.value }, () => (role.value = agent.role)));
      const team = select(teamOptions(teams), agent.team_id === null ? "" : String(agent.team_id), { "aria-label": t("adm.people.team_of", { name: agent.name }) });
      team.addEventListener("change", () => change(agent, { team_id: team.value ? Number(team.value) : null }, () => (team.value = agent.team_id ?? "")));
      const capacity = input({ type: "number", min: 0, max: 100, value: agent.capacity, class: "input adm-number", "aria-label": t("adm.people.capacity_of", { name: agent.name }) });
      capacity.addEventListener("change", async () => {
        try {
          await api(`/api/v1/agents/${agent.id}/capacity`, { method: "PATCH", body: { capacity: Number(capacity.value) } });
          toast(t("adm.saved"), "info");
        } catch (error) {
          capacity.value = agent.capacity;
          toast(error.message);
        }
      });
      const toggle = el("button", { type: "button", class: "btn btn-small" }, t(agent.active ? "adm.people.deactivate" : "adm.people.reactivate"));
      toggle.addEventListener("click", () => {
        if (agent.active && !confirm(t("adm.people.deactivate_confirm", { name: agent.name }))) return;
        change(agent, { active: !agent.active }, () => {});
      });
      return [
        el("div", { class: "adm-person" }, el("strong", {}, agent.name, agent.id === me.agent_id ? el("span", { class: "muted" }, ` (${t("adm.people.you")})`) : null), el("span", { class: "muted" }, agent.email)),
        role,
        team,
        capacity,
        agent.locale.toUpperCase(),
        agent.active ? badge("ok", t("adm.people.active")) : badge("idle", t("adm.people.inactive")),
        toggle,
      ];
    });
    return card(
      t("adm.people.agents"),
      table(
        [t("adm.people.name"), t("adm.people.role"), t("adm.people.team"), t("adm.people.capacity"), t("adm.people.language"), t("adm.people.status"), ""],
        rows,
        { label: t("adm.people.agents"), rowData: agents.map((agent) => ({ agent: agent.email })) },
      ),
    );
  }

  function inviteCard(teams) {
    const name = input({ name: "name", required: true, maxlength: 200, autocomplete: "off" });
    const email = input({ name: "email", type: "email", required: true, maxlength: 320, autocomplete: "off" });
    const role = select(ROLES.map((r) => [r, t(`role.${r}`)]), "agent", { name: "role" });
    const team = select(teamOptions(teams), "", { name: "team" });
    const language = select([["en", "English"], ["es", "Español"]], "en", { name: "locale" });
    const password = input({ name: "password", required: true, minlength: 10, maxlength: 200, autocomplete: "off" });
    password.value = suggestPassword();
    const form = el(
      "form",
      { class: "adm-form", "aria-label": t("adm.people.invite") },
      field(t("adm.people.name"), name),
      field(t("adm.people.email"), email),
      el("div", { class: "adm-row" }, field(t("adm.people.role"), role), field(t("adm.people.team"), team), field(t("adm.people.language"), language)),
      field(t("adm.people.password"), password, t("adm.people.password_hint")),
      el("div", { class: "adm-form-actions" }, el("button", { type: "submit", class: "btn btn-primary" }, t("adm.people.invite_button"))),
    );
    onSubmit(form, async () => {
      await api("/api/v1/agents", {
        method: "POST",
        body: {
          name: name.value.trim(),
          email: email.value.trim(),
          role: role.value,
          team_id: team.value ? Number(team.value) : null,
          locale: language.value,
          password: password.value,
        },
      });
      toast(t("adm.people.invited", { name: name.value.trim() }), "info");
      await refresh();
    });
    return card(t("adm.people.invite"), form);
  }

  function membersEditor(team, agents) {
    const boxes = agents.map((agent) =>
      el(
        "label",
        { class: "adm-check" },
        el("input", { type: "checkbox", value: String(agent.id), checked: agent.team_id === team.id }),
        agent.name,
        agent.active ? null : el("span", { class: "muted" }, ` (${t("adm.people.inactive")})`),
      ),
    );
    const form = el(
      "form",
      { class: "adm-members", "aria-label": t("adm.people.members_of", { team: team.name }) },
      el("div", { class: "adm-checks" }, ...boxes),
      el("div", { class: "adm-form-actions" }, el("button", { type: "submit", class: "btn btn-primary btn-small" }, t("adm.people.save_members"))),
    );
    onSubmit(form, async () => {
      const ids = boxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => Number(box.value));
      await api(`/api/v1/teams/${team.id}/members`, { method: "PUT", body: { agent_ids: ids } });
      toast(t("adm.saved"), "info");
      await refresh();
    });
    return form;
  }

  function teamsCard(agents, teams) {
    const names = new Map(agents.map((agent) => [agent.id, agent.name]));
    const blocks = teams.map((team) => {
      const rename = input({ value: team.name, maxlength: 100, "aria-label": t("adm.people.team_name") });
      const renameForm = el("form", { class: "adm-inline" }, rename, el("button", { type: "submit", class: "btn btn-small" }, t("adm.people.rename")));
      onSubmit(renameForm, async () => {
        await api(`/api/v1/teams/${team.id}`, { method: "PUT", body: { name: rename.value.trim() } });
        toast(t("adm.saved"), "info");
        await refresh();
      });
      const auto = el("input", { type: "checkbox", checked: team.auto_assign });
      auto.addEventListener("change", async () => {
        try {
          await api(`/api/v1/teams/${team.id}`, { method: "PATCH", body: { auto_assign: auto.checked } });
          toast(t("adm.saved"), "info");
        } catch (error) {
          auto.checked = !auto.checked;
          toast(error.message);
        }
      });
      const editor = el("div", { hidden: true }, membersEditor(team, agents));
      const edit = el("button", { type: "button", class: "btn btn-small btn-ghost" }, t("adm.people.edit_members"));
      edit.addEventListener("click", () => (editor.hidden = !editor.hidden));
      return el(
        "div",
        { class: "adm-team", dataset: { team: team.name } },
        el("div", { class: "adm-team-head" }, renameForm, el("label", { class: "adm-check", title: t("adm.people.auto_assign_hint") }, auto, t("adm.people.auto_assign"))),
        el(
          "p",
          { class: "adm-team-members" },
          el("strong", {}, plural("adm.people.member_count", team.members)),
          team.agent_ids.length ? el("span", { class: "muted" }, " · ", team.agent_ids.map((id) => names.get(id)).join(", ")) : null,
          edit,
        ),
        editor,
      );
    });
    const name = input({ name: "team", required: true, maxlength: 100, "aria-label": t("adm.people.new_team") });
    const create = el("form", { class: "adm-inline" }, name, el("button", { type: "submit", class: "btn btn-small btn-primary" }, t("adm.people.add_team")));
    onSubmit(create, async () => {
      await api("/api/v1/teams", { method: "POST", body: { name: name.value.trim() } });
      await refresh();
    });
    name.placeholder = t("adm.people.new_team");
    return card(t("adm.people.teams"), ...blocks, create);
  }

  await refresh();
}
