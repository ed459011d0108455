/*
 * Small DOM helpers shared by the inbox modules. All text from customers and colleagues goes into
 * the page as text nodes (el's string children), never as HTML.
 */

export const $ = (id) => document.getElementById(id);

/** Build an element; string children become text nodes. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Replace a node's children, leaving out the null / false placeholders of optional parts
 * (replaceChildren itself would show them as the text "null"). */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

export function toast(message, kind = "error", action = null) {
  const node = el(
    "div",
    { class: `toast toast--${kind}`, role: kind === "error" ? "alert" : "status" },
    el("span", {}, message),
    action ? el("button", { type: "button", class: "btn btn-small", onclick: () => { node.remove(); action.run(); } }, action.label) : null,
  );
  $("toasts").append(node);
  setTimeout(() => node.remove(), action ? 9000 : 6000);
  return node;
}

/** Run an action from a button, showing what went wrong instead of failing silently. */
export async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    toast(error.message);
    return undefined;
  }
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function initials(name) {
  const parts = (name || "?").trim().split(/\s+/);
  return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

/** A stable colour per person, so the same customer always gets the same avatar. */
export function hue(seed) {
  let hash = 0;
  for (const ch of String(seed)) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return Math.abs(hash) % 360;
}

export function avatar(name, seed, size = "") {
  return el("span", { class: `avatar ${size}`, style: `--hue: ${hue(seed)}`, "aria-hidden": "true" }, initials(name));
}

/** Milliseconds since the epoch: ISO strings from the API don't compare reliably as text
 * ("…:05Z" vs "…:05.5Z"), numbers do. */
export const ms = (iso) => Date.parse(iso);

/** Only web links and our own paths become links (never javascript: or data: from a provider). */
export function safeUrl(url) {
  return typeof url === "string" && (/^https?:\/\//i.test(url) || /^\/(?!\/)/.test(url));
}

/** Close a popover when the agent clicks elsewhere or presses Escape. */
export function dismissable(popover, onClose) {
  const outside = (event) => {
    if (!popover.contains(event.target)) close();
  };
  const escape = (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      close();
    }
  };
  function close() {
    document.removeEventListener("mousedown", outside, true);
    popover.removeEventListener("keydown", escape);
    onClose();
  }
  setTimeout(() => document.addEventListener("mousedown", outside, true));
  popover.addEventListener("keydown", escape);
  return close;
}
