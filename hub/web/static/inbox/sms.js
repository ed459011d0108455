/*
 * SMS segments as the agent types: the same rules as inbox/reply_limits.py (the reference; tests
 * hold both to the same cases). 160 GSM-7 characters in one segment, 153 per part of a longer text;
 * one character outside GSM-7 makes it UCS-2 at 70 / 67 UTF-16 units; extension characters cost two
 * and nothing is split across parts.
 */

const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM7_EXTENSION = new Set("\f^{}\\[~]|€");

export function smsSegments(text) {
  const chars = Array.from(text); // code points, like Python's str
  const gsm7 = chars.every((char) => GSM7_BASIC.has(char) || GSM7_EXTENSION.has(char));
  const [single, part] = gsm7 ? [160, 153] : [70, 67];
  const costs = chars.map((char) => (gsm7 ? (GSM7_EXTENSION.has(char) ? 2 : 1) : char.codePointAt(0) > 0xffff ? 2 : 1));
  const units = costs.reduce((sum, cost) => sum + cost, 0);
  const encoding = gsm7 ? "GSM-7" : "UCS-2";
  if (units === 0) return { encoding, segments: 0, units, perSegment: single };
  if (units <= single) return { encoding, segments: 1, units, perSegment: single };
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > part) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return { encoding, segments, units, perSegment: part };
}
