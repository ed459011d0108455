/*
 * What the campaign says: a default message and, per channel, its own text (an email subject,
 * Telegram buttons), in each language; and the A/B variants with their split and their own message.
 * Texts are templates ({{ name }}, {{ link('https://…') }}): the preview beside the editor shows them
 * rendered for a real customer.
 */

import { el, fill } from "../inbox/dom.js";
import { t } from "../inbox/i18n.js";
import { smsSegments } from "../inbox/sms.js";
import {
  ANY_LANGUAGE,
  entryButtons,
  entrySubject,
  entryText,
  hasContent,
  languagesOf,
  readLocal,
  setEntryButtons,
  setEntrySubject,
  setEntryText,
  writeLocal,
} from "./content-model.js";
import { channelName, input, pathCard, problemLine } from "./ui.js";

const BUTTON_CHANNELS = ["telegram", "viber", "webchat"];

export function languageName(code) {
  if (code === ANY_LANGUAGE) return t("editor.any_language");
  try {
    const name = new Intl.DisplayNames([code], { type: "language" }).of(code);
    return name ? name.charAt(0).toUpperCase() + name.slice(1) : code;
  } catch {
    return code;
  }
}

function textArea(value, label, onInput, props = {}) {
  const area = el("textarea", { class: "input mk-text", rows: "4", "aria-label": label, ...props });
  area.value = value;
  area.addEventListener("input", () => onInput(area.value));
  return area;
}

function buttonsEditor(ctx, channel, locale, onStructure) {
  const { draft } = ctx;
  const list = el("ul", { class: "mk-buttons-edit" });
  const draw = () => {
    const buttons = entryButtons(draft, channel);
    fill(
      list,
      buttons.map((button, index) => {
        const title = input({
          value: readLocal(button.title, locale),
          "aria-label": t("editor.button_title", { n: index + 1 }),
          placeholder: t("editor.button_title_hint"),
        });
        title.addEventListener("input", () => {
          button.title = writeLocal(button.title, locale, title.value) ?? {};
          ctx.changed();
        });
        const target = "payload" in button ? "payload" : "url";
        const link = input({
          value: button[target] ?? "",
          "aria-label": t(`editor.button_${target}`, { n: index + 1 }),
          placeholder: target === "url" ? "https://shop.example/spring" : "PAYLOAD",
          class: "input mk-mono",
        });
        link.addEventListener("input", () => {
          button[target] = link.value.trim();
          ctx.changed();
        });
        return el(
          "li",
          { class: "mk-button-edit" },
          title,
          link,
          el("button", { type: "button", class: "btn btn-ghost btn-icon", "aria-label": t("editor.button_remove", { n: index + 1 }), onclick: () => {
            setEntryButtons(draft, channel, buttons.filter((_, i) => i !== index));
            draw();
            ctx.changed();
          } }, "×"),
        );
      }),
    );
  };
  draw();
  const addButton = el("button", { type: "button", class: "btn btn-small", onclick: () => {
    setEntryButtons(draft, channel, [...entryButtons(draft, channel), { title: {}, url: "" }]);
    draw();
    onStructure();
    ctx.changed();
  } }, `+ ${t("editor.button_add")}`);
  return el(
    "div",
    { class: "mk-field mk-field--wide", dataset: { path: `content.${channel}.buttons` } },
    el("span", { class: "mk-label" }, t("editor.buttons")),
    list,
    addButton,
    problemLine(),
  );
}

