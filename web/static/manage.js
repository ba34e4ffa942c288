// Manage page (link from the confirmation mail): see, cancel or move one booking.
import { api, ApiError, isoDay } from "./api.js";
import { locale, setupLanguageSwitch, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("token");
let booking = null;

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
  const active = booking.status !== "cancelled";
  $("actions").hidden = !active;
  $("join-link").hidden = !active || !booking.join_url;
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
  let slots = [];
  try {
    slots = (await api(`/motifs/${encodeURIComponent(booking.motif.id)}/slots?from=${isoDay(from)}&to=${isoDay(to)}`)).slots || [];
  } catch {
    $("alert").textContent = t("common.error");
    return;
  }
  const byDay = new Map();
  for (const slot of slots) {
    const day = isoDay(new Date(slot.start));
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push(slot);
  }
  const blocks = [...byDay.entries()].map(([day, list]) => {
    const h = document.createElement("h3");
    h.textContent = new Date(`${day}T12:00:00`).toLocaleDateString(locale(), { weekday: "long", day: "numeric", month: "long" });
    const ul = document.createElement("ul");
    ul.className = "slots";
    for (const slot of list) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = new Date(slot.start).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
      b.setAttribute("aria-label", fmtWhen(slot.start));
      b.addEventListener("click", () => reschedule(slot.start));
      li.append(b);
      ul.append(li);
    }
    return [h, ul];
  }).flat();
  if (!blocks.length) {
    const p = document.createElement("p");
    p.textContent = t("book.slot.nonein");
    blocks.push(p);
  }
  $("slot-days").replaceChildren(...blocks);
  $("slots-section").hidden = false;
  $("h-slots").focus();
}

async function reschedule(start) {
  $("alert").textContent = "";
  try {
    await api(`/manage/${encodeURIComponent(token)}/reschedule`, { method: "POST", body: { start } });
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

setupLanguageSwitch(render);
if (!token) {
  $("alert").textContent = t("manage.notoken");
} else {
  $("cancel").addEventListener("click", askCancel);
  $("cancel-yes").addEventListener("click", cancel);
  $("cancel-no").addEventListener("click", keepBooking);
  $("reschedule").addEventListener("click", showSlots);
  load();
}
