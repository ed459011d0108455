/*
 * What several views read from the server and what does not change while the page is open: the
 * segment builder's catalog (fields, comparisons, known tags and events), the hub's campaign options
 * (channel accounts, quiet hours, frequency cap) and who is signed in. Segments are read fresh each
 * time: a marketer saves one and picks it in the campaign editor a moment later.
 */

import { api } from "../inbox/api.js";

export const session = {
  me: null, // /api/v1/auth/me
  prefs: null, // /api/v1/workspace/me: locale, email
};

let catalogRequest = null;
let optionsRequest = null;

export function catalog() {
  catalogRequest ??= api("/api/v1/segments/catalog").catch((error) => {
    catalogRequest = null;
    throw error;
  });
  return catalogRequest;
}

/** Tags and event kinds grow as customers act; a saved segment may have used new ones. */
export function forgetCatalog() {
  catalogRequest = null;
}

export function campaignOptions() {
  optionsRequest ??= api("/api/v1/campaigns/options").catch((error) => {
    optionsRequest = null;
    throw error;
  });
  return optionsRequest;
}

export function segments() {
  return api("/api/v1/segments");
}

/** Whether something is already saved at ``path`` (saving a new one there would replace it). */
export async function taken(path) {
  try {
    await api(path);
    return true;
  } catch (error) {
    if (error.status === 404) return false;
    throw error;
  }
}
