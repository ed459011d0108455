/*
 * Channels: every channel account of hub.yaml with its health. The page first shows what the hub
 * knows by itself (webhook URL, last event, failures, last error), then asks the providers (token
 * valid, webhook set to our URL...) and fills in their answer, which can take a few seconds.
 */

import { api } from "../inbox/api.js";
import { el, fill } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { badge, copyButton, heading, notice, when } from "./ui.js";

const STATUS = {
  ok: ["ok", "adm.channels.status_ok"],
  unchecked: ["idle", "adm.channels.status_unchecked"],
  failing: ["warn", "adm.channels.status_failing"],
  problem: ["bad", "adm.channels.status_problem"],
};

function statusBadge(account, checking) {
  if (checking && account.status === "unchecked") return badge("idle", t("adm.channels.checking"));
  const [kind, key] = STATUS[account.status];
  return badge(kind, t(key));
}

function stat(label, value) {
  return el("div", { class: "adm-stat" }, el("dt", {}, label), el("dd", {}, value));
}

function accountCard(account, checking) {
  const webhook = account.webhook_url
    ? el(
        "div",
        { class: "adm-webhook" },
        el("span", { class: "adm-webhook-label" }, t("adm.channels.webhook")),
        el("code", { class: "adm-code" }, account.webhook_url),
        copyButton(account.webhook_url),
      )
    : el("p", { class: "muted" }, t("adm.channels.no_webhook"));
  const error = account.last_error;
  return el(
    "article",
    { class: "adm-channel", dataset: { account: account.name, status: account.status } },
    el(
      "header",
      { class: "adm-channel-head" },
      el("h2", { class: "adm-channel-name" }, account.name),
      el("span", { class: "chip chip--channel", dataset: { channel: account.type } }, account.type),
      statusBadge(account, checking),
    ),
    webhook,
    el(
      "dl",
      { class: "adm-stats" },
      stat(t("adm.channels.last_event"), when(account.last_event_at)),
      stat(t("adm.channels.events_24h"), String(account.events_24h)),
      stat(t("adm.channels.failures_24h"), String(account.failures_24h)),
    ),
    error
      ? el(
          "p",
          { class: "adm-last-error" },
          el("strong", {}, t(`adm.channels.last_error_${error.direction}`)),
          " ",
          when(error.at),
          el("span", { class: "adm-error-text" }, error.text),
        )
      : null,
    account.problems && account.problems.length
      ? el("ul", { class: "adm-problems", "aria-label": t("adm.channels.problems") }, ...account.problems.map((p) => el("li", {}, p)))
      : null,
    account.advice.length
      ? el("details", { class: "adm-advice" }, el("summary", {}, t("adm.channels.advice")), el("ul", {}, ...account.advice.map((a) => el("li", {}, a))))
      : null,
  );
}

export async function channelsTab(container) {
  let alive = true;
  const checkButton = el("button", { type: "button", class: "btn" }, t("adm.channels.check"));
  const list = el("div", { class: "adm-channels" });
  const banner = el("div");

  function render(health, checking) {
    fill(
      banner,
      el("p", { class: "adm-public-url" }, t("adm.channels.public_url"), " ", el("code", { class: "adm-code" }, health.public_url)),
      ...health.hub_problems.map((problem) => notice("bad", problem)),
    );
    fill(list, ...health.accounts.map((account) => accountCard(account, checking)));
    checkButton.disabled = checking;
    checkButton.textContent = t(checking ? "adm.channels.checking" : "adm.channels.check");
  }

  async function check() {
    checkButton.disabled = true;
    try {
      latest = await api("/api/v1/channel-accounts?check=true");
      if (alive) render(latest, false);
    } catch (error) {
      if (alive) {
        checkButton.disabled = false;
        banner.append(notice("bad", error.message));
      }
    }
  }

  // What the hub knows by itself comes at once; the providers' answers replace it when they come.
  let latest = await api("/api/v1/channel-accounts");
  fill(container, heading("adm.channels.title", "adm.channels.lead", checkButton), banner, list);
  render(latest, true);
  checkButton.addEventListener("click", () => {
    render(latest, true);
    check();
  });
  check();
  return () => {
    alive = false;
  };
}
