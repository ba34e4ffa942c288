// Public booking flow: service → motif (video) → day & slot → contact → summary → confirmation.
import { api, ApiError, isoDay } from "./api.js";
import { applyI18n, fieldErrors, locale, setupLanguageSwitch, t } from "./i18n.js";
import { companionRow, readCompanion, renderCompanion, setupCompanion } from "./book.companion.js";

const WINDOW_DAYS = 14;
const state = { services: [], service: null, motif: null, from: new Date(), slots: [], day: null, slot: null, contact: null, companion: null, booking: null, step: "service" };
const $ = (id) => document.getElementById(id);

function say(text) { $("status").textContent = text; }
function alarm(text) { $("alert").textContent = text; }

function show(step) {
  state.step = step;
  for (const section of document.querySelectorAll("section[data-step]")) section.hidden = section.dataset.step !== step;
  for (const li of document.querySelectorAll("#steps li")) {
    if (li.dataset.step === step) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
  }
  alarm("");
  const order = [...document.querySelectorAll("#steps li")].map((li) => li.dataset.step);
  $("step-count").textContent = t("book.stepcount", { n: order.indexOf(step) + 1, total: order.length, name: t(`book.step.${step}`) });
  const heading = $(`h-${step}`);
  if (heading) heading.focus();
}

function choiceButton(label, detail, onClick) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  const main = document.createElement("span");
  main.textContent = label;
  button.append(main);
  if (detail) {
    const small = document.createElement("span");
    small.className = "detail";
    small.textContent = detail;
    button.append(small);
  }
  button.addEventListener("click", onClick);
  li.append(button);
  return li;
}

function fmtTime(iso) { return new Date(iso).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" }); }
function fmtDate(iso) { return new Date(iso).toLocaleDateString(locale(), { weekday: "long", day: "numeric", month: "long" }); }
function fmtWhen(iso) { return `${fmtDate(iso)}, ${fmtTime(iso)}`; }

function renderServices() {
  const list = $("services");
  list.replaceChildren(...state.services.map((s) => choiceButton(s.name, s.organisation?.name, () => {
    state.service = s;
    renderMotifs();
    show("motif");
  })));
}

function renderMotifs() {
  const motifs = (state.service?.motifs || []).filter((m) => m.video);
  const list = $("motifs");
  if (!motifs.length) {
    const li = document.createElement("li");
    li.textContent = t("book.motif.none");
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(...motifs.map((m) => choiceButton(m.label, `${m.duration_min} ${t("common.minutes")}`, async () => {
    state.motif = m;
    state.from = new Date();
    await loadSlots();
    show("slot");
  })));
}

async function loadSlots() {
  const to = new Date(state.from);
  to.setDate(to.getDate() + WINDOW_DAYS - 1);
  say(t("common.loading"));
  try {
    const data = await api(`/motifs/${encodeURIComponent(state.motif.id)}/slots?from=${isoDay(state.from)}&to=${isoDay(to)}`);
    state.slots = data.slots || [];
    say("");
  } catch (err) {
    state.slots = [];
    say("");
    alarm(t("common.error"));
  }
  const days = [...new Set(state.slots.map((s) => isoDay(new Date(s.start))))];
  state.day = days.includes(state.day) ? state.day : days[0] || null;
  renderSlots();
  $("earlier").hidden = isoDay(state.from) <= isoDay(new Date());
}

function renderSlots() {
  const byDay = new Map();
  for (const slot of state.slots) {
    const day = isoDay(new Date(slot.start));
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push(slot);
  }
  const days = $("days");
  days.replaceChildren(...[...byDay.keys()].map((day) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    const d = new Date(`${day}T12:00:00`);
    const wd = document.createElement("span");
    wd.textContent = d.toLocaleDateString(locale(), { weekday: "short" });
    const dm = document.createElement("span");
    dm.textContent = d.toLocaleDateString(locale(), { day: "numeric", month: "short" });
    button.append(wd, dm);
    button.setAttribute("aria-label", d.toLocaleDateString(locale(), { weekday: "long", day: "numeric", month: "long" }));
    button.setAttribute("aria-pressed", String(day === state.day));
    button.addEventListener("click", () => { state.day = day; renderSlots(); days.querySelector('[aria-pressed="true"]')?.focus(); });
    li.append(button);
    return li;
  }));
  const slots = byDay.get(state.day) || [];
  $("slots").replaceChildren(...slots.map((slot) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = fmtTime(slot.start);
    button.setAttribute("aria-label", fmtWhen(slot.start));
    button.addEventListener("click", () => { state.slot = slot; show("contact"); });
    li.append(button);
    return li;
  }));
  const none = $("no-slot");
  none.hidden = byDay.size > 0;
  none.textContent = t("book.slot.nonein");
}

function setFieldError(field, message) {
  const input = $(field);
  const error = $(`${field}-error`);
  if (!input || !error) return false;
  error.textContent = message || "";
  if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  return true;
}

