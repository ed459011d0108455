/*
 * Beside the editor: the message as a real customer of the audience gets it on each channel (the
 * server renders it: POST /api/v1/campaigns/preview), in their language or one the marketer picks,
 * per variant — Telegram's buttons, the SMS length and number of messages, the email subject — and a
 * test send to the marketer's own identity.
 *
 * "Your own identity": the identities of the customer record holding the marketer's sign-in email
 * (GET /api/v1/campaigns/test-identities), so a marketer who wrote to the hub from Telegram and
 * linked it sees it here; any other identity can be typed in.
 */

import { api } from "../inbox/api.js";
import { el, fill, safeUrl } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { languageName } from "./editor-content.js";
import { card, channelChip, channelName, input, number, select } from "./ui.js";

function message(shown) {
  const head = el("div", { class: "pv-head" }, channelChip(shown.channel));
  if (shown.sms) {
    const { characters, segments, encoding } = shown.sms;
    head.append(el("span", { class: "pv-meta", dataset: { sms: "" } }, t("preview.sms", { n: number(characters), segments, encoding })));
  }
  if (shown.error) {
    return el("article", { class: "pv-card pv-card--error", dataset: { channel: shown.channel } }, head, el("p", { class: "pv-error" }, shown.error));
  }
  const bubble = el("div", { class: "pv-bubble" }, shown.text);
  const parts = [head];
  if (shown.subject !== undefined) parts.push(el("p", { class: "pv-subject" }, el("span", { class: "mk-sub" }, `${t("editor.subject")}: `), shown.subject));
  parts.push(bubble);
  if (shown.buttons?.length) {
    parts.push(
      el(
        "div",
        { class: "pv-buttons" },
        shown.buttons.map((button) =>
          el("span", { class: "pv-button", title: button.url && safeUrl(button.url) ? button.url : button.payload || "" }, button.title, button.url ? " ↗" : ""),
        ),
      ),
    );
  }
  if (shown.note) parts.push(el("p", { class: "mk-hint" }, shown.note));
  return el("article", { class: `pv-card pv-card--${shown.channel}`, dataset: { channel: shown.channel } }, ...parts);
}

export function previewSection(ctx) {
  const languages = [["", t("preview.their_language")], ...ctx.locales.map((code) => [code, languageName(code)])];
  const language = select(languages, "", { "aria-label": t("preview.language"), class: "select select--small" });
  const variant = select([], "", { "aria-label": t("preview.variant"), class: "select select--small" });
  const step = select([], "", { "aria-label": t("preview.step"), class: "select select--small" });
  const who = el("p", { class: "mk-sub", id: "preview-who" });
  const messages = el("div", { class: "pv-messages", id: "preview-messages" });
  let latest = null;
  let asked = 0;

  function draw() {
    if (!latest) return;
    const steps = [...new Set(latest.messages.map((m) => m.step))];
    const stepChosen = steps.includes(step.value) ? step.value : steps[0];
    fill(step, steps.map((s) => el("option", { value: s }, t("preview.step_n", { name: s }))));
    step.value = stepChosen ?? "";
    step.hidden = steps.length < 2;
    const ofStep = latest.messages.filter((m) => m.step === stepChosen);
    const variants = [...new Set(ofStep.map((m) => m.variant))];
    const chosen = variants.includes(variant.value) ? variant.value : variants[0];
    fill(variant, variants.map((v) => el("option", { value: v }, t("preview.variant_n", { name: v }))));
    variant.value = chosen ?? "";
    variant.hidden = variants.length < 2;
    who.textContent =
      latest.customer_id === null
        ? t("preview.nobody")
        : t("preview.as", { name: latest.customer_name || `#${latest.customer_id}`, n: number(latest.audience) });
    fill(messages, ofStep.filter((m) => m.variant === chosen).map(message));
  }

  async function refresh() {
    const mine = ++asked;
    messages.classList.add("is-loading");
    try {
      const result = await api("/api/v1/campaigns/preview", { method: "POST", body: { definition: ctx.draft, locale: language.value || null } });
      if (mine !== asked) return;
      latest = result;
      ctx.emit("preview", result);
      draw();
    } catch (error) {
      if (mine !== asked) return;
      who.textContent = error.message;
    } finally {
      if (mine === asked) messages.classList.remove("is-loading");
    }
  }

  ctx.listen("check", (result) => {
    if (result.valid) refresh();
    else {
      asked += 1;
      messages.classList.remove("is-loading");
      who.textContent = t("preview.fix_first", { n: result.problems.length });
      fill(messages);
    }
  });
  language.addEventListener("change", refresh);
  variant.addEventListener("change", draw);
  step.addEventListener("change", () => {
    ctx.previewStep = step.value;
    draw();
  });
  return card(
    t("preview.title"),
    el("div", { class: "mk-inline pv-controls" }, language, step, variant),
    who,
    messages,
  );
}

export function testSendSection(ctx) {
  const mine = ctx.identities;
  const options = mine.map((identity) => [
    identity.identity,
    `${identity.channels.length ? identity.channels.map(channelName).join(" / ") : t("test.no_channel", { kind: identity.kind })} · ${identity.address}`,
  ]);
  // The first identity the campaign can reach, else any this hub can send to.
  const preferred =
    mine.find((identity) => identity.channels.some((c) => ctx.draft.channels.includes(c))) ?? mine.find((identity) => identity.channels.length) ?? mine[0];
  const picker = select([...options, ["", t("test.other")]], preferred ? preferred.identity : "", { id: "test-identity", "aria-label": t("test.identity") });
  const other = input({ placeholder: "telegram:123456789", id: "test-other", "aria-label": t("test.other_identity"), class: "input mk-mono" });
  other.hidden = picker.value !== "";
  picker.addEventListener("change", () => {
    other.hidden = picker.value !== "";
  });
  const channel = select([], "", { "aria-label": t("test.channel"), id: "test-channel" });
  const drawChannels = () => {
    const current = channel.value;
    fill(channel, el("option", { value: "" }, t("test.first_fit")), ctx.draft.channels.map((c) => el("option", { value: c }, channelName(c))));
    channel.value = ctx.draft.channels.includes(current) ? current : "";
  };
  drawChannels();
  ctx.listen("channels", drawChannels);
  const result = el("p", { class: "mk-sub", id: "test-result", role: "status" });
  const send = el("button", { type: "button", class: "btn", id: "test-send" }, t("test.send"));
  send.addEventListener("click", async () => {
    const identity = picker.value || other.value.trim();
    if (!identity) {
      result.textContent = t("test.need_identity");
      return;
    }
    send.disabled = true;
    result.textContent = "";
    try {
      const saved = await ctx.save({ quiet: true });
      if (!saved) return;
      // A journey sends the step the preview shows.
      const body = { identity, channel: channel.value || null, step: Array.isArray(ctx.draft.steps) ? ctx.previewStep || null : null };
      const sent = await api(`/api/v1/campaigns/${ctx.draft.id}/test`, { method: "POST", body });
      result.textContent = t("test.sent", { channel: channelName(sent.channel), account: sent.account });
    } catch (error) {
      result.textContent = error.message;
    } finally {
      send.disabled = false;
    }
  });
  const email = ctx.email ? t("test.hint", { email: ctx.email }) : t("test.hint_token");
  return card(
    t("test.title"),
    el("div", { class: "mk-stack-tight" }, picker, other, channel, send),
    result,
    el("p", { class: "mk-hint" }, email),
  );
}
