// Managing one's organisation: motifs (and services), agents, partner points and their
// staff accounts. Every form reports the server's field messages next to the field.
import { api, ApiError } from "./api.js";
import { editAvailabilityOf, rerenderAvailability } from "./agent.availability.js";
import { fieldErrors, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const MOTIF_NUMBERS = ["duration_min", "notice_min", "horizon_days", "buffer_min"];
const state = { services: [], agents: [], points: [], editing: null };
let onUnauthorised = () => {};

function say(text, kind = "ok") {
  const box = $("mgmt-status");
  box.className = `notice ${kind}`;
  box.textContent = text;
}

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
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

function clearErrors(form) {
  for (const error of form.querySelectorAll(".error")) error.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.setAttribute("aria-invalid", "false");
}

/** Run a request; on 422/409 with fields, put each message by its field (prefix-field). */
async function attempt(form, prefix, request, done) {
  clearErrors(form);
  try {
    const result = await request();
    await reload();
    say(done);
    return result;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { onUnauthorised(); return null; }
    const fields = err instanceof ApiError && err.body.fields ? fieldErrors(err.body) : null;
    say(fields ? t("mgmt.fix") : (err instanceof ApiError && err.body.message) || t("common.error"), "error");
    let first = null;
    for (const [field, message] of Object.entries(fields || {})) {
      const error = $(`${prefix}-${field}-error`);
      if (!error) continue;
      error.textContent = message;
      const input = $(`${prefix}-${field}`);
      if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
    }
    (first || form.querySelector("input, select"))?.focus();
    return null;
  }
}

function serviceName(id) { return state.services.find((s) => s.id === id)?.name || ""; }

function fillSelect(select, items, label) {
  const chosen = select.value;
  select.replaceChildren(...items.map((item) => {
    const option = document.createElement("option");
    option.value = item.id;
    option.textContent = label(item);
    return option;
  }));
  if (items.some((i) => i.id === chosen)) select.value = chosen;
}

function channelsText(channels) { return channels.map((c) => t(`mgmt.channel.${c}`)).join(", "); }

function renderMotifs() {
  const motifs = state.services.flatMap((s) => s.motifs);
  $("motif-rows").replaceChildren(...motifs.map((m) => {
    const tr = document.createElement("tr");
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(
      button(t("mgmt.edit"), `${t("mgmt.edit")} — ${m.label}`, () => editMotif(m)),
      button(m.active ? t("mgmt.withdraw") : t("mgmt.offer"), `${m.active ? t("mgmt.withdraw") : t("mgmt.offer")} — ${m.label}`, () => toggleMotif(m)),
    );
    tr.append(cell(m.label), cell(serviceName(m.service_id)), cell(`${m.duration_min} ${t("common.minutes")}`),
      cell(channelsText(m.channels)), cell(m.active ? t("mgmt.offered") : t("mgmt.withdrawn")), cell(actions));
    return tr;
  }));
  fillSelect($("motif-service_id"), state.services, (s) => s.name);
  fillSelect($("agent-service_id"), state.services, (s) => s.name);
}

function renderAgents() {
  $("agent-rows").replaceChildren(...state.agents.map((a) => {
    const tr = document.createElement("tr");
    const label = a.active ? t("mgmt.deactivate") : t("mgmt.reactivate");
    const actions = document.createElement("div");
    actions.className = "actions";
    if (a.active) actions.append(button(t("mgmt.hours"), `${t("mgmt.hours")} — ${a.name}`, () => editAvailabilityOf(a, onUnauthorised)));
    actions.append(button(label, `${label} — ${a.name}`, () => setActive(`/admin/agents/${encodeURIComponent(a.id)}`, !a.active, a.name)));
    tr.append(cell(a.name), cell(a.email), cell(serviceName(a.service_id)), cell(String(a.upcoming_bookings ?? "")),
      cell(a.active ? t("mgmt.active") : t("mgmt.inactive")), cell(actions));
    return tr;
  }));
}

function renderPoints() {
  $("points").replaceChildren(...state.points.map((p) => {
    const section = document.createElement("section");
    section.setAttribute("aria-labelledby", `point-h-${p.id}`);
    const h = document.createElement("h4");
    h.id = `point-h-${p.id}`;
    h.textContent = p.name;
    const form = document.createElement("form");
    form.noValidate = true;
    const wrap = document.createElement("div");
    wrap.className = "field";
    const label = document.createElement("label");
    const inputId = `point-${p.id}-address`;
    label.htmlFor = inputId;
    label.textContent = `${t("mgmt.point.address")} (${p.name})`;
    const input = document.createElement("input");
    input.id = inputId;
    input.value = p.address;
    input.maxLength = 500;
    input.autocomplete = "off";
    const error = document.createElement("p");
    error.className = "error";
    error.id = `${inputId}-error`;
    input.setAttribute("aria-describedby", error.id);
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "secondary";
    save.textContent = t("mgmt.point.save");
    save.setAttribute("aria-label", `${t("mgmt.point.save")} — ${p.name}`);
    wrap.append(label, input, error);
    form.append(wrap, save);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(form, `point-${p.id}`,
        () => api(`/admin/partner-points/${encodeURIComponent(p.id)}`, { method: "PATCH", body: { address: input.value } }),
        t("mgmt.saved"));
    });
    const staff = document.createElement("ul");
    staff.className = "lobby-list";
    staff.setAttribute("aria-label", `${t("mgmt.staff.h")} — ${p.name}`);
    staff.replaceChildren(...p.staff.map((s) => {
      const li = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = `${s.name} — ${s.email} (${s.active ? t("mgmt.active") : t("mgmt.inactive")})`;
      const action = s.active ? t("mgmt.deactivate") : t("mgmt.reactivate");
      li.append(text, button(action, `${action} — ${s.name}`,
        () => setActive(`/admin/partner-points/${encodeURIComponent(p.id)}/staff/${encodeURIComponent(s.id)}`, !s.active, s.name)));
      return li;
    }));
    section.append(h, form, staff);
    return section;
  }));
  fillSelect($("staff-point"), state.points, (p) => p.name);
}