function clearErrors() { for (const f of ["name", "email", "phone"]) setFieldError(f, ""); }

function validateContact() {
  clearErrors();
  const name = $("name").value.trim();
  const email = $("email").value.trim();
  const phone = $("phone").value.trim();
  const problems = [];
  if (!name) problems.push(["name", t("book.contact.name.need")]);
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.push(["email", t("book.contact.email.bad")]);
  if (!email && !phone) problems.push(["email", t("book.contact.need")]);
  const companion = readCompanion(setFieldError, problems);
  for (const [field, message] of problems) setFieldError(field, message);
  if (problems.length) {
    alarm(t("book.fix"));
    $(problems[0][0]).focus();
    return null;
  }
  const citizen = { name };
  if (email) citizen.email = email;
  if (phone) citizen.phone = phone;
  state.companion = companion;
  return citizen;
}

function fillSummary(dl, when) {
  const rows = [
    ["book.summary.service", state.service.name],
    ["book.summary.motif", state.motif.label],
    ["book.summary.when", fmtWhen(when)],
    ["book.summary.name", state.contact.name],
    ["book.summary.contact", [state.contact.email, state.contact.phone].filter(Boolean).join(" · ")],
  ];
  const companion = companionRow(state.companion);
  dl.replaceChildren(...[...rows.map(([key, value]) => [t(key), value]), ...(companion ? [companion] : [])].flatMap(([term, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }));
}

/** Server field errors name fields by path (citizen.email); show them next to the inputs. */
function showServerFieldErrors(fields) {
  let first = null;
  const elsewhere = [];
  for (const [path, message] of Object.entries(fields || {})) {
    const field = path.replace(/^citizen\./, "").replace(/^companion\./, "companion-");
    if (setFieldError(field, message)) first = first || field;
    else elsewhere.push(message);
  }
  return { first, elsewhere };
}

async function confirm() {
  const button = $("confirm");
  button.disabled = true;
  say(t("common.loading"));
  const body = { motif_id: state.motif.id, start: state.slot.start, citizen: state.contact };
  if (state.companion) body.companion = state.companion;
  if (state.slot.agent_id) body.agent_id = state.slot.agent_id;
  try {
    state.booking = await api("/bookings", { method: "POST", body });
    say("");
    fillSummary($("done-summary"), state.booking.start || state.slot.start);
    $("done-summary").dataset.start = state.booking.start || state.slot.start;
    $("join-link").href = state.booking.join_url;
    $("manage-link").href = state.booking.manage_url;
    show("done");
  } catch (err) {
    say("");
    if (err instanceof ApiError && err.status === 409) {
      await loadSlots();
      show("slot");
      alarm(t("book.taken"));
    } else if (err instanceof ApiError && err.status === 422) {
      const { first, elsewhere } = showServerFieldErrors(fieldErrors(err.body));
      if (first) { show("contact"); alarm(t("book.fix")); $(first).focus(); }
      else alarm(elsewhere.join(" ") || t("common.error"));
    } else {
      alarm(t("common.error"));
    }
  } finally {
    button.disabled = false;
  }
}

function rerender() {
  renderCompanion();
  if (state.services.length) renderServices();
  if (state.service) renderMotifs();
  if (state.motif) renderSlots();
  if (state.contact && state.slot) fillSummary($("summary"), state.slot.start);
  if (state.booking) fillSummary($("done-summary"), state.booking.start || state.slot.start);
}

async function init() {
  setupLanguageSwitch(rerender);
  setupCompanion();
  for (const button of document.querySelectorAll("[data-back]")) button.addEventListener("click", () => show(button.dataset.back));
  $("later").addEventListener("click", async () => { state.from.setDate(state.from.getDate() + WINDOW_DAYS); await loadSlots(); $("h-slot").focus(); });
  $("earlier").addEventListener("click", async () => {
    state.from.setDate(state.from.getDate() - WINDOW_DAYS);
    if (state.from < new Date()) state.from = new Date();
    await loadSlots();
    $("h-slot").focus();
  });
  $("contact-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const citizen = validateContact();
    if (!citizen) return;
    state.contact = citizen;
    fillSummary($("summary"), state.slot.start);
    show("summary");
  });
  $("confirm").addEventListener("click", confirm);
  for (const li of document.querySelectorAll("#steps li")) li.removeAttribute("aria-current");
  $("steps").querySelector('[data-step="service"]').setAttribute("aria-current", "step");
  $("step-count").textContent = t("book.stepcount", { n: 1, total: 6, name: t("book.step.service") });
  say(t("common.loading"));
  try {
    state.services = await api("/services");
    say("");
  } catch {
    say("");
    alarm(t("common.error"));
  }
  renderServices();
  applyI18n();
  if (state.services.length === 1) {
    // One service only: skip straight to its motifs.
    state.service = state.services[0];
    renderMotifs();
    show("motif");
  }
}

init();
