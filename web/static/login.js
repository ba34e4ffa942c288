// Agent / partner / admin sign-in; goes back to the page that sent here (?next=).
import { api, ApiError, setCsrfToken } from "./api.js";
import { applyI18n, setupLanguageSwitch, t } from "./i18n.js";

/** Which console the sign-in leads to, said in the heading and the tab's title. */
const CONSOLE_TITLES = { "/agent": "login.title", "/partner": "login.title.partner", "/admin": "login.title.admin" };

function nameTheConsole() {
  const next = sameOriginPath(new URLSearchParams(location.search).get("next"));
  const path = next ? new URL(next, location.origin).pathname : "";
  const key = CONSOLE_TITLES[path] || "login.title.any";
  const heading = document.querySelector("h1");
  heading.dataset.i18n = key;
  applyI18n();
  document.title = `${t(key)} — ${t("site.name")}`;
}

setupLanguageSwitch(nameTheConsole);
nameTheConsole();
const form = document.getElementById("login-form");
const alert = document.getElementById("alert");
// Enabled only now, so a sign-in can never fall back to a plain GET form submission.
form.querySelector("button[type=submit]").disabled = false;

/**
 * Where ?next= may send the user: a path on this origin only. Prefix checks on the raw
 * text miss what the URL parser later does ("/\\host", "/%09/host", tabs, backslashes),
 * so the URL is parsed as the browser will and its origin compared.
 */
function sameOriginPath(next) {
  if (!next) return null;
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return null;
  }
  // "/.//host" parses to the path "//host", which assign() would read as another host.
  if (url.origin !== location.origin || url.pathname.startsWith("//")) return null;
  return url.pathname + url.search + url.hash;
}

function nextPage(role) {
  const next = sameOriginPath(new URLSearchParams(location.search).get("next"));
  if (next) return next;
  return role === "admin" ? "/admin" : role === "partner" ? "/partner" : "/agent";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  alert.textContent = "";
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const data = await api("/auth/login", { method: "POST", body: { email: form.email.value.trim(), password: form.password.value } });
    setCsrfToken(data.csrf_token);
    location.assign(nextPage(data.user?.role));
  } catch (err) {
    alert.textContent = err instanceof ApiError && (err.status === 401 || err.status === 422 || err.status === 400) ? t("login.bad") : t("common.error");
    form.password.focus();
  } finally {
    button.disabled = false;
  }
});
