/* How channels, statuses and timeline entries are named on screen. */

import { el } from "./dom.js";
import { t } from "./i18n.js";

export const CHANNEL_TYPES = ["webchat", "telegram", "viber", "whatsapp", "sms", "email", "voice", "telephony", "api"];

export function channelName(type) {
  return CHANNEL_TYPES.includes(type) ? t(`channel.${type}`) : type;
}

export function channelBadge(type) {
  return el("span", { class: "chip chip--channel", dataset: { channel: type } }, channelName(type));
}

export function statusChip(status) {
  return el("span", { class: "chip chip--status", dataset: { status } }, t(`status.${status}`));
}
