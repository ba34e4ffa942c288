// An agent's weekly timetable and absences: view, edit, add, remove. The agent edits their
// own (agent console); an administrator edits an agent of the organisation (admin console).
// Times are Paris wall-clock times; an end of 00:00 means midnight (the whole evening).
import { api, ApiError } from "./api.js";
import { fieldErrors, locale, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const DAYS = [0, 1, 2, 3, 4, 5, 6];
let rules = []; // [{weekday, start, end}] as edited
let absences = [];
let onUnauthorised = () => {};
let agentPath = "/agents/me";
let editedName = null; // set when an administrator edits someone else's availability
let wired = false;

function say(text, kind = "") {
  const box = $("avail-status");
  box.className = `notice ${kind}`.trim();
  box.textContent = text;
}

function dayName(weekday) { return t(`avail.day.${weekday}`); }

function field(id, labelText, hidden, input) {
  const wrap = document.createElement("div");
  wrap.className = "field";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = labelText;
  const extra = document.createElement("span");
  extra.className = "visually-hidden";
  extra.textContent = ` (${hidden})`;
  label.append(extra);
  input.id = id;
  const error = document.createElement("p");
  error.className = "error";
  error.id = `${id}-error`;
  input.setAttribute("aria-describedby", error.id);
  wrap.append(label, input, error);
  return wrap;
}

function timeInput(value, onChange) {
  const input = document.createElement("input");
  input.type = "time";
  input.step = "300";
  input.required = true;
  input.value = value;
  input.addEventListener("change", () => onChange(input.value));
  return input;
}

function button(text, label, onClick, className = "secondary") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = text;
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

/** One fieldset per weekday, each range with its start, end and a remove button. */
function renderRules(focusId = null) {
  const container = $("rules");
  container.replaceChildren(...DAYS.map((weekday) => {
    const set = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = dayName(weekday);
    set.append(legend);
    const mine = rules.map((rule, index) => ({ rule, index })).filter(({ rule }) => rule.weekday === weekday);
    if (!mine.length) {
      const none = document.createElement("p");
      none.textContent = t("avail.rules.closed");
      set.append(none);
    }
    mine.forEach(({ rule, index }, n) => {
      const context = `${dayName(weekday)}, ${t("avail.rules.range")} ${n + 1}`;
      const row = document.createElement("div");
      row.className = "actions";
      row.style.alignItems = "flex-end";
      row.append(
        field(`rule-${index}-start`, t("avail.rules.from"), context, timeInput(rule.start, (v) => { rule.start = v; })),
        field(`rule-${index}-end`, t("avail.rules.to"), context, timeInput(rule.end === "24:00" ? "00:00" : rule.end, (v) => { rule.end = v; })),
        button(t("avail.rules.remove"), `${t("avail.rules.remove")} — ${context}`, () => {
          rules.splice(index, 1);
          renderRules(`add-${weekday}`);
        }),
      );
      set.append(row);
    });
    const add = button(t("avail.rules.add"), `${t("avail.rules.add")} — ${dayName(weekday)}`, () => {
      rules.push({ weekday, start: "09:00", end: "12:00" });
      renderRules(`rule-${rules.length - 1}-start`);
    });
    add.id = `add-${weekday}`;
    set.append(add);
    return set;
  }));
  if (focusId) $(focusId)?.focus();
}

function fmt(iso) {
  return new Date(iso).toLocaleString(locale(), { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
}

function renderAbsences() {
  $("absences").replaceChildren(...absences.map((absence) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    const span = t("avail.abs.span", { start: fmt(absence.start), end: fmt(absence.end) });
    text.textContent = absence.reason ? `${span} — ${absence.reason}` : span;
    li.append(text, button(t("avail.abs.remove"), `${t("avail.abs.remove")} — ${span}`, () => removeAbsence(absence)));
    return li;
  }));
  $("absences-none").hidden = absences.length > 0;
}

function showView(view) {
  rules = view.rules.map((r) => ({ ...r }));
  absences = view.absences;
  renderRules();
  renderAbsences();
}

/** Report a failed request; returns the field messages of a 422, if any. */
function failed(err) {
  if (err instanceof ApiError && err.status === 401) { onUnauthorised(); return null; }
  const fields = err instanceof ApiError && err.body.fields ? fieldErrors(err.body) : null;
  say(fields ? t("avail.fix") : t("common.error"), "error");
  return fields || null;
}

function setError(id, message) {
  const input = $(id);
  const error = $(`${id}-error`);
  if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  if (error) error.textContent = message || "";
}

async function saveRules(event) {
  event.preventDefault();
  $("rules-error").textContent = "";
  const sent = rules.map((r) => ({ weekday: r.weekday, start: r.start, end: r.end === "00:00" ? "24:00" : r.end }));
  try {
    showView(await api(`${agentPath}/availability`, { method: "PUT", body: { rules: sent } }));
    say(t("avail.rules.saved"), "ok");
  } catch (err) {
    const fields = failed(err);
    if (!fields) return;
    let first = null;
    for (const [key, message] of Object.entries(fields)) {
      const match = /^rules\.(\d+)\.(start|end|weekday)$/.exec(key);
      const id = match ? `rule-${match[1]}-${match[2] === "weekday" ? "start" : match[2]}` : null;
      if (id && $(id)) { setError(id, message); first = first || id; } else { $("rules-error").textContent = message; }
    }
    if (first) $(first).focus();
  }
}

async function addAbsence(event) {
  event.preventDefault();
  for (const id of ["abs-start", "abs-end", "abs-reason"]) setError(id, "");
  const body = { start: $("abs-start").value, end: $("abs-end").value, reason: $("abs-reason").value };
  let missing = null;
  for (const [id, key] of [["abs-start", "start"], ["abs-end", "end"]]) {
    if (!body[key]) { setError(id, t("avail.abs.need")); missing = missing || id; }
  }
  if (missing) { say(t("avail.fix"), "error"); $(missing).focus(); return; }
  try {
    const added = await api(`${agentPath}/absences`, { method: "POST", body });
    $("absence-form").reset();
    await load();
    const conflicts = added.conflicts || [];
    say(conflicts.length ? t("avail.abs.conflicts", { n: conflicts.length, list: conflicts.map((c) => `${fmt(c.start)} (${c.motif})`).join(", ") }) : t("avail.abs.added"), conflicts.length ? "error" : "ok");
  } catch (err) {
    const fields = failed(err);
    if (!fields) return;
    let first = null;
    for (const [key, message] of Object.entries(fields)) {
      const id = `abs-${key}`;
      if ($(id)) { setError(id, message); first = first || id; }
    }
    if (first) $(first).focus();
  }
}

async function removeAbsence(absence) {
  try {
    await api(`${agentPath}/absences/${encodeURIComponent(absence.id)}`, { method: "DELETE" });
    await load();
    say(t("avail.abs.removed"), "ok");
    $("abs-start").focus();
  } catch (err) { failed(err); }
}

async function load() {
  showView(await api(`${agentPath}/availability`));
}

function wire() {
  if (wired) return;
  wired = true;
  $("rules-form").addEventListener("submit", saveRules);
  $("absence-form").addEventListener("submit", addAbsence);
}

/** Show the section for a signed-in agent (administrators use editAvailabilityOf). */
export async function setupAvailability(user, unauthorised) {
  onUnauthorised = unauthorised;
  if (user.role !== "agent") return;
  $("availability").hidden = false;
  wire();
  try { await load(); } catch (err) { failed(err); }
}

/** An administrator opens the availability of one agent of the organisation. */
export async function editAvailabilityOf(agent, unauthorised) {
  onUnauthorised = unauthorised;
  agentPath = `/agents/${encodeURIComponent(agent.id)}`;
  editedName = agent.name;
  $("availability").hidden = false;
  $("h-avail").textContent = t("avail.of", { name: editedName });
  say("");
  wire();
  try { await load(); } catch (err) { failed(err); }
  $("h-avail").focus();
}

export function rerenderAvailability() {
  if ($("availability").hidden) return;
  if (editedName) $("h-avail").textContent = t("avail.of", { name: editedName });
  renderRules();
  renderAbsences();
}
