// The operator's identity (name, colour, logo, RGAA level declared) and the legal pages'
// texts, on the admin console. The server checks everything again: what is typed here
// is shown to citizens, so it is stored as plain text and escaped on every page.
import { api, ApiError } from "./api.js";
import { fieldErrors, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["name", "colour", "logo_alt", "accessibility_status"];
let toLogin = () => {};
let legal = null;

function say(text, error = false) {
  $("site-status").textContent = text;
  $("site-status").classList.toggle("error", error);
}

function showErrors(prefix, fields, err) {
  const messages = err instanceof ApiError ? fieldErrors(err.body) : {};
  for (const field of fields) {
    const input = $(`${prefix}-${field}`);
    const message = messages[field] || "";
    $(`${prefix}-${field}-error`).textContent = message;
    if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  }
  const first = fields.find((field) => messages[field]);
  if (first) $(`${prefix}-${first}`)?.focus();
  return Boolean(first);
}

function failed(err, prefix, fields) {
  if (err instanceof ApiError && err.status === 401) return toLogin();
  if (!showErrors(prefix, fields, err)) say(t("common.error"), true);
  return undefined;
}

function showIdentity(site) {
  $("site-name").value = site.name;
  $("site-colour").value = site.colour;
  $("site-logo_alt").value = site.logo_alt === site.name ? "" : site.logo_alt;
  $("site-accessibility_status").value = site.accessibility_status;
  $("logo-figure").hidden = !site.logo_url;
  $("logo-none").hidden = Boolean(site.logo_url);
  if (site.logo_url) {
    $("logo-preview").src = site.logo_url;
    $("logo-preview").alt = site.logo_alt;
  }
}

async function saveIdentity(event) {
  event.preventDefault();
  const body = {};
  for (const field of FIELDS) body[field] = $(`site-${field}`).value.trim() || null;
  try {
    showIdentity(await api("/admin/site", { method: "PUT", body }));
    showErrors("site", FIELDS, null);
    say(t("site.admin.saved"));
  } catch (err) { failed(err, "site", FIELDS); }
}

async function sendLogo(event) {
  event.preventDefault();
  const file = $("site-logo").files[0];
  if (!file) {
    showErrors("site", ["logo"], new ApiError(422, { fields: { logo: t("field.required") } }));
    return;
  }
  const headers = { Accept: "application/json", "Content-Type": "application/octet-stream" };
  let csrf = null;
  try { csrf = sessionStorage.getItem("csrf_token"); } catch { /* private mode */ }
  if (csrf) headers["X-CSRF-Token"] = csrf;
  try {
    const response = await fetch("/api/admin/site/logo", { method: "PUT", headers, body: file, credentials: "same-origin" });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data);
    showIdentity(data);
    showErrors("site", ["logo"], null);
    $("site-logo").value = "";
    say(t("site.admin.saved"));
  } catch (err) { failed(err, "site", ["logo"]); }
}

async function removeLogo() {
  try {
    showIdentity(await api("/admin/site/logo", { method: "DELETE" }));
    say(t("site.admin.saved"));
  } catch (err) { failed(err, "site", ["logo"]); }
}

function showLegal(page) {
  legal = page;
  $("legal-text").value = page.text;
  $("legal-view").href = page.url;
  $("legal-state").textContent = t(page.customised ? "site.admin.legal.custom" : "site.admin.legal.default");
}

// While a page's text loads or saves, the text area is read-only: what the server
// answers replaces its content, so text typed meanwhile would be lost (or the text
// loaded for the previous choice saved under the new one). Only the newest request's
// answer is shown.
let legalRequests = 0;

function legalBusy(busy) {
  $("legal-form").setAttribute("aria-busy", String(busy));
  $("legal-text").readOnly = busy;
  for (const button of $("legal-form").querySelectorAll("button")) button.disabled = busy;
}

async function legalRequest(init) {
  const ticket = ++legalRequests;
  legalBusy(true);
  try {
    const page = await api(`/admin/legal/${$("legal-page").value}`, init);
    if (ticket !== legalRequests) return false;
    showLegal(page);
    return true;
  } finally {
    if (ticket === legalRequests) legalBusy(false);
  }
}

async function loadLegal() {
  try { await legalRequest(); } catch (err) { failed(err, "legal", ["text"]); }
}

async function saveLegal(text) {
  try {
    if (!(await legalRequest({ method: "PUT", body: { text } }))) return;
    showErrors("legal", ["text"], null);
    say(t("site.admin.saved"));
  } catch (err) { failed(err, "legal", ["text"]); }
}

export function rerenderSite() { if (legal) showLegal(legal); }

export async function setupSite(onSignedOut) {
  toLogin = onSignedOut;
  $("site-form").addEventListener("submit", saveIdentity);
  $("logo-form").addEventListener("submit", sendLogo);
  $("logo-remove").addEventListener("click", removeLogo);
  $("legal-page").addEventListener("change", loadLegal);
  $("legal-form").addEventListener("submit", (event) => { event.preventDefault(); saveLegal($("legal-text").value); });
  $("legal-reset").addEventListener("click", () => saveLegal(null));
  try { showIdentity(await api("/site")); } catch (err) { failed(err, "site", FIELDS); }
  await loadLegal();
}
