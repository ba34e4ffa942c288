// The call page's one state object, shared by the call.*.js modules, and the page's
// status lines. Exposed as window.visioguichet for diagnostics (connection figures in
// the browser console and in tests).
import { t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);
export const token = new URLSearchParams(location.hash.slice(1)).get("token");

export const call = {
  signaling: null, role: null, me: null, iceServers: [],
  local: null, publishPc: null, subscribePc: null,
  tracksByMid: new Map(), remoteStream: new MediaStream(), participants: new Map(),
  subscribeChain: Promise.resolve(), layersChain: Promise.resolve(), finished: false, ending: false, meter: null,
  sources: {}, reconnects: 0, restarting: false, note: null, off: {},
};
window.visioguichet = call;

const NOTE_MS = 8000;

export function status(text) {
  clearTimeout(call.noteTimer);
  call.note = null;
  $("status").textContent = text;
}

/** The call's standing line: in the call, or waiting for the other person. */
export function callStatus() {
  if (!call.finished && call.me) status(t(call.participants.size ? "call.incall" : "call.waitother"));
}

/** A passing notice (a new message, a document): it gives way to the call's standing
 * line after a few seconds, or as soon as what it announces is looked at. */
export function note(text) {
  status(text);
  call.note = text;
  call.noteTimer = setTimeout(clearNote, NOTE_MS);
}

export function clearNote() {
  if (call.note !== null && $("status").textContent === call.note) callStatus();
  call.note = null;
}
export function alarm(text) { $("alert").textContent = text; }

/** One of the page's three stages: the pre-call check, the waiting room, the room. */
export function showOnly(section) {
  for (const id of ["precheck", "waiting-room", "room"]) $(id).hidden = id !== section;
  if (section !== "waiting-room") clearInterval(call.waitTimer);
}
