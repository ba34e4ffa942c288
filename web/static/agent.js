// Agent console: the day's agenda, open the call, record the outcome, move an appointment
// (agent.reschedule.js), the instant queue, and the agent's own availability and absences.
import { api, ApiError, isoDay, setCsrfToken } from "./api.js";
import { rerenderAvailability, setupAvailability } from "./agent.availability.js";
import { moveButton, rerenderReschedule, setupReschedule } from "./agent.reschedule.js";
import { applyI18n, locale, setupLanguageSwitch, t } from "./i18n.js";
import { inviteForm, tr as inviteText } from "./call.guests.js";
import { callbackMark, chatButton, renderCallbacks, setupCallbacks } from "./agent.followup.js";

const $ = (id) => document.getElementById(id);
let bookings = [];

function toLogin() { location.assign(`/agent/login?next=${encodeURIComponent(location.pathname)}`); }

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
}

function button(label, onClick, secondary = true) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick);
  return b;
}

function citizenName(booking) { return booking.citizen?.name || booking.citizen_name || ""; }

function render() {
  const rows = bookings.map((booking) => {
    const tr = document.createElement("tr");
    const when = new Date(booking.start).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
    const actions = document.createElement("div");
    actions.className = "actions";
    const who = citizenName(booking);
    const open = button(t("agent.open"), () => openCall(booking), false);
    open.setAttribute("aria-label", `${t("agent.open")} — ${who} ${when}`);
    const done = button(t("agent.done"), () => outcome(booking, "done"));
    done.setAttribute("aria-label", `${t("agent.done")} — ${who} ${when}`);
    const noShow = button(t("agent.noshow"), () => outcome(booking, "no-show"));
    noShow.setAttribute("aria-label", `${t("agent.noshow")} — ${who} ${when}`);
    const cancel = button(t("agent.cancel"), () => cancelBooking(booking, who, when));
    cancel.setAttribute("aria-label", `${t("agent.cancel")} — ${who} ${when}`);
    if (booking.status === "pending") {
      const accept = button(t("agent.confirm"), () => confirmRequest(booking), false);
      accept.setAttribute("aria-label", `${t("agent.confirm")} — ${who} ${when}`);
      actions.append(accept);
      if (new Date(booking.start) > new Date()) actions.append(moveButton(booking, who, when));
      actions.append(cancel);
    } else if (booking.status !== "cancelled") {  // a cancelled appointment has nothing left to do
      actions.append(open, done, noShow, chatButton(booking, who, when));
      if (booking.status === "booked" && new Date(booking.start) > new Date()) actions.append(moveButton(booking, who, when));
      if (booking.status === "booked") actions.append(inviteButton(booking, who, when), cancel);
    }
    const person = document.createElement("div");
    person.append(who);
    const mark = callbackMark(booking);
    if (mark) person.append(mark);
    tr.append(cell(when), cell(person), cell(booking.motif?.label || booking.motif_label || ""), cell(booking.status ? t(`status.${booking.status}`) : ""), cell(actions));
    tr.dataset.bookingId = booking.id;
    return tr;
  });
  $("rows").replaceChildren(...rows);
  $("empty").hidden = bookings.length > 0;
  $("agenda").hidden = bookings.length === 0;
}

/** "Inviter une personne": a guest link for an interpreter, a colleague or a relative. */
function inviteButton(booking, who, when) {
  const invite = button(inviteText("open"), () => openInvite(booking, invite));
  invite.setAttribute("aria-label", `${inviteText("open")} — ${who} ${when}`);
  return invite;
}

function openInvite(booking, opener) {
  const form = inviteForm($("invite-form"), booking.id, { onUnauthorised: toLogin, heading: "h2" });
  $("invite").setAttribute("aria-labelledby", form.querySelector("h2").id);
  $("invite-close").textContent = inviteText("close");
  $("invite-close").onclick = () => { $("invite").hidden = true; opener.focus(); };
  $("invite").hidden = false;
  form.querySelector("h2").focus();
}

