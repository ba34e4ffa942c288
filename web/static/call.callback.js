// "Être rappelé(e)": when the pre-call check finds that video cannot work, or the call
// fails, the citizen leaves a number and an agent of the service calls them back (the
// agenda and the list beside the live queue show it). The help line stays shown beside
// it. The form goes into whichever failure panel is visible; the join token says which
// appointment it is for.
import { fieldErrors, lang } from "./i18n.js";
import { $, token } from "./call.state.js";

const TEXT = {
  fr: {
    h: "Être rappelé(e) par le service",
    lead: "Laissez votre numéro : un agent vous appelle dès que possible.",
    phone: "Votre numéro de téléphone",
    hint: "Exemple : 06 12 34 56 78",
    send: "Demander à être rappelé(e)",
    sent: "C'est noté : un agent vous rappellera au {phone}.",
    over: "Ce rendez-vous n'est plus en cours : appelez le service.",
    error: "La demande n'a pas pu être envoyée. Réessayez, ou appelez le service.",
  },
  en: {
    h: "Be called back by the service",
    lead: "Leave your number: an agent calls you as soon as possible.",
    phone: "Your phone number",
    hint: "Example: 06 12 34 56 78 or +44 20 7946 0958",
    send: "Ask to be called back",
    sent: "Noted: an agent will call you back at {phone}.",
    over: "This appointment is no longer running: call the service.",
    error: "The request could not be sent. Try again, or call the service.",
  },
};
// The panels that say video cannot work: the pre-call check's, and the call's.
const PANELS = { fallback: "precheck", "call-failure": "call" };

function tr(key, vars = {}) {
  const text = (TEXT[lang] || TEXT.fr)[key];
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

let form = null;
let moment = "precheck";

function build() {
  const input = el("input", { id: "callback-phone", type: "tel", autocomplete: "tel", inputMode: "tel", maxLength: 30 });
  input.setAttribute("aria-describedby", "callback-hint callback-error");
  const error = el("p", { id: "callback-error", className: "error" });
  const status = el("p", { id: "callback-status" });
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  const send = el("button", { type: "submit", id: "callback-send" });
  const built = el(
    "form",
    { id: "callback", className: "panel callback-form", noValidate: true },
    el("h3", { id: "callback-h" }),
    el("p", { id: "callback-lead" }),
    el("div", { className: "field" },
      el("label", { htmlFor: "callback-phone", id: "callback-label" }),
      el("span", { className: "hint", id: "callback-hint" }),
      input, error),
    el("div", { className: "actions" }, send),
    status,
  );
  built.addEventListener("submit", (event) => { event.preventDefault(); ask(input, error, status, send); });
  return built;
}

function render() {
  if (!form) return;
  for (const [id, key] of [["callback-h", "h"], ["callback-lead", "lead"], ["callback-label", "phone"], ["callback-hint", "hint"], ["callback-send", "send"]]) {
    const node = form.querySelector(`#${id}`);
    if (node.textContent !== tr(key)) node.textContent = tr(key);
  }
}

async function ask(input, error, status, send) {
  error.textContent = "";
  input.removeAttribute("aria-invalid");
  status.textContent = "";
  send.disabled = true;
  try {
    const response = await fetch("/api/callbacks", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ phone: input.value, moment }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 201) {
      status.textContent = tr("sent", { phone: body.phone || input.value });
    } else if (response.status === 422) {
      error.textContent = fieldErrors(body).phone || tr("error");
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else {
      status.textContent = tr(response.status === 409 ? "over" : "error");
    }
  } catch {
    status.textContent = tr("error");
  } finally {
    send.disabled = false;
  }
}

/** Put the form after the failure panel now shown (outside its alert, so a screen
 * reader does not read the form as part of it), in the page's language. */
function place() {
  for (const [id, when] of Object.entries(PANELS)) {
    const panel = $(id);
    if (!panel || panel.hidden || panel.closest("[hidden]")) continue;
    form = form || build();
    moment = when;
    if (form.previousElementSibling !== panel) panel.after(form);
    form.hidden = false;
    render();
    return;
  }
  if (form) form.hidden = true;
}

function watch() {
  if (!token) return;
  const observer = new MutationObserver(place);
  for (const id of Object.keys(PANELS)) {
    const panel = $(id);
    if (panel) observer.observe(panel, { attributes: true, attributeFilter: ["hidden"] });
  }
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  place();
}

watch();
