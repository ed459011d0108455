/*
 * The inbox in the agent's language (their preference, /api/v1/workspace/me): English or Spanish.
 * Texts live in locales/<lang>.json under the same keys (a test checks both files have every key the
 * code uses). Static markup names its key in data-i18n (text), data-i18n-placeholder, -label, -title.
 */

import { setClientMessages } from "./api.js";

export const LANGUAGES = ["en", "es"];
let texts = {};
let fallback = {};
let language = "en";
// Folders of <lang>.json files, merged in order: the inbox's (shared words: roles, times, errors,
// navigation) and each other page's own (campaigns, reports, admin add theirs with addTexts).
const folders = ["/static/inbox/locales"];

export function addTexts(folder) {
  if (!folders.includes(folder)) folders.push(folder);
}

async function load(lang) {
  const parts = await Promise.all(
    folders.map(async (folder) => {
      const response = await fetch(`${folder}/${lang}.json`);
      if (!response.ok) throw new Error(`missing texts for ${lang} in ${folder}`);
      return response.json();
    }),
  );
  return Object.assign({}, ...parts);
}

export async function useLanguage(lang) {
  language = LANGUAGES.includes(lang) ? lang : "en";
  if (!Object.keys(fallback).length) fallback = await load("en");
  texts = language === "en" ? fallback : await load(language);
  document.documentElement.lang = language;
  setClientMessages({ offline: t("error.offline"), expired: t("error.expired") });
  translatePage(document);
}

export function currentLanguage() {
  return language;
}

/** The text for ``key`` with {name} placeholders filled; English if the language lacks it. */
export function t(key, values = {}) {
  const template = texts[key] ?? fallback[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** "1 message" / "3 messages": keys ending in _one and _other. */
export function plural(key, count, values = {}) {
  return t(`${key}_${count === 1 ? "one" : "other"}`, { n: count, ...values });
}

export function translatePage(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]"))
    node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-label]"))
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
}

function locale() {
  return language === "es" ? "es-ES" : "en-GB";
}

export function relativeTime(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (seconds < 45) return t("time.now");
  if (seconds < 3600) return t("time.minutes", { n: Math.round(seconds / 60) });
  if (seconds < 86400) return t("time.hours", { n: Math.floor(seconds / 3600) });
  if (seconds < 7 * 86400) return t("time.days", { n: Math.floor(seconds / 86400) });
  return new Date(iso).toLocaleDateString(locale(), { day: "numeric", month: "short" });
}

export function clockTime(iso) {
  const date = new Date(iso);
  const today = date.toDateString() === new Date().toDateString();
  return today
    ? date.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString(locale(), { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

export function fullTime(iso) {
  return new Date(iso).toLocaleString(locale());
}

export function money(amount) {
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount);
}

export function duration(seconds) {
  const minutes = Math.floor((seconds || 0) / 60);
  return t("time.duration", { m: minutes, s: String((seconds || 0) % 60).padStart(2, "0") });
}