function render() {
  renderMotifs();
  renderAgents();
  renderPoints();
  $("motif-legend").textContent = state.editing ? t("mgmt.motif.edit", { label: state.editing.label }) : t("mgmt.motif.new");
  $("motif-submit").textContent = state.editing ? t("mgmt.motif.save") : t("mgmt.motif.create");
  $("motif-cancel").hidden = !state.editing;
  $("motif-service_id").disabled = Boolean(state.editing);
}

async function reload() {
  const [services, agents, points] = await Promise.all([
    api("/admin/services"), api("/admin/agents"), api("/admin/partner-points"),
  ]);
  state.services = services.services;
  state.agents = agents.agents;
  state.points = points.partner_points;
  render();
}

function motifBody() {
  const body = { label: $("motif-label").value, needs_review: $("motif-needs_review").checked };
  for (const name of MOTIF_NUMBERS) {
    const raw = $(`motif-${name}`).value.trim();
    body[name] = raw === "" || Number.isNaN(Number(raw)) ? raw : Number(raw);
  }
  body.channels = [...document.querySelectorAll('#motif-form input[name="channel"]:checked')].map((c) => c.value);
  return body;
}

function editMotif(motif) {
  state.editing = motif;
  $("motif-label").value = motif.label;
  for (const name of MOTIF_NUMBERS) $(`motif-${name}`).value = String(motif[name]);
  for (const box of document.querySelectorAll('#motif-form input[name="channel"]')) box.checked = motif.channels.includes(box.value);
  $("motif-needs_review").checked = motif.needs_review;
  $("motif-service_id").value = motif.service_id;
  render();
  $("motif-label").focus();
}

function stopEditing() {
  state.editing = null;
  $("motif-form").reset();
  render();
}

async function saveMotif(event) {
  event.preventDefault();
  const form = $("motif-form");
  const body = motifBody();
  if (state.editing) {
    const id = state.editing.id;
    const saved = await attempt(form, "motif", () => api(`/admin/motifs/${encodeURIComponent(id)}`, { method: "PATCH", body }), t("mgmt.motif.saved", { label: body.label }));
    if (saved) stopEditing();
    return;
  }
  const service = $("motif-service_id").value;
  const created = await attempt(form, "motif",
    () => api(`/admin/services/${encodeURIComponent(service)}/motifs`, { method: "POST", body }),
    t("mgmt.motif.created", { label: body.label }));
  if (created) form.reset();
}

async function toggleMotif(motif) {
  await attempt($("motif-form"), "motif", () => api(`/admin/motifs/${encodeURIComponent(motif.id)}`, { method: "PATCH", body: { active: !motif.active } }),
    motif.active ? t("mgmt.motif.withdrawn", { label: motif.label }) : t("mgmt.motif.offered", { label: motif.label }));
}

async function setActive(path, active, name) {
  await attempt($("agent-form"), "agent", () => api(path, { method: "PATCH", body: { active } }),
    active ? t("mgmt.reactivated", { name }) : t("mgmt.deactivated", { name }));
}

function submitter(formId, prefix, path, body, done) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $(formId);
    const created = await attempt(form, prefix, () => api(path(), { method: "POST", body: body() }), done());
    if (created) form.reset();
  });
}

/** Wire the management section for a signed-in administrator. */
export async function setupManagement(unauthorised) {
  onUnauthorised = unauthorised;
  $("motif-form").addEventListener("submit", saveMotif);
  $("motif-cancel").addEventListener("click", stopEditing);
  submitter("service-form", "service", () => "/admin/services", () => ({ name: $("service-name").value }),
    () => t("mgmt.service.created", { name: $("service-name").value }));
  submitter("agent-form", "agent", () => "/admin/agents", () => ({
    name: $("agent-name").value, email: $("agent-email").value, password: $("agent-password").value,
    service_id: $("agent-service_id").value,
  }), () => t("mgmt.agent.created", { name: $("agent-name").value }));
  submitter("point-form", "point", () => "/admin/partner-points", () => ({
    name: $("point-name").value, address: $("point-address").value,
  }), () => t("mgmt.point.created", { name: $("point-name").value }));
  submitter("staff-form", "staff", () => `/admin/partner-points/${encodeURIComponent($("staff-point").value)}/staff`, () => ({
    name: $("staff-name").value, email: $("staff-email").value, password: $("staff-password").value,
  }), () => t("mgmt.staff.created", { name: $("staff-name").value }));
  try { await reload(); } catch (err) {
    if (err instanceof ApiError && err.status === 401) return onUnauthorised();
    say(t("common.error"), "error");
  }
}

export function rerenderManagement() {
  if (state.services.length || state.points.length) render();
  rerenderAvailability();
}
