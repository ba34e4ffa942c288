// Statistics dashboard: filters, bar charts drawn as inline SVG, the same figures as a table, CSV;
// then the management of the organisation (admin.manage.js) and its closed days
// (admin.closures.js), and the operator's identity and legal pages (admin.site.js).
import { api, ApiError, isoDay, setCsrfToken } from "./api.js";
import { rerenderClosures, setupClosures } from "./admin.closures.js";
import { rerenderManagement, setupManagement } from "./admin.manage.js";
import { rerenderSite, setupSite } from "./admin.site.js";
import { applyI18n, fieldErrors, setupLanguageSwitch, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const COLUMNS = ["group", "booked", "honoured", "no_shows", "cancelled", "lead_time_hours", "call_duration_min", "audio_only_share", "survey_score"];
const CHARTS = [
  ["booked", (r) => r.booked, ""],
  ["no_show_rate", (r) => (r.booked ? (100 * r.no_shows) / r.booked : 0), " %"],
  ["call_duration_min", (r) => r.call_duration_min, " min"],
  ["audio_only_share", (r) => (r.audio_only_share == null ? null : 100 * r.audio_only_share), " %"],
  ["survey_score", (r) => r.survey_score, " / 5"],
];
let rows = [];

function toLogin() { location.assign(`/agent/login?next=${encodeURIComponent(location.pathname)}`); }

function query(format) {
  return `from=${$("from").value}&to=${$("to").value}&group_by=${$("group").value}&format=${format}`;
}

/** The group's readable name (motif label, agent name...); bookings without a partner
 * point form their own group. */
function groupName(row) { return row.label || (row.group ? row.group : t("admin.g.none")); }

function fmt(value) {
  if (value == null) return "—";
  return typeof value === "number" ? String(Math.round(value * 10) / 10) : String(value);
}

/** A horizontal bar chart as SVG, with a text alternative listing every value. Each
 * group's full name is on its own line above its bar (names are long: motifs, agents). */
function barChart(title, values, unit) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const width = 320;
  const barMax = 250;
  const rowH = 40;
  const height = Math.max(1, values.length) * rowH + 4;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const described = values.map(([g, v]) => `${g} ${fmt(v)}${v == null ? "" : unit}`).join(", ");
  svg.setAttribute("aria-label", `${title} : ${described || "—"}`);
  const max = Math.max(1e-9, ...values.map(([, v]) => v || 0));
  const labels = [];
  values.forEach(([group, value], i) => {
    const y = i * rowH + 2;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(y + 13));
    label.setAttribute("font-size", "12");
    label.textContent = String(group);
    labels.push(label);
    const barWidth = barMax * ((value || 0) / max);
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", "0");
    bar.setAttribute("y", String(y + 18));
    bar.setAttribute("height", "16");
    bar.setAttribute("width", String(Math.max(0, barWidth)));
    bar.setAttribute("fill", "#0b4fa3");
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", String(barWidth + 5));
    text.setAttribute("y", String(y + 31));
    text.setAttribute("font-size", "12");
    text.textContent = `${fmt(value)}${value == null ? "" : unit}`;
    svg.append(label, bar, text);
  });
  figure.append(caption, svg);
  // Once laid out, a name wider than the chart is narrowed to fit rather than cut.
  requestAnimationFrame(() => {
    for (const label of labels) {
      let length = 0;
      try { length = label.getComputedTextLength(); } catch { /* not rendered */ }
      if (length > width) {
        label.setAttribute("textLength", String(width));
        label.setAttribute("lengthAdjust", "spacingAndGlyphs");
      }
    }
  });
  return figure;
}

function render() {
  $("head").replaceChildren(...COLUMNS.map((c) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = t(`admin.c.${c}`);
    return th;
  }));
  $("rows").replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    for (const c of COLUMNS) {
      const td = document.createElement("td");
      const value = c === "group" ? groupName(r) : r[c];
      td.textContent = fmt(c === "audio_only_share" && value != null ? 100 * value : value);
      tr.append(td);
    }
    return tr;
  }));
  $("charts").replaceChildren(...CHARTS.map(([key, pick, unit]) => barChart(t(`admin.c.${key}`), rows.map((r) => [groupName(r), pick(r)]), unit)));
  $("csv").href = `/api/stats?${query("csv")}`;
}

async function load() {
  $("status").textContent = t("common.loading");
  try {
    const data = await api(`/stats?${query("json")}`);
    rows = data.rows || [];
    $("status").textContent = rows.length ? "" : t("admin.none");
    render();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    $("status").textContent = err instanceof ApiError && err.body.fields ? Object.values(fieldErrors(err.body)).join(" ") : t("common.error");
  }
}

async function init() {
  setupLanguageSwitch(() => { render(); rerenderManagement(); rerenderClosures(); rerenderSite(); });
  const params = new URLSearchParams(location.search);
  const today = new Date();
  const monthAgo = new Date();
  monthAgo.setDate(monthAgo.getDate() - 30);
  $("from").value = params.get("from") || isoDay(monthAgo);
  $("to").value = params.get("to") || isoDay(today);
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  $("logout").addEventListener("click", async () => {
    try { await api("/auth/logout", { method: "POST", body: {} }); } catch { /* signed out anyway */ }
    setCsrfToken(null);
    toLogin();
  });
  try {
    const me = await api("/auth/me");
    if (me.csrf_token) setCsrfToken(me.csrf_token);
    // An agent or a partner point's staff has a console of their own, not this one.
    const role = me.user?.role;
    if (role && role !== "admin") {
      location.replace(role === "partner" ? "/partner" : "/agent");
      return undefined;
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
  }
  applyI18n();
  render();
  await load();
  await setupManagement(toLogin);
  await setupClosures(toLogin);
  await setupSite(toLogin);
}

init();
