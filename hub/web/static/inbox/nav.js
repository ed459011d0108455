/*
 * The workspace's navigation bar: links to the pages this person's role may open (the server's list,
 * /api/v1/pages, so the bar and the pages' own permission checks never disagree), the current one
 * marked. Every workspace page (inbox, campaigns, reports, admin) mounts it in its top bar.
 */

import { api } from "./api.js";
import { t } from "./i18n.js";

export async function mountNav(container) {
  const pages = await api("/api/v1/pages");
  container.replaceChildren();
  container.setAttribute("aria-label", t("nav.label"));
  for (const page of pages) {
    const link = document.createElement("a");
    link.href = page.path;
    link.className = "nav-link";
    link.dataset.page = page.path;
    link.textContent = t(`nav${page.path.replace("/", ".")}`);
    if (location.pathname === page.path) link.setAttribute("aria-current", "page");
    container.append(link);
  }
  container.hidden = pages.length < 2;
}
