// "Quelqu'un vous accompagne ?": the citizen may name a third person for the call (a
// relative, a carer, an interpreter of their own), who gets a link of their own by email
// or SMS and waits in the lobby under that name until the agent lets them in.
import { lang } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const TEXT = {
  fr: {
    toggle: "Une autre personne participera avec moi (proche, aidant, interprète)",
    legend: "La personne qui vous accompagne",
    hint: "Elle reçoit son propre lien de connexion par e-mail ou SMS.",
    name: "Nom de la personne qui vous accompagne",
    email: "Son e-mail",
    phone: "Son téléphone mobile",
    needName: "Indiquez le nom de la personne qui vous accompagne.",
    need: "Indiquez l'adresse e-mail ou le numéro de téléphone de la personne qui vous accompagne.",
    badEmail: "Cette adresse e-mail ne semble pas valide (exemple : nom@exemple.fr).",
    summary: "Accompagné(e) par",
  },
  en: {
    toggle: "Someone else will take part with me (relative, carer, interpreter)",
    legend: "The person with you",
    hint: "They get their own link by email or SMS.",
    name: "Name of the person with you",
    email: "Their email",
    phone: "Their mobile phone",
    needName: "Give the name of the person with you.",
    need: "Give the email address or the phone number of the person with you.",
    badEmail: "This email address does not look valid (example: name@example.com).",
    summary: "With",
  },
};
const FIELDS = ["companion-name", "companion-email", "companion-phone"];

export function tr(key) { return (TEXT[lang] || TEXT.fr)[key]; }

/** Fill the fields' words (again after a change of language). */
export function renderCompanion() {
  for (const el of document.querySelectorAll("[data-companion-text]")) el.textContent = tr(el.dataset.companionText);
}

export function setupCompanion() {
  renderCompanion();
  const toggle = $("companion-toggle");
  const show = () => { $("companion-fields").hidden = !toggle.checked; };
  toggle.addEventListener("change", show);
  show();
}

/**
 * The companion to send ({name, email?, phone?}), null when none is named, or undefined
 * when the fields are wrong (each error shown with `setFieldError`; their ids returned
 * in `problems`).
 */
export function readCompanion(setFieldError, problems) {
  for (const field of FIELDS) setFieldError(field, "");
  if (!$("companion-toggle").checked) return null;
  const name = $("companion-name").value.trim();
  const email = $("companion-email").value.trim();
  const phone = $("companion-phone").value.trim();
  const before = problems.length;
  if (!name) problems.push(["companion-name", tr("needName")]);
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.push(["companion-email", tr("badEmail")]);
  if (!email && !phone) problems.push(["companion-email", tr("need")]);
  if (problems.length > before) return undefined;
  const companion = { name };
  if (email) companion.email = email;
  if (phone) companion.phone = phone;
  return companion;
}

/** The summary's row for the companion, or null. */
export function companionRow(companion) {
  if (!companion) return null;
  const contact = [companion.email, companion.phone].filter(Boolean).join(" · ");
  return [tr("summary"), `${companion.name} (${contact})`];
}
