// "Déplacer": the agent moves an appointment to another free slot on the citizen's behalf
// (the citizen called). The same rules as the citizen's manage link apply on the server, and
// the citizen is mailed the new time. An agent picks among their own free slots; an
// administrator among every agent's of the service.
import { api, ApiError } from "./api.js";
import { fieldErrors, lang, locale } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const TEXT = {
  fr: {
    move: "Déplacer",
    h: "Déplacer le rendez-vous de {who} ({when})",
    day: "Nouveau jour",
    loading: "Recherche des créneaux libres…",
    none: "Aucun créneau libre ce jour-là. Choisissez un autre jour.",
    count: "{n} créneaux libres. Choisissez la nouvelle heure.",
    slot: "Déplacer à {time}",
    close: "Fermer sans déplacer",
    moved: "Rendez-vous déplacé au {when}. L'usager est prévenu par e-mail.",
    error: "Une erreur est survenue. Réessayez.",
  },
  en: {
    move: "Move",
    h: "Move the appointment of {who} ({when})",
    day: "New day",
    loading: "Looking for free slots…",
    none: "No free slot that day. Choose another day.",
    count: "{n} free slots. Choose the new time.",
    slot: "Move to {time}",
    close: "Close without moving",
    moved: "Appointment moved to {when}. The citizen is told by email.",
    error: "Something went wrong. Please try again.",
  },
};
let current = null; // {booking, who, when, opener}
let me = null;
let onMoved = async () => {};
let onUnauthorised = () => {};

export function tr(key, vars = {}) {
  const text = (TEXT[lang] || TEXT.fr)[key] ?? TEXT.fr[key];
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function timeOf(iso) { return new Date(iso).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" }); }

function paint() {
  for (const el of document.querySelectorAll("[data-move-text]")) el.textContent = tr(el.dataset.moveText);
  if (current) $("h-move").textContent = tr("h", { who: current.who, when: current.when });
}

async function showSlots() {
  const { booking } = current;
  const day = $("move-day").value;
  $("move-status").textContent = tr("loading");
  $("move-slots").replaceChildren();
  try {
    const data = await api(`/motifs/${encodeURIComponent(booking.motif.id)}/slots?from=${day}&to=${day}`);
    const seen = new Set();
    const slots = (data.slots || []).filter((s) => {
      if (me?.role === "agent" && s.agent_id !== me.id) return false;
      if (seen.has(s.start)) return false;
      seen.add(s.start);
      return true;
    });
    $("move-slots").replaceChildren(...slots.map((slot) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = timeOf(slot.start);
      b.setAttribute("aria-label", tr("slot", { time: timeOf(slot.start) }));
      b.addEventListener("click", () => moveTo(slot));
      return b;
    }));
    $("move-status").textContent = slots.length ? tr("count", { n: slots.length }) : tr("none");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return onUnauthorised();
    $("move-status").textContent = (err instanceof ApiError && err.body.message) || tr("error");
  }
}

async function moveTo(slot) {
  const { booking } = current;
  try {
    const moved = await api(`/agent/bookings/${encodeURIComponent(booking.id)}/reschedule`, {
      method: "POST", body: { start: slot.start, agent_id: slot.agent_id },
    });
    const when = new Date(moved.start).toLocaleString(locale(), { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
    close(false);
    await onMoved(tr("moved", { when }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return onUnauthorised();
    const fields = err instanceof ApiError && err.body.fields ? fieldErrors(err.body) : null;
    const message = fields ? Object.values(fields).join(" ") : (err instanceof ApiError && err.body.message) || tr("error");
    await showSlots(); // the slot may just have gone to someone else
    $("move-status").textContent = message;
  }
}

function close(refocus = true) {
  const opener = current?.opener;
  current = null;
  $("move").hidden = true;
  if (refocus && opener?.isConnected) opener.focus();
}

function open(booking, who, when, opener) {
  current = { booking, who, when, opener };
  $("move").hidden = false;
  $("move-day").value = booking.start.slice(0, 10);
  paint();
  $("h-move").focus();
  showSlots();
}

/** The "Déplacer" button of one agenda entry. */
export function moveButton(booking, who, when) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary";
  b.textContent = tr("move");
  b.setAttribute("aria-label", `${tr("move")} — ${who} ${when}`);
  b.addEventListener("click", () => open(booking, who, when, b));
  return b;
}

/** Wire the panel once; ``moved(message)`` reloads the agenda and says what happened. */
export function setupReschedule(user, moved, unauthorised) {
  me = user;
  onMoved = moved;
  onUnauthorised = unauthorised;
  paint();
  $("move-day").addEventListener("change", showSlots);
  $("move-close").addEventListener("click", () => close());
  $("move").addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
}

export function rerenderReschedule() { paint(); }
