// The call page's one state object, shared by the call.*.js modules, and the page's
// status lines. Exposed as window.visioguichet for diagnostics (connection figures in
// the browser console and in tests).

export const $ = (id) => document.getElementById(id);
export const token = new URLSearchParams(location.hash.slice(1)).get("token");

export const call = {
  signaling: null, role: null, me: null, iceServers: [],
  local: null, publishPc: null, subscribePc: null,
  tracksByMid: new Map(), remoteStream: new MediaStream(), participants: new Map(),
  subscribeChain: Promise.resolve(), layersChain: Promise.resolve(), finished: false, meter: null,
  sources: {}, reconnects: 0, restarting: false,
};
window.visioguichet = call;

export function status(text) { $("status").textContent = text; }
export function alarm(text) { $("alert").textContent = text; }

/** One of the page's three stages: the pre-call check, the waiting room, the room. */
export function showOnly(section) {
  for (const id of ["precheck", "waiting-room", "room"]) $(id).hidden = id !== section;
  if (section !== "waiting-room") clearInterval(call.waitTimer);
}