function panel(ctx, channel, locale) {
  const { draft } = ctx;
  const parts = [];
  if (channel === "email") {
    const subject = input({ value: entrySubject(draft, "email", locale), placeholder: t("editor.subject_hint"), "aria-label": t("editor.subject") });
    subject.addEventListener("input", () => {
      setEntrySubject(draft, "email", locale, subject.value);
      showOwnText();
      ctx.changed();
      ctx.emit("content");
    });
    subject.id = "email-subject";
    parts.push(
      el(
        "div",
        { class: "mk-field mk-field--wide", dataset: { path: "content.email.subject" } },
        el("label", { class: "mk-label", for: "email-subject" }, t("editor.subject")),
        subject,
        problemLine(),
      ),
    );
  }
  const counter = el("p", { class: "mk-hint", id: "sms-count" });
  const count = (text) => {
    const found = smsSegments(text);
    counter.textContent = text ? t("editor.sms_count", { n: found.units, segments: found.segments, encoding: found.encoding }) : "";
  };
  const fallback = channel === "default" ? "" : entryText(draft, "default", locale);
  const where = { channel: channel === "default" ? t("editor.default_content") : channelName(channel), language: languageName(locale) };
  const area = textArea(entryText(draft, channel, locale), t("editor.message_in", where), (value) => {
    setEntryText(draft, channel, locale, value);
    if (channel === "sms") count(value);
    ctx.changed();
    ctx.emit("content");
  }, { placeholder: channel === "default" ? t("editor.message_hint") : fallback || t("editor.uses_default"), id: "message-text" });
  parts.push(
    el(
      "div",
      { class: "mk-field mk-field--wide", dataset: { path: channel === "default" ? "content.default" : `content.${channel}.text` } },
      el("label", { class: "mk-label", for: "message-text" }, t("editor.message")),
      area,
      channel === "sms" ? counter : null,
      el("p", { class: "mk-hint" }, channel === "default" ? t("editor.template_hint") : t("editor.channel_text_hint")),
      problemLine(),
    ),
  );
  if (channel === "sms") count(area.value || fallback);
  // A subject or a button gives the channel its own copy of the default text: show it.
  function showOwnText() {
    if (!area.value) area.value = entryText(draft, channel, locale);
  }
  if (BUTTON_CHANNELS.includes(channel)) parts.push(buttonsEditor(ctx, channel, locale, showOwnText));
  // The default text's own field claims content.default problems; a channel's panel claims its own.
  const path = channel === "default" ? undefined : `content.${channel}`;
  const dataset = { ...(path ? { path } : {}), channel, locale };
  return el("div", { class: "mk-content-panel", dataset }, ...parts, problemLine());
}

/** Whether the server found a problem in a channel's content (the tab gets a red dot). */
function troubles(problems, channel) {
  const path = `content.${channel}`;
  return problems.some((p) => p.path === path || p.path.startsWith(`${path}.`) || (channel === "default" && p.path === "content"));
}

export function contentSection(ctx) {
  const { draft } = ctx;
  let channel = "default";
  let locale = ctx.locales[0];
  const tabs = el("div", { class: "mk-tabs-inline", role: "tablist", "aria-label": t("editor.content_channels") });
  const languages = el("div", { class: "mk-langs", role: "group", "aria-label": t("editor.languages") });
  const body = el("div", { class: "mk-content-body" });
  let problems = [];

  function draw() {
    const channels = ["default", ...draft.channels.filter((c) => c !== "default")];
    if (!channels.includes(channel)) channel = "default";
    fill(
      tabs,
      channels.map((c) => {
        const own = c === "default" || hasContent(draft, c);
        const troubled = troubles(problems, c);
        return el(
          "button",
          {
            type: "button",
            role: "tab",
            class: `mk-tab-inline ${own ? "has-content" : ""} ${troubled ? "has-problem" : ""}`,
            "aria-selected": String(c === channel),
            dataset: { contentChannel: c },
            onclick: () => {
              channel = c;
              draw();
            },
          },
          c === "default" ? t("editor.default_content") : channelName(c),
        );
      }),
    );
    fill(
      languages,
      ctx.locales.map((code) =>
        el("button", { type: "button", class: "mk-lang", "aria-pressed": String(code === locale), dataset: { language: code }, onclick: () => {
          locale = code;
          draw();
        } }, languageName(code)),
      ),
      addLanguage(),
    );
    fill(body, panel(ctx, channel, locale));
    ctx.emit("content-drawn");
  }

  function addLanguage() {
    const code = input({ class: "input mk-lang-input", maxlength: "8", placeholder: t("editor.add_language"), "aria-label": t("editor.add_language") });
    code.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      const value = code.value.trim();
      if (/^[a-z]{2,3}(-[A-Za-z]{2,4})?$/.test(value) && !ctx.locales.includes(value)) {
        ctx.locales.push(value);
        locale = value;
        draw();
      }
    });
    return code;
  }

  ctx.listen("channels", draw);
  ctx.listen("check", (result) => {
    problems = result.problems;
    for (const tab of tabs.children) {
      tab.classList.toggle("has-problem", troubles(problems, tab.dataset.contentChannel));
    }
  });
  draw();
  return pathCard("content", t("editor.content"), tabs, languages, body);
}

