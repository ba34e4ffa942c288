// The organisation's closed days: which public-holiday calendar applies, and its own closure
// days (a "pont", a strike day). No slot is offered on those days. Closing a day that
// already has appointments lists them, with whom to contact, so they can be moved.
import { api, ApiError } from "./api.js";
import { fieldErrors, lang, locale } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const TEXT = {
  fr: {
    h: "Jours de fermeture",
    lead: "Aucun rendez-vous n'est proposé les jours fériés du calendrier choisi ni les jours de fermeture de l'organisme.",
    calendar: "Calendrier des jours fériés",
    apply: "Appliquer le calendrier",
    applied: "Calendrier des jours fériés enregistré.",
    holidays: "Jours fériés des douze prochains mois",
    noHolidays: "Aucun jour férié : l'organisme reste ouvert.",
    days: "Fermetures de l'organisme",
    none: "Aucune fermeture prévue.",
    add: "Ajouter un jour de fermeture",
    date: "Date de fermeture",
    label: "Raison (ex. pont, grève)",
    submit: "Fermer ce jour",
    need: "Indiquez la date.",
    added: "Jour de fermeture ajouté. Les créneaux de ce jour ne sont plus proposés.",
    conflicts: "Attention : {n} rendez-vous déjà pris : {list}. Contactez les usagers pour les déplacer.",
    remove: "Rouvrir",
    removed: "Jour rouvert.",
    fix: "Corrigez les champs signalés.",
    error: "Une erreur est survenue. Réessayez.",
  },
  en: {
    h: "Closure days",
    lead: "No appointment is offered on the public holidays of the chosen calendar nor on the organisation's closure days.",
    calendar: "Public holiday calendar",
    apply: "Apply the calendar",
    applied: "Public holiday calendar saved.",
    holidays: "Public holidays in the next twelve months",
    noHolidays: "No public holiday: the organisation stays open.",
    days: "The organisation's closures",
    none: "No closure planned.",
    add: "Add a closure day",
    date: "Closure date",
    label: "Reason (e.g. bridge day, strike)",
    submit: "Close this day",
    need: "Enter the date.",
    added: "Closure day added. That day's slots are no longer offered.",
    conflicts: "Warning: {n} appointment(s) already booked: {list}. Contact the citizens to move them.",
    remove: "Reopen",
    removed: "Day reopened.",
    fix: "Please correct the fields shown.",
    error: "Something went wrong. Please try again.",
  },
};
let view = null;
let onUnauthorised = () => {};

function tr(key, vars = {}) {
  const text = (TEXT[lang] || TEXT.fr)[key] ?? TEXT.fr[key];
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function say(text, kind = "ok") {
  const box = $("closure-status");
  box.className = `notice ${kind}`;
  box.textContent = text;
}

function dayText(iso) {
  return new Date(`${iso}T12:00:00`).toLocaleDateString(locale(), { weekday: "long", day: "numeric", month: "long", year: "numeric" });
}

function setError(field, message) {
  const input = $(`closure-${field}`);
  if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  const error = $(`closure-${field}-error`);
  if (error) error.textContent = message || "";
}

function conflictText(conflicts) {
  const list = conflicts.map((c) => {
    const when = new Date(c.start).toLocaleString(locale(), { day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
    const contact = [c.citizen?.email, c.citizen?.phone].filter(Boolean).join(", ");
    return `${when} ${c.citizen?.name || ""}${contact ? ` (${contact})` : ""} — ${c.motif}`;
  });
  return tr("conflicts", { n: conflicts.length, list: list.join(" ; ") });
}

function render() {
  for (const el of document.querySelectorAll("[data-closure-text]")) el.textContent = tr(el.dataset.closureText);
  if (!view) return;
  const select = $("closure-holiday_calendar");
  select.replaceChildren(...view.calendars.map((c) => {
    const option = document.createElement("option");
    option.value = c.code;
    option.textContent = c.label;
    return option;
  }));
  select.value = view.holiday_calendar;
  $("holidays").replaceChildren(...view.public_holidays.map((h) => {
    const li = document.createElement("li");
    li.textContent = `${dayText(h.date)} — ${h.label}`;
    return li;
  }));
  $("holidays-none").hidden = view.public_holidays.length > 0;
  $("closure-days").replaceChildren(...view.closure_days.map((c) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = `${dayText(c.date)} — ${c.label}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = tr("remove");
    remove.setAttribute("aria-label", `${tr("remove")} — ${dayText(c.date)}`);
    remove.addEventListener("click", () => reopen(c));
    li.append(text, remove);
    return li;
  }));
  $("closure-days-none").hidden = view.closure_days.length > 0;
}

async function load() {
  view = await api("/admin/closures");
  render();
}

/** Report a failure; puts a 422/409's field messages by their fields. */
function failed(err) {
  if (err instanceof ApiError && err.status === 401) { onUnauthorised(); return; }
  const fields = err instanceof ApiError && err.body.fields ? fieldErrors(err.body) : null;
  say(fields ? tr("fix") : (err instanceof ApiError && err.body.message) || tr("error"), "error");
  let first = null;
  for (const [field, message] of Object.entries(fields || {})) {
    setError(field, message);
    first = first || $(`closure-${field}`);
  }
  first?.focus();
}

async function applyCalendar(event) {
  event.preventDefault();
  setError("holiday_calendar", "");
  try {
    const answer = await api("/admin/closures/calendar", { method: "PUT", body: { holiday_calendar: $("closure-holiday_calendar").value } });
    view = answer;
    render();
    const conflicts = answer.conflicts || [];
    say(conflicts.length ? `${tr("applied")} ${conflictText(conflicts)}` : tr("applied"), conflicts.length ? "error" : "ok");
  } catch (err) { failed(err); }
}

async function addDay(event) {
  event.preventDefault();
  setError("date", "");
  setError("label", "");
  const body = { date: $("closure-date").value, label: $("closure-label").value };
  if (!body.date) {
    setError("date", tr("need"));
    say(tr("fix"), "error");
    $("closure-date").focus();
    return;
  }
  try {
    const added = await api("/admin/closures/days", { method: "POST", body });
    $("closure-form").reset();
    await load();
    const conflicts = added.conflicts || [];
    say(conflicts.length ? `${tr("added")} ${conflictText(conflicts)}` : tr("added"), conflicts.length ? "error" : "ok");
  } catch (err) { failed(err); }
}

async function reopen(closure) {
  try {
    await api(`/admin/closures/days/${encodeURIComponent(closure.date)}`, { method: "DELETE" });
    await load();
    say(tr("removed"));
    $("closure-date").focus();
  } catch (err) { failed(err); }
}

/** Wire the section for a signed-in administrator. */
export async function setupClosures(unauthorised) {
  onUnauthorised = unauthorised;
  render();
  $("calendar-form").addEventListener("submit", applyCalendar);
  $("closure-form").addEventListener("submit", addDay);
  try { await load(); } catch (err) { failed(err); }
}

export function rerenderClosures() { render(); }
