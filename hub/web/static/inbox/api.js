/* The REST API (/api/v1): errors carry the server's own sentence; a lost session goes to sign-in. */

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let offline = "The server cannot be reached. Check your connection.";
let expired = "Your session has ended; please sign in again.";

/** The two messages the client itself writes, in the agent's language (i18n sets them). */
export function setClientMessages(messages) {
  offline = messages.offline;
  expired = messages.expired;
}

export async function api(path, { method = "GET", body, headers = {}, form } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      body: form !== undefined ? form : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, offline);
  }
  if (response.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.hash)}`);
    throw new ApiError(401, expired);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data && data.error;
    throw new ApiError(
      response.status,
      (error && error.message) || `Request failed (HTTP ${response.status}).`,
      error && error.code,
    );
  }
  return data;
}

/** A random key for Idempotency-Key (crypto.randomUUID needs https; the demo runs on plain http). */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "" && value !== false) search.set(key, String(value));
  }
  return search.toString();
}