export function variantsSection(ctx) {
  const { draft } = ctx;
  const body = el("div", {});

  function draw() {
    const variants = Array.isArray(draft.variants) ? draft.variants : null;
    if (!variants) {
      fill(
        body,
        el("p", { class: "mk-hint" }, t("editor.ab_off")),
        el("button", { type: "button", class: "btn btn-small", id: "add-variant-b", onclick: () => {
          draft.variants = [{ id: "a", weight: 50 }, { id: "b", weight: 50 }];
          draw();
          ctx.changed();
        } }, t("editor.ab_start")),
      );
      return;
    }
    const sum = variants.reduce((total, v) => total + (Number(v.weight) || 0), 0);
    fill(
      body,
      el("p", { class: "mk-hint" }, t("editor.ab_hint")),
      el(
        "ul",
        { class: "mk-variants" },
        variants.map((variant, index) => {
          const id = input({
            value: variant.id ?? "",
            maxlength: "64",
            class: "input mk-variant-id",
            "aria-label": t("editor.variant_id", { n: index + 1 }),
          });
          id.addEventListener("input", () => {
            variant.id = id.value.trim();
            ctx.changed();
          });
          const weight = input({
            type: "number",
            min: "1",
            max: "100",
            step: "1",
            value: variant.weight ?? "",
            class: "input input--number",
            "aria-label": t("editor.variant_weight", { name: variant.id }),
          });
          weight.addEventListener("input", () => {
            variant.weight = weight.value === "" ? 0 : Math.round(Number(weight.value));
            const now = variants.reduce((s, v) => s + (Number(v.weight) || 0), 0);
            total.textContent = t("editor.ab_total", { n: now });
            total.className = now === 100 ? "mk-sub" : "mk-warn";
            ctx.changed();
          });
          const remove = () => {
            variants.splice(index, 1);
            if (variants.length === 0) delete draft.variants;
            else if (variants.length === 1) variants[0].weight = 100;
            draw();
            ctx.changed();
          };
          // A variant's own text replaces the message on every channel ("default" of the variant).
          const messages = ctx.locales.map((code) => {
            const label = t("editor.variant_message", { name: variant.id, language: languageName(code) });
            const write = (value) => {
              setEntryText(variant, "default", code, value);
              ctx.changed();
            };
            return textArea(entryText(variant, "default", code), label, write, {
              rows: "2",
              placeholder: `${languageName(code)} · ${t("editor.variant_same")}`,
            });
          });
          const overrides = Object.keys(variant.content || {}).filter((key) => key !== "default");
          return el(
            "li",
            { class: "mk-variant", dataset: { variant: String(index) } },
            el(
              "div",
              { class: "mk-variant-head" },
              id,
              el("span", { class: "mk-inline" }, weight, "%"),
              el("button", { type: "button", class: "btn btn-ghost btn-small", onclick: remove }, t("editor.variant_remove")),
            ),
            messages,
            overrides.length
              ? el("p", { class: "mk-sub" }, t("editor.variant_overrides", { channels: overrides.map(channelName).join(", ") }))
              : null,
          );
        }),
      ),
      el(
        "div",
        { class: "mk-inline" },
        el("button", { type: "button", class: "btn btn-small", onclick: () => {
          const used = new Set(variants.map((v) => v.id));
          const next = "abcdefghijklmnopqrstuvwxyz".split("").find((letter) => !used.has(letter)) ?? `v${variants.length + 1}`;
          variants.push({ id: next, weight: 0 });
          draw();
          ctx.changed();
        } }, `+ ${t("editor.variant_add")}`),
      ),
    );
    const total = el("p", { class: sum === 100 ? "mk-sub" : "mk-warn", id: "variant-total" }, t("editor.ab_total", { n: sum }));
    body.append(total);
  }
  draw();
  return pathCard("variants", t("editor.variants"), body);
}

/** The languages the editor offers: English and Spanish, and any other the definition uses. */
export function initialLanguages(draft) {
  const found = languagesOf(draft, ...(Array.isArray(draft.variants) ? draft.variants : []));
  return [...new Set(["en", "es", ...found.filter((code) => code !== ANY_LANGUAGE), ...(found.includes(ANY_LANGUAGE) ? [ANY_LANGUAGE] : [])])];
}
