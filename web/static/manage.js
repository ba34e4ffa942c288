// Manage page (link from the confirmation mail): see, cancel or move one booking.
import { api, ApiError, isoDay } from "./api.js";
import { locale, setupLanguageSwitch, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("token");
let booking = null;
const OPEN_STATUSES = new Set(["booked", "pending"]);
const moving = { slots: [], day: null, slot: null };

const fmtWhen = (iso) => new Date(iso).toLocaleString(locale(), { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });

function render() {
  if (!booking) return;
  const rows = [
    ["book.summary.motif", booking.motif?.label || ""],
    ["book.summary.when", fmtWhen(booking.start)],
    ["manage.status", booking.status ? t(`status.${booking.status}`) : ""],
  ];
  $("summary").replaceChildren(...rows.flatMap(([key, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = t(key);
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }));
  // Only an appointment still to come can be moved or cancelled (or joined): not one
  // cancelled, marked done or no-show, nor one whose time is over.
  const open = OPEN_STATUSES.has(booking.status) && !(new Date(booking.end || booking.start) <= new Date());
  $("actions").hidden = !open;
  $("join-link").hidden = !open || !booking.join_url;
  $("over").hidden = open || booking.status === "cancelled";
  if (!open) { $("slots-section").hidden = true; $("confirm-cancel").hidden = true; }
  if (booking.join_url) $("join-link").href = booking.join_url;
  $("details").hidden = false;
}

async function load() {
  try {
    booking = await api(`/manage/${encodeURIComponent(token)}`);
    render();
  } catch (err) {
    $("alert").textContent = err instanceof ApiError && err.status === 404 ? t("call.tokenbad") : t("common.error");
  }
}

/** Cancelling cannot be undone: ask once more, in the page (no browser dialog). */
function askCancel() {
  $("confirm-cancel").hidden = false;
  $("confirm-text").focus();
}

function keepBooking() {
  $("confirm-cancel").hidden = true;
  $("cancel").focus();
}

async function cancel() {
  $("confirm-cancel").hidden = true;
  try {
    booking = await api(`/manage/${encodeURIComponent(token)}/cancel`, { method: "POST", body: {} });
    if (!booking || !booking.status) booking = { ...(booking || {}), status: "cancelled" };
    await load();
    $("slots-section").hidden = true;
    $("status").textContent = t("manage.cancelled");
  } catch {
    $("alert").textContent = t("common.error");
  }
}

async function showSlots() {
  const from = new Date();
  const to = new Date();
  to.setDate(to.getDate() + 13);
  try {
    moving.slots = (await api(`/motifs/${encodeURIComponent(booking.motif.id)}/slots?from=${isoDay(from)}&to=${isoDay(to)}`)).slots || [];
  } catch {
    $("alert").textContent = t("common.error");
    return;
  }
  const days = [...new Set(moving.slots.map((slot) => isoDay(new Date(slot.start))))];
  moving.day = days.includes(moving.day) ? moving.day : days[0] || null;
  moving.slot = null;
  renderSlots();
  $("slots-section").hidden = false;
  $("h-slots").focus();
}

/** As on the booking page: one row of days, then the chosen day's free times. */
function renderSlots() {
  const byDay = new Map();
  for (const slot of moving.slots) {
    const day = isoDay(new Date(slot.start));
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push(slot);
  }
  $("slot-days").replaceChildren(...[...byDay.keys()].map((day) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    const d = new Date(`${day}T12:00:00`);
    const weekday = document.createElement("span");
    weekday.textContent = d.toLocaleDateString(locale(), { weekday: "short" });
    const date = document.createElement("span");
    date.textContent = d.toLocaleDateString(locale(), { day: "numeric", month: "short" });
    button.append(weekday, date);
    button.setAttribute("aria-label", d.toLocaleDateString(locale(), { weekday: "long", day: "numeric", month: "long" }));
    button.setAttribute("aria-pressed", String(day === moving.day));
    button.addEventListener("click", () => {
      moving.day = day;
      moving.slot = null;
      renderSlots();
      $("slot-days").querySelector('[aria-pressed="true"]')?.focus();
    });
    li.append(button);
    return li;
  }));
  $("slot-times").replaceChildren(...(byDay.get(moving.day) || []).map((slot) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = new Date(slot.start).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
    b.setAttribute("aria-label", fmtWhen(slot.start));
    b.setAttribute("aria-pressed", String(slot === moving.slot));
    b.addEventListener("click", () => askMove(slot));
    li.append(b);
    return li;
  }));
  $("no-slot").hidden = byDay.size > 0;
  $("h-times").hidden = byDay.size === 0;
  renderConfirmMove();
}

/** Moving is one more tap: the new time is said first, with a way back. */
function askMove(slot) {
  moving.slot = slot;
  renderSlots();
  $("confirm-move-text").focus();
}

function renderConfirmMove() {
  $("confirm-move").hidden = !moving.slot;
  if (moving.slot) $("confirm-move-text").textContent = t("manage.move.confirm", { when: fmtWhen(moving.slot.start) });
}

function keepTime() {
  moving.slot = null;
  $("slots-section").hidden = true;
  $("reschedule").focus();
}

async function reschedule(start) {
  $("alert").textContent = "";
  try {
    await api(`/manage/${encodeURIComponent(token)}/reschedule`, { method: "POST", body: { start } });
    moving.slot = null;
    $("slots-section").hidden = true;
    await load();
    $("status").textContent = t("manage.rescheduled");
    $("title").focus();
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      $("alert").textContent = t("book.taken");
      await showSlots();
    } else {
      $("alert").textContent = t("common.error");
    }
  }
}

setupLanguageSwitch(() => { render(); if (!$("slots-section").hidden) renderSlots(); });
if (!token) {
  $("alert").textContent = t("manage.notoken");
} else {
  $("cancel").addEventListener("click", askCancel);
  $("cancel-yes").addEventListener("click", cancel);
  $("cancel-no").addEventListener("click", keepBooking);
  $("reschedule").addEventListener("click", showSlots);
  $("move-yes").addEventListener("click", () => { if (moving.slot) reschedule(moving.slot.start); });
  $("move-no").addEventListener("click", () => {
    moving.slot = null;
    renderSlots();
    $("slot-times").querySelector("button")?.focus();
  });
  $("slots-close").addEventListener("click", keepTime);
  load();
}