async function load() {
  $("status").textContent = t("common.loading");
  try {
    const data = await api(`/agent/agenda?date=${$("day").value}`);
    bookings = data.bookings || [];
    $("status").textContent = "";
    render();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("status").textContent = t("common.error");
  }
}

async function openCall(booking) {
  try {
    const data = await api(`/agent/bookings/${encodeURIComponent(booking.id)}/join`, { method: "POST", body: {} });
    location.assign(data.url);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("status").textContent = t("common.error");
  }
}

async function outcome(booking, status) {
  try {
    await api(`/agent/bookings/${encodeURIComponent(booking.id)}/outcome`, { method: "POST", body: { status } });
    await load();
    $("status").textContent = t("agent.saved");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("status").textContent = t("common.error");
  }
}

async function confirmRequest(booking) {
  try {
    await api(`/agent/bookings/${encodeURIComponent(booking.id)}/confirm`, { method: "POST", body: {} });
    await load();
    $("status").textContent = t("agent.confirmed");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("status").textContent = t("common.error");
  }
}

async function cancelBooking(booking, who, when) {
  if (!window.confirm(t("agent.cancel.confirm", { who, when }))) return;
  try {
    await api(`/agent/bookings/${encodeURIComponent(booking.id)}/cancel`, { method: "POST", body: {} });
    await load();
    $("status").textContent = t("agent.cancelled");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("status").textContent = t("common.error");
  }
}

let waiting = [];

function renderQueue() {
  $("queue").replaceChildren(...waiting.map((w) => {
    const li = document.createElement("li");
    const minutes = Math.max(0, Math.round((Date.now() - w.waiting_since_ms) / 60000));
    li.textContent = `${w.position}. ${w.citizen_name} — ${w.motif?.label || ""} (${t("agent.queue.since", { min: minutes })})`;
    return li;
  }));
  const text = waiting.length ? t("agent.queue.count", { n: waiting.length }) : t("agent.queue.none");
  if ($("queue-status").textContent !== text) $("queue-status").textContent = text;
  $("take").disabled = waiting.length === 0;
}

/** Live queue over Server-Sent Events; EventSource reconnects by itself. */
function followQueue() {
  const source = new EventSource("/api/agent/queue/events");
  source.addEventListener("queue", (event) => {
    try { waiting = JSON.parse(event.data).waiting || []; } catch { waiting = []; }
    renderQueue();
  });
  window.addEventListener("pagehide", () => source.close());
}

async function takeNext() {
  try {
    const data = await api("/agent/queue/take", { method: "POST", body: {} });
    location.assign(data.url);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("queue-status").textContent = err instanceof ApiError && err.status === 409 ? t("agent.queue.none") : t("common.error");
  }
}

async function init() {
  setupLanguageSwitch(() => { render(); renderQueue(); renderCallbacks(); rerenderAvailability(); rerenderReschedule(); });
  const fromQuery = new URLSearchParams(location.search).get("date");
  $("day").value = fromQuery || isoDay(new Date());
  $("day").addEventListener("change", load);
  $("logout").addEventListener("click", async () => {
    try { await api("/auth/logout", { method: "POST", body: {} }); } catch { /* signed out anyway */ }
    setCsrfToken(null);
    toLogin();
  });
  try {
    const me = await api("/auth/me");
    const user = me.user || me;
    if (me.csrf_token) setCsrfToken(me.csrf_token);
    $("who").textContent = user.name || "";
    setupAvailability(user, toLogin);
    setupReschedule(user, async (message) => {
      await load();
      $("status").textContent = message;
      $("day").focus();
    }, toLogin);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
  }
  applyI18n();
  $("take").addEventListener("click", takeNext);
  renderQueue();
  followQueue();
  setupCallbacks(toLogin, load);
  await load();
}

init();
