// What this page knows of the other people in the call, said over the stage: their name,
// and whether they came in audio only, turned their camera or microphone off. Learnt
// from the room's frames: who is there (joined, participant-joined) and what each one
// publishes (published, unpublished).
import { t } from "./i18n.js";
import { $, call } from "./call.state.js";

/** A participant as the server describes one ({id, name, role, sources}). */
export function addParticipant(participant) {
  const sources = new Set(participant.sources || []);
  call.participants.set(participant.id, { ...participant, sources, seen: new Set(sources) });
}

/** A `published` / `unpublished` frame about somebody else. */
export function sourceChanged(frame) {
  const participant = call.participants.get(frame.participant_id);
  if (!participant || frame.participant_id === call.me) return;
  if (frame.type === "published") {
    participant.sources.add(frame.source);
    participant.seen.add(frame.source);
  } else {
    participant.sources.delete(frame.source);
  }
}

/** The first other participant (a call is an agent and a citizen, or their devices). */
export function other() { return call.participants.values().next().value || null; }

/** "Lucie Bernard — audio seulement", "— caméra coupée, micro coupé"; the name alone
 * when both are on; "se connecte" before anything is published. */
export function describe(participant) {
  if (participant.seen.size === 0) return t("call.remote.joining", { name: participant.name });
  const states = [];
  if (!participant.sources.has("camera")) {
    states.push(t(participant.seen.has("camera") ? "call.remote.camoff" : "call.remote.audioonly"));
  }
  if (!participant.sources.has("mic")) states.push(t("call.remote.micoff"));
  return states.length ? `${participant.name} — ${states.join(", ")}` : participant.name;
}

/** The stage: the other person's picture with their name (and a microphone turned off),
 * or, without a picture, a dark placeholder that says who is there and why. */
export function renderRemote() {
  const participant = other();
  const live = call.remoteStream.getVideoTracks().some((tr) => tr.readyState === "live" && !tr.muted);
  const picture = Boolean(participant && participant.sources.has("camera") && live);
  const placeholder = participant ? describe(participant) : t("call.waitother");
  if ($("placeholder").textContent !== placeholder) $("placeholder").textContent = placeholder;
  $("placeholder").hidden = picture;
  const who = picture ? describe(participant) : "";
  if ($("remote-who").textContent !== who) $("remote-who").textContent = who;
  $("remote-who").hidden = !who;
}
