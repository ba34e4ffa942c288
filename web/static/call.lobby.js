// Lobby: the citizen's waiting room, the host's list of who waits to be let in, and the
// host's invitation of a third person (an interpreter, a colleague, a relative).
import { api, setCsrfToken } from "./api.js";
import { inviteForm, tr as inviteText } from "./call.guests.js";
import { t } from "./i18n.js";
import { $, call, showOnly, status } from "./call.state.js";
import "./call.callback.js";  // "call me back", beside the failure panels

/** The citizen waits for the agent: say so, show for how long, and let them leave. */
export function enterWaitingRoom() {
  if (!$("waiting-room").hidden) return;
  showOnly("waiting-room");
  status(t("call.waiting"));  // said once, on the status line (the panel does not repeat it)
  $("h-waiting-room").focus();
  const since = Date.now();
  const tick = () => {
    const minutes = Math.floor((Date.now() - since) / 60000);
    $("waited").textContent = minutes > 0 ? t("call.waited", { n: minutes }) : "";
  };
  tick();
  call.waitTimer = setInterval(tick, 30000);
}

export function addWaiting(participant) {
  removeWaiting(participant.id);
  const li = document.createElement("li");
  li.dataset.participantId = participant.id;
  const name = document.createElement("span");
  name.textContent = participant.name;
  const admit = document.createElement("button");
  admit.type = "button";
  admit.textContent = t("call.admit");
  admit.setAttribute("aria-label", `${t("call.admit")} ${participant.name}`);
  admit.addEventListener("click", () => { call.signaling.send({ type: "admit", participant_id: participant.id }); removeWaiting(participant.id); });
  const deny = document.createElement("button");
  deny.type = "button";
  deny.className = "secondary";
  deny.textContent = t("call.deny");
  deny.setAttribute("aria-label", `${t("call.deny")} ${participant.name}`);
  deny.addEventListener("click", () => { call.signaling.send({ type: "deny", participant_id: participant.id }); removeWaiting(participant.id); });
  li.append(name, admit, deny);
  $("waiting").append(li);
  $("lobby").hidden = false;
  status(t("call.waits", { name: participant.name }));
}

export function removeWaiting(id) {
  for (const li of $("waiting").querySelectorAll("li")) if (li.dataset.participantId === id) li.remove();
  $("lobby").hidden = $("waiting").children.length === 0;
}

/** The host may invite a third person during the call: a link to pass on, the person
 * then waits in the lobby. Shown once, for hosts (the agent's session does the rest). */
export function offerInvite() {
  if ($("invite-toggle")) return;
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.id = "invite-toggle";
  toggle.textContent = inviteText("open");
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", "invite-panel");
  const panel = document.createElement("section");
  panel.id = "invite-panel";
  panel.className = "panel";
  panel.hidden = true;
  toggle.addEventListener("click", async () => {
    const open = panel.hidden;
    if (open && !panel.firstChild) {
      try {
        const me = await api("/auth/me");
        if (me.csrf_token) setCsrfToken(me.csrf_token);
      } catch { /* the form says what went wrong when sent */ }
      const form = inviteForm(panel, call.room, { heading: "h2", onUnauthorised: () => location.assign("/agent/login") });
      panel.setAttribute("aria-labelledby", form.querySelector("h2").id);
    }
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) panel.querySelector("input")?.focus();
  });
  document.querySelector("#room .controls.more")?.append(toggle);
  $("lobby").after(panel);
}
