/*
 * Reading and writing a campaign's content in place, in the shapes docs/campaigns.md allows:
 *
 *   content.default: "Hi!"                       one text for every language ("*" here)
 *   content.sms: {en: "Hi!", es: "¡Hola!"}       one text per language
 *   content.email: {subject: {...}, text: {...}} with a subject (or buttons on Telegram)
 *
 * A "holder" is the campaign definition or one of its variants (both keep a ``content``). Edits keep
 * the shape that was written where they can (a lone "*" text stays a plain string), drop what became
 * empty, and never touch keys they do not know.
 */

export const ANY_LANGUAGE = "*";
const isMapping = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const isStructured = (entry) => isMapping(entry) && "text" in entry;

export function readLocal(local, locale) {
  if (typeof local === "string") return locale === ANY_LANGUAGE ? local : "";
  return isMapping(local) && typeof local[locale] === "string" ? local[locale] : "";
}

/** ``local`` with ``locale`` set to ``value`` (removed when blank); undefined when nothing is left. */
export function writeLocal(local, locale, value) {
  const map = typeof local === "string" ? { [ANY_LANGUAGE]: local } : { ...(isMapping(local) ? local : {}) };
  if (value.trim()) map[locale] = value;
  else delete map[locale];
  const keys = Object.keys(map);
  if (!keys.length) return undefined;
  return keys.length === 1 && keys[0] === ANY_LANGUAGE ? map[ANY_LANGUAGE] : map;
}

/** Every language a text of the holders is written in. */
export function languagesOf(...holders) {
  const found = new Set();
  const add = (local) => {
    if (typeof local === "string") found.add(ANY_LANGUAGE);
    else if (isMapping(local)) for (const key of Object.keys(local)) found.add(key);
  };
  for (const holder of holders) {
    for (const entry of Object.values(holder?.content || {})) {
      if (isStructured(entry)) {
        add(entry.text);
        add(entry.subject);
        for (const button of Array.isArray(entry.buttons) ? entry.buttons : []) add(button?.title);
      } else {
        add(entry);
      }
    }
  }
  return [...found];
}

export function hasContent(holder, channel) {
  return holder.content !== undefined && isMapping(holder.content) && channel in holder.content;
}

export function entryText(holder, channel, locale) {
  const entry = holder.content?.[channel];
  return readLocal(isStructured(entry) ? entry.text : entry, locale);
}

export function entrySubject(holder, channel, locale) {
  const entry = holder.content?.[channel];
  return isStructured(entry) ? readLocal(entry.subject, locale) : "";
}

export function entryButtons(holder, channel) {
  const entry = holder.content?.[channel];
  return isStructured(entry) && Array.isArray(entry.buttons) ? entry.buttons : [];
}

/**
 * The channel's entry in its {text, subject, buttons} shape. A channel that had no text of its own
 * starts from a copy of the default text: an entry with a subject or buttons needs its own text,
 * and the one the marketer expects there is the one the channel was sending.
 */
function structured(holder, channel) {
  if (!isMapping(holder.content)) holder.content = {};
  const entry = holder.content[channel];
  if (!isStructured(entry)) {
    const inherited = channel !== "default" && holder.content.default !== undefined ? structuredClone(holder.content.default) : {};
    const text = entry !== undefined ? entry : isStructured(inherited) ? inherited.text : inherited;
    holder.content[channel] = { text };
  }
  return holder.content[channel];
}

function tidy(holder, channel) {
  const content = holder.content;
  if (!isMapping(content)) return;
  const entry = content[channel];
  if (isStructured(entry)) {
    const noText = !isMapping(entry.text) ? !entry.text : !Object.keys(entry.text).length;
    const onlyKnown = Object.keys(entry).every((key) => ["text", "subject", "buttons"].includes(key));
    if (noText && entry.subject === undefined && entry.buttons === undefined && onlyKnown) delete content[channel];
  }
  if (!Object.keys(content).length) delete holder.content;
}

export function setEntryText(holder, channel, locale, value) {
  const entry = holder.content?.[channel];
  if (isStructured(entry)) {
    entry.text = writeLocal(entry.text, locale, value) ?? {};
  } else {
    const text = writeLocal(entry, locale, value);
    if (text !== undefined) {
      if (!isMapping(holder.content)) holder.content = {};
      holder.content[channel] = text;
    } else if (isMapping(holder.content)) {
      delete holder.content[channel];
    }
  }
  tidy(holder, channel);
}

export function setEntrySubject(holder, channel, locale, value) {
  const entry = structured(holder, channel);
  const subject = writeLocal(entry.subject, locale, value);
  if (subject === undefined) delete entry.subject;
  else entry.subject = subject;
  tidy(holder, channel);
}

export function setEntryButtons(holder, channel, buttons) {
  const entry = structured(holder, channel);
  if (buttons.length) entry.buttons = buttons;
  else delete entry.buttons;
  tidy(holder, channel);
}
