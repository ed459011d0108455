/*
 * Keyboard shortcuts for the common actions, and the help overlay that lists them (press ?).
 * Single keys act only when no text field has the focus, so typing is never taken over; Escape
 * leaves a text field (or the help) first.
 */

import { focusComposer } from "./composer.js";
import { $, el } from "./dom.js";
import { t } from "./i18n.js";
import { moveSelection, setView } from "./list.js";
import { state } from "./state.js";
import { assignToMe, handToBot, openSnooze, reopen, resolve } from "./thread.js";

const inThread = (action) => () => {
  if (state.currentId !== null) action();
};

function focusIfShown(id) {
  const node = $(id);
  if (node && node.offsetParent !== null) node.focus();
}

// key (as KeyboardEvent.key) -> [help text key, action]
const SHORTCUTS = [
  ["j", "keys.next", () => moveSelection(1)],
  ["k", "keys.previous", () => moveSelection(-1)],
  ["/", "keys.search", () => $("search").focus()],
  ["r", "keys.reply", inThread(() => focusComposer("reply"))],
  ["n", "keys.note", inThread(() => focusComposer("note"))],
  ["c", "keys.canned", inThread(() => $("canned-open").click())],
  ["a", "keys.assign", inThread(assignToMe)],
  ["s", "keys.snooze", inThread(openSnooze)],
  ["e", "keys.resolve", inThread(resolve)],
  ["E", "keys.reopen", inThread(reopen)],
  ["b", "keys.bot", inThread(handToBot)],
  ["l", "keys.label", inThread(() => focusIfShown("label-input"))],
  ["p", "keys.priority", inThread(() => focusIfShown("priority"))],
  ["1", "keys.view_all", () => setView("all")],
  ["2", "keys.view_mine", () => setView("mine")],
  ["3", "keys.view_unassigned", () => setView("unassigned")],
  ["4", "keys.view_team", () => setView("team")],
  ["?", "keys.help", () => openHelp()],
];

const KEY_NAMES = { E: "Shift + E", "/": "/", "?": "?" };

function renderHelp() {
  $("help-keys").replaceChildren(
    ...SHORTCUTS.flatMap(([key, text]) => [el("dt", {}, el("kbd", {}, KEY_NAMES[key] || key)), el("dd", {}, t(text))]),
    el("dt", {}, el("kbd", {}, "Enter")),
    el("dd", {}, t("keys.send")),
    el("dt", {}, el("kbd", {}, "Esc")),
    el("dd", {}, t("keys.escape")),
  );
}

let returnFocus = null;

export function openHelp() {
  renderHelp();
  returnFocus = document.activeElement;
  $("help").hidden = false;
  $("help-close").focus();
}

function closeHelp() {
  $("help").hidden = true;
  if (returnFocus && returnFocus.focus) returnFocus.focus();
}

function typingIn(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (event.key === "Escape") {
    if (!$("help").hidden) closeHelp();
    else if (typingIn(event.target)) event.target.blur();
    else if (document.body.dataset.view === "thread") document.body.dataset.view = "list";
    return;
  }
  if (!$("help").hidden) {
    if (event.key === "Tab") {
      event.preventDefault(); // keep the focus in the dialog
      $("help-close").focus();
    }
    return;
  }
  if (typingIn(event.target)) return;
  const found = SHORTCUTS.find(([key]) => key === event.key);
  if (!found) return;
  event.preventDefault();
  found[2]();
}

export function wireShortcuts() {
  document.addEventListener("keydown", onKey);
  $("help-open").addEventListener("click", openHelp);
  $("help-close").addEventListener("click", closeHelp);
  $("help").addEventListener("click", (event) => {
    if (event.target === $("help")) closeHelp();
  });
}
