// JSON calls to the booking API under /api; unsafe requests carry the CSRF token.
let csrfToken = null;
try { csrfToken = sessionStorage.getItem("csrf_token"); } catch { /* private mode */ }

export function setCsrfToken(token) {
  csrfToken = token;
  try { token ? sessionStorage.setItem("csrf_token", token) : sessionStorage.removeItem("csrf_token"); } catch { /* ignore */ }
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(`/api${path}`, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const text = await response.text();
  if (text) { try { data = JSON.parse(text); } catch { data = { error: text }; } }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** YYYY-MM-DD of a Date in local time. */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
