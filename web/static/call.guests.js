// Inviting a third person into a call (an interpreter, a colleague, a relative): the
// agent names them and gets a link of their own to pass on by their own means. The
// person waits in the lobby under that name until the agent lets them in. Used from the
// agenda (agent.js) and during the call (call.lobby.js), with the agent's session.
import { api, ApiError } from "./api.js";
import { fieldErrors, lang } from "./i18n.js";

const TEXT = {
  fr: {
    open: "Inviter une personne",
    h: "Inviter une personne dans l'appel",
    name: "Son nom (affiché aux autres)",
    kind: "Qualité",
    interpreter: "Interprète (LSF, langue étrangère)",
    colleague: "Collègue",
    relative: "Proche ou accompagnant",
    "k.interpreter": "interprète",
    "k.colleague": "collègue",
    "k.relative": "proche",
    "k.companion": "accompagne l'usager, nommé(e) à la réservation",
    invited: "Déjà invités : {list}",
    create: "Créer son lien",
    link: "Lien de {name}",
    copy: "Copier le lien",
    copied: "Lien copié.",
    close: "Fermer",
    hint: "Transmettez-lui ce lien (e-mail, SMS). Au moment du rendez-vous, elle attendra dans la salle d'attente : faites-la entrer. L'appel réunit 4 personnes au plus.",
    closed: "Ce rendez-vous est annulé ou terminé : plus d'invitation possible.",
    many: "Ce rendez-vous a déjà reçu le nombre maximal d'invitations.",
    error: "Une erreur est survenue. Réessayez.",
  },
  en: {
    open: "Invite someone",
    h: "Invite someone into the call",
    name: "Their name (shown to the others)",
    kind: "Role",
    interpreter: "Interpreter (sign language, foreign language)",
    colleague: "Colleague",
    relative: "Relative or companion",
    "k.interpreter": "interpreter",
    "k.colleague": "colleague",
    "k.relative": "relative",
    "k.companion": "with the citizen, named when booking",
    invited: "Already invited: {list}",
    create: "Create their link",
    link: "Link for {name}",
    copy: "Copy the link",
    copied: "Link copied.",
    close: "Close",
    hint: "Pass them this link (email, SMS). At the time of the appointment they wait in the waiting room: let them in. The call holds 4 people at most.",
    closed: "This appointment is cancelled or over: no more invitations.",
    many: "This appointment has had the most invitations it may have.",
    error: "Something went wrong. Please try again.",
  },
};
const KINDS = ["interpreter", "colleague", "relative"];
let counter = 0;

export function tr(key, vars = {}) {
  const text = (TEXT[lang] || TEXT.fr)[key] || TEXT.fr[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/**
 * An invite form for `bookingId` in `container` (emptied first). `onUnauthorised` is
 * called when the session is gone; `heading` is the tag of its title.
 */
export function inviteForm(container, bookingId, { onUnauthorised = () => {}, heading = "h3" } = {}) {
  counter += 1;
  const id = (name) => `invite-${counter}-${name}`;
  const name = el("input", { id: id("name"), autocomplete: "off", maxLength: 100 });
  name.setAttribute("aria-describedby", id("name-error"));
  const nameError = el("p", { id: id("name-error"), className: "error" });
  const kind = el("select", { id: id("kind") }, ...KINDS.map((k) => el("option", { value: k, textContent: tr(k) })));
  kind.value = "interpreter";
  const submit = el("button", { type: "submit", textContent: tr("create") });
  const status = el("p", { className: "notice" });
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  const result = el("div", { className: "invite-result", hidden: true });
  const invited = el("p", { className: "hint invite-list" });
  const form = el(
    "form",
    { className: "invite-form", noValidate: true },
    el(heading, { id: id("h"), textContent: tr("h"), tabIndex: -1 }),
    invited,
    el("div", { className: "field" }, el("label", { htmlFor: id("name"), textContent: tr("name") }), name, nameError),
    el("div", { className: "field" }, el("label", { htmlFor: id("kind"), textContent: tr("kind") }), kind),
    el("div", { className: "actions" }, submit),
    status,
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    nameError.textContent = "";
    name.removeAttribute("aria-invalid");
    status.textContent = "";
    submit.disabled = true;
    try {
      const data = await api(`/agent/bookings/${encodeURIComponent(bookingId)}/guests`, {
        method: "POST", body: { name: name.value, kind: kind.value },
      });
      showLink(result, data);
      name.value = "";
      listInvited(invited, bookingId);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return onUnauthorised();
      if (err instanceof ApiError && err.status === 422) {
        const messages = fieldErrors(err.body);
        nameError.textContent = messages.name || messages.kind || tr("error");
        name.setAttribute("aria-invalid", "true");
        name.focus();
      } else if (err instanceof ApiError && err.status === 409) {
        status.textContent = tr(err.body?.error === "too-many-guests" ? "many" : "closed");
      } else {
        status.textContent = tr("error");
      }
    } finally {
      submit.disabled = false;
    }
    return undefined;
  });
  container.replaceChildren(form);
  listInvited(invited, bookingId);
  return form;
}

/** Who already has a link: the companion the citizen named, the guests invited. */
async function listInvited(target, bookingId) {
  let guests = [];
  try {
    guests = (await api(`/agent/bookings/${encodeURIComponent(bookingId)}/guests`)).guests || [];
  } catch { /* the form works without the list */ }
  const list = guests.map((g) => `${g.name} (${tr(`k.${g.kind}`)})`).join(", ");
  target.textContent = list ? tr("invited", { list }) : "";
}

function showLink(result, data) {
  const linkId = `invite-link-${data.guest.id}`;
  const link = el("input", { id: linkId, readOnly: true, value: data.url, className: "invite-link" });
  const copied = el("span", { className: "hint" });
  copied.setAttribute("role", "status");
  const copy = el("button", { type: "button", className: "secondary", textContent: tr("copy") });
  copy.addEventListener("click", async () => {
    link.select();
    try { await navigator.clipboard.writeText(data.url); } catch { document.execCommand?.("copy"); }
    copied.textContent = tr("copied");
  });
  result.replaceChildren(
    el("div", { className: "field" }, el("label", { htmlFor: linkId, textContent: tr("link", { name: data.guest.name }) }), link),
    el("div", { className: "actions" }, copy, copied),
    el("p", { className: "hint", textContent: tr("hint") }),
  );
  result.hidden = false;
  link.focus();
  link.select();
}
