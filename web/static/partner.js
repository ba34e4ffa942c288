// Partner point console: book for a consenting citizen, or ask for an immediate call.
import { api, ApiError, isoDay, setCsrfToken } from "./api.js";
import { applyI18n, fieldErrors, locale, setupLanguageSwitch, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const MAX_POLLS = 900;
let motifs = [];

function toLogin() { location.assign(`/agent/login?next=${encodeURIComponent(location.pathname)}`); }

function setError(field, message) {
  const error = $(`${field}-error`);
  const input = $(field === "motif_id" ? "motif" : field);
  if (!error) return false;
  error.textContent = message || "";
  if (input) { if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid"); }
  return true;
}

function readForm() {
  for (const f of ["motif_id", "name", "email", "phone", "consent"]) setError(f, "");
  $("alert").textContent = "";
  const citizen = { name: $("name").value.trim() };
  if ($("email").value.trim()) citizen.email = $("email").value.trim();
  if ($("phone").value.trim()) citizen.phone = $("phone").value.trim();
  const problems = [];
  if (!citizen.name) problems.push(["name", t("book.contact.name.need")]);
  if (!$("consent").checked) problems.push(["consent", t("partner.consent.need")]);
  for (const [f, m] of problems) setError(f, m);
  if (problems.length) {
    $(problems[0][0]).focus();
    return null;
  }
  return { motif_id: $("motif").value, citizen, consent: true };
}

function showServerErrors(err) {
  if (err instanceof ApiError && err.status === 401) return toLogin();
  const fields = err instanceof ApiError && err.body.fields ? fieldErrors(err.body) : null;
  let shown = false;
  for (const [path, message] of Object.entries(fields || {})) shown = setError(path.replace(/^citizen\./, ""), message) || shown;
  $("alert").textContent = shown ? t("book.fix") : err instanceof ApiError && err.status === 409 ? t("book.taken") : t("common.error");
  return undefined;
}

/** The outcome for this citizen, at the top of the page and scrolled to (its link is
 * what the point opens next); the form is emptied for the next citizen. */
function showResult(title, text, linkText, href) {
  $("status").textContent = "";
  clearForm();
  $("h-result").textContent = title;
  $("result-text").textContent = text;
  $("result-link").textContent = linkText;
  $("result-link").href = href;
  $("result").hidden = false;
  $("result").scrollIntoView({ block: "start" });
  $("h-result").focus({ preventScroll: true });
}

/** A new citizen: no name, contact or consent of the previous one is kept. */
function clearForm() {
  for (const id of ["name", "email", "phone"]) $(id).value = "";
  $("consent").checked = false;
  for (const f of ["motif_id", "name", "email", "phone", "consent"]) setError(f, "");
}

/** What was shown for the previous citizen goes when the next request starts. */
function startRequest() {
  $("result").hidden = true;
  $("status").textContent = "";
}

let waitingToken = null; // the instant-call request this page is waiting on

async function callNow() {
  const body = readForm();
  if (!body) return;
  startRequest();
  let status;
  try {
    status = await api("/queue", { method: "POST", body });
  } catch (err) { return showServerErrors(err); }
  const token = status.wait_token;
  waitingToken = token;
  $("waiting-actions").hidden = false;
  try {
    for (let i = 0; i < MAX_POLLS; i += 1) {
      if (status.join_url) {
        showResult(t("partner.ready"), "", t("partner.join"), status.join_url);
        return undefined;
      }
      if (status.status === "left" || waitingToken !== token) {
        $("status").textContent = t("partner.cancelled");
        return undefined;
      }
      $("status").textContent = t("partner.waiting", { n: status.position ?? "?" });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (waitingToken !== token) continue;
      try { status = await api(`/queue/${encodeURIComponent(token)}`); } catch { /* keep polling */ }
    }
    $("status").textContent = t("common.error");
    return undefined;
  } finally {
    if (waitingToken === token) waitingToken = null;
    $("waiting-actions").hidden = true;
  }
}

/** The citizen left, or the partner asks another way: the request leaves the queue. */
async function cancelWait() {
  const token = waitingToken;
  if (!token) return;
  waitingToken = null;
  try { await api(`/queue/${encodeURIComponent(token)}/leave`, { method: "POST", body: {} }); } catch { /* already taken or gone */ }
}

async function showSlots() {
  if (!readForm()) return;
  startRequest();
  const from = new Date();
  const to = new Date();
  to.setDate(to.getDate() + 13);
  let slots = [];
  try {
    slots = (await api(`/motifs/${encodeURIComponent($("motif").value)}/slots?from=${isoDay(from)}&to=${isoDay(to)}`)).slots || [];
  } catch (err) { return showServerErrors(err); }
  $("slots").replaceChildren(...slots.slice(0, 40).map((slot) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = new Date(slot.start).toLocaleString(locale(), { weekday: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    b.addEventListener("click", () => book(slot));
    li.append(b);
    return li;
  }));
  $("slots-section").hidden = false;
  $("h-slots").focus();
  return undefined;
}

async function book(slot) {
  const body = readForm();
  if (!body) return undefined;
  body.start = slot.start;
  if (slot.agent_id) body.agent_id = slot.agent_id;
  try {
    const booking = await api("/partner/bookings", { method: "POST", body });
    $("slots-section").hidden = true;
    const when = new Date(booking.start).toLocaleString(locale(), { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
    showResult(t("book.done.h"), when, t("book.done.join"), booking.join_url);
    $("day-date").value = booking.start.slice(0, 10);
    showDay();
  } catch (err) { return showServerErrors(err); }
  return undefined;
}

/** The day's bookings made at this point; each open one has the link the point opens for the citizen. */
async function showDay() {
  const day = $("day-date").value || isoDay(new Date());
  let bookings = [];
  try {
    bookings = (await api(`/partner/bookings?date=${encodeURIComponent(day)}`)).bookings || [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("alert").textContent = t("common.error");
    return undefined;
  }
  $("day-caption").textContent = new Date(`${day}T12:00:00`).toLocaleDateString(locale(), { weekday: "long", day: "numeric", month: "long" });
  $("day-rows").replaceChildren(...bookings.map((b) => {
    const tr = document.createElement("tr");
    const cells = [
      new Date(b.start).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" }),
      b.citizen?.name || "",
      b.motif?.label || "",
      t(`status.${b.status}`),
    ].map((text) => { const td = document.createElement("td"); td.textContent = text; return td; });
    const action = document.createElement("td");
    if (b.join_url) {
      const a = document.createElement("a");
      a.className = "button secondary";
      a.href = b.join_url;
      a.textContent = t("partner.join");
      a.setAttribute("aria-label", `${t("partner.join")} — ${b.citizen?.name || ""}`);
      action.append(a);
    }
    tr.append(...cells, action);
    return tr;
  }));
  $("day-table").hidden = bookings.length === 0;
  $("day-none").hidden = bookings.length > 0;
  return undefined;
}

async function init() {
  setupLanguageSwitch(() => showDay());
  $("logout").addEventListener("click", async () => {
    try { await api("/auth/logout", { method: "POST", body: {} }); } catch { /* signed out anyway */ }
    setCsrfToken(null);
    toLogin();
  });
  try {
    const me = await api("/auth/me");
    if (me.csrf_token) setCsrfToken(me.csrf_token);
    // An agent or an administrator has a console of their own, not this one.
    const role = me.user?.role;
    if (role && role !== "partner") {
      location.replace(role === "admin" ? "/admin" : "/agent");
      return undefined;
    }
    $("who").textContent = me.user?.name || "";
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
  }
  try {
    const services = await api("/services");
    motifs = services.flatMap((s) => s.motifs.filter((m) => m.video).map((m) => ({ ...m, service: s.name })));
  } catch { $("alert").textContent = t("common.error"); }
  $("motif").replaceChildren(...motifs.map((m) => {
    const option = document.createElement("option");
    option.value = m.id;
    option.textContent = `${m.label} (${m.service})`;
    return option;
  }));
  $("day-date").value = isoDay(new Date());
  $("day-date").addEventListener("change", showDay);
  showDay();
  $("now").addEventListener("click", callNow);
  $("cancel-wait").addEventListener("click", cancelWait);
  $("later").addEventListener("click", showSlots);
  $("now").disabled = false;
  $("later").disabled = false;
  applyI18n();
  return undefined;
}

init();
