// After the video failed, and after the call: the citizens who asked to be called back
// (listed beside the live queue and on their agenda row, until an agent marks the call
// made) and the call's written messages, kept with its record for the agent.
import { api, ApiError } from "./api.js";
import { lang, locale } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const TEXT = {
  fr: {
    h: "À rappeler",
    none: "Personne n'attend d'être rappelé.",
    count: "{n} personne(s) à rappeler.",
    item: "{who} — {motif}, rendez-vous {when} — demandé à {asked}",
    precheck: "(vidéo impossible avant l'appel)",
    call: "(appel interrompu)",
    done: "Rappel fait",
    doneLabel: "Rappel fait — {who} {phone}",
    row: "À rappeler au {phone}",
    chat: "Messages de l'appel",
    chatLabel: "Messages de l'appel — {who} {when}",
    chatH: "Messages de l'appel de {who} ({when})",
    chatNone: "Aucun message écrit pendant cet appel.",
    close: "Fermer",
    error: "Une erreur est survenue. Réessayez.",
  },
  en: {
    h: "To call back",
    none: "Nobody waits to be called back.",
    count: "{n} person(s) to call back.",
    item: "{who} — {motif}, appointment {when} — asked at {asked}",
    precheck: "(video impossible before the call)",
    call: "(call cut)",
    done: "Called back",
    doneLabel: "Called back — {who} {phone}",
    row: "To call back at {phone}",
    chat: "Call messages",
    chatLabel: "Call messages — {who} {when}",
    chatH: "Messages of the call with {who} ({when})",
    chatNone: "No message was written during this call.",
    close: "Close",
    error: "Something went wrong. Please try again.",
  },
};
const REFRESH_MS = 15000;
let waiting = [];
let onUnauthorised = () => {};
let onChange = async () => {};

export function tr(key, vars = {}) {
  const text = (TEXT[lang] || TEXT.fr)[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function time(iso, withDay = false) {
  const options = withDay ? { weekday: "short", day: "numeric", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" };
  return new Date(iso).toLocaleString(locale(), options);
}

function phoneLink(phone) {
  const a = document.createElement("a");
  a.href = `tel:${phone}`;
  a.className = "phone";
  a.textContent = phone;
  return a;
}

/** The agenda row's mark: "À rappeler au +33…" with the number to dial. */
export function callbackMark(booking) {
  if (!booking.callback) return null;
  const p = document.createElement("p");
  p.className = "callback-mark";
  const [before] = tr("row", { phone: "\u0000" }).split("\u0000");
  p.append(before, phoneLink(booking.callback.phone));
  return p;
}

export function renderCallbacks() {
  $("h-callbacks").textContent = tr("h");
  $("callbacks").replaceChildren(...waiting.map((c) => {
    const li = document.createElement("li");
    const who = c.citizen_name || "";
    const text = document.createElement("span");
    text.textContent = `${tr("item", { who, motif: c.motif, when: time(c.start, true), asked: time(c.requested_at) })} ${tr(c.moment)} `;
    const done = document.createElement("button");
    done.type = "button";
    done.className = "secondary";
    done.textContent = tr("done");
    done.setAttribute("aria-label", tr("doneLabel", { who, phone: c.phone }));
    done.addEventListener("click", () => markDone(c));
    li.append(text, phoneLink(c.phone), done);
    return li;
  }));
  const status = waiting.length ? tr("count", { n: waiting.length }) : tr("none");
  if ($("callbacks-status").textContent !== status) $("callbacks-status").textContent = status;
}

async function loadCallbacks() {
  try {
    waiting = (await api("/agent/callbacks")).callbacks || [];
    renderCallbacks();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) onUnauthorised();
  }
}

async function markDone(callback) {
  try {
    await api(`/agent/callbacks/${encodeURIComponent(callback.id)}/done`, { method: "POST", body: {} });
    await loadCallbacks();
    await onChange();
    $("h-callbacks").focus();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return onUnauthorised();
    $("callbacks-status").textContent = tr("error");
  }
  return undefined;
}

/** The list beside the live queue, looked at again every 15 s. */
export function setupCallbacks(unauthorised, changed) {
  onUnauthorised = unauthorised;
  onChange = changed;
  renderCallbacks();
  loadCallbacks();
  const timer = setInterval(loadCallbacks, REFRESH_MS);
  window.addEventListener("pagehide", () => clearInterval(timer));
}

/** "Messages de l'appel" for a booking of the agenda. */
export function chatButton(booking, who, when) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary";
  b.textContent = tr("chat");
  b.setAttribute("aria-label", tr("chatLabel", { who, when }));
  b.addEventListener("click", () => showChat(booking, who, when, b));
  return b;
}

async function showChat(booking, who, when, opener) {
  let messages = [];
  try {
    messages = (await api(`/agent/bookings/${encodeURIComponent(booking.id)}/chat`)).messages || [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return onUnauthorised();
    $("chat-record-status").textContent = tr("error");
  }
  $("h-chat-record").textContent = tr("chatH", { who, when });
  $("chat-record-status").textContent = messages.length ? "" : tr("chatNone");
  $("chat-record-list").replaceChildren(...messages.map((m) => {
    const li = document.createElement("li");
    li.textContent = `${time(m.at)} ${m.name} : ${m.text}`;
    return li;
  }));
  $("chat-record-close").textContent = tr("close");
  $("chat-record-close").onclick = () => { $("chat-record").hidden = true; opener.focus(); };
  $("chat-record").hidden = false;
  $("h-chat-record").focus();
  return undefined;
}
