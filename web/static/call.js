// Call room: the signalling session (join, frames, reconnection), the controls and the
// end of the call. Its parts: call.state.js (the shared state), call.peer.js (peer
// connections), call.lobby.js, call.chat.js (chat and files), call.quality.js; the
// pre-call check is call-precheck.js.
import { api, setCsrfToken } from "./api.js";
import { applyI18n, setupLanguageSwitch, t } from "./i18n.js";
import { helpPhone, precheck, renderChecks, showPhone, stopLevelMeter } from "./call-precheck.js";
import { Signaling } from "./signaling.js";
import { addFile, addMessage, setupChat } from "./call.chat.js";
import { addWaiting, enterWaitingRoom, offerInvite, removeWaiting } from "./call.lobby.js";
import { decodableVideoCodecs, onSubscribeOffer, publish, restartIce, sendAudio, sendLayers, setSourceOn, toggleScreenShare, updatePlaceholder } from "./call.peer.js";
import { onMediaError, renderFailure, retryNow, serviceLost, sessionStarted, setupFailures } from "./call.failure.js";
import { addParticipant, pin, removeParticipant, renderRemote, setLayout, sourceChanged, speakerChanged, watchTileSizes } from "./call.remote.js";
import { renderQuality, sampleLink, setLowData, showQuality } from "./call.quality.js";
import { $, alarm, call, showOnly, status, token } from "./call.state.js";

const MAX_RECONNECTS = 5;
/** What the server's refusal of the link means to its holder (docs/protocol.md, Errors). */
const LINK_REFUSALS = {
  "token-malformed": "call.link.bad",
  "token-invalid": "call.link.bad",
  "token-expired": "call.link.expired",
  "booking-cancelled": "call.cancelled",
  "booking-ended": "call.ended",
};

/** Enter the call; audio only sends no camera and, on a link judged too weak, receives no video. */
function enter(withVideo) {
  if (!withVideo && call.local) {
    for (const track of call.local.getVideoTracks()) { track.stop(); call.local.removeTrack(track); }
    if (call.network !== "good" || call.media !== "ok") setLowData(true);
  }
  stopLevelMeter();
  $("preview").srcObject = null;
  $("self").srcObject = call.local;
  $("camera").hidden = call.local.getVideoTracks().length === 0;
  alarm("");
  connect();
}

async function connect() {
  status(t("call.connecting"));
  const signaling = new Signaling();
  call.signaling = signaling;
  signaling.addEventListener("frame", (event) => onFrame(event.detail).catch((err) => console.error(err)));
  signaling.addEventListener("close", () => {
    if (call.finished || call.signaling !== signaling) return;
    status(t("call.lost"));
    if (call.reconnects < MAX_RECONNECTS) {
      call.reconnects += 1;
      setTimeout(() => { if (!call.finished) connect(); }, 1000 * call.reconnects);
    } else {
      serviceLost();
    }
  });
  try {
    await signaling.open();
  } catch {
    status(t("call.lost"));
    return;
  }
  const codecs = decodableVideoCodecs();
  signaling.send({ type: "join", token, protocol: 1, ...(codecs ? { codecs } : {}) });
}

async function onFrame(frame) {
  switch (frame.type) {
    case "joined": return onJoined(frame);
    case "lobby-waiting":
      if (frame.participant) return addWaiting(frame.participant);
      return enterWaitingRoom();
    case "lobby-left": return removeWaiting(frame.participant_id);
    case "answer":
      if (frame.pc === "publish" && call.publishPc) await call.publishPc.setRemoteDescription({ type: "answer", sdp: frame.sdp });
      return;
    case "offer":
      if (frame.pc === "subscribe") call.subscribeChain = call.subscribeChain.then(() => onSubscribeOffer(frame)).catch((err) => console.error(err));
      return;
    case "participant-joined":
      addParticipant(frame.participant);
      status(t("call.joined", { name: frame.participant.name }));
      renderRemote();
      return;
    case "participant-left": {
      const who = call.participants.get(frame.participant_id);
      removeParticipant(frame.participant_id);
      status(t("call.gone", { name: who?.name || "" }));
      updatePlaceholder();
      return;
    }
    case "end": return finish(t(frame.reason === "booking-cancelled" ? "call.cancelled" : "call.ended"));
    case "published":
      sourceChanged(frame);
      return renderRemote();
    case "unpublished":
      if (frame.source === "screen" && frame.participant_id !== call.me) $("screen").hidden = true;
      sourceChanged(frame);
      return renderRemote();
    case "chat": return addMessage(frame.name, frame.text);
    case "file": return addFile(frame);
    case "quality": return showQuality(frame);
    case "active-speaker": return speakerChanged(frame);
    case "send-layers": return sendLayers(frame);
    case "send-audio": return sendAudio(frame);
    case "error": return onError(frame);
    default: return undefined;
  }
}

function onError(frame) {
  // Too early (token-not-yet-valid, too-early): say from when, in the reader's language.
  if (typeof frame.not_before === "number") {
    const time = new Date(frame.not_before * 1000).toLocaleString(document.documentElement.lang, { dateStyle: "full", timeStyle: "short" });
    return finish(t("call.early", { time }));
  }
  const refusal = LINK_REFUSALS[frame.code] || (frame.code?.startsWith("token-") ? "call.link.bad" : null);
  if (refusal) return refuseLink(refusal);
  if (frame.code === "denied") return finish(t("call.denied"));
  if (frame.code === "replaced") return finish(t("call.replaced"));
  if (frame.code === "room-full") return finish(t("call.full"));
  if (frame.code === "room-ended") return finish(t("call.ended"));
  if (frame.fatal) return finish(t("common.error"));
  if (onMediaError(frame)) return undefined;
  console.warn("signalling error", frame);
  return undefined;
}

async function onJoined(frame) {
  call.reconnects = 0;
  if (call.ending) return sendEnd();  // reconnected only to end the call
  sessionStarted();
  // A new session (first join or reconnection): the server knows no peer connection of ours.
  call.publishPc?.close();
  call.subscribePc?.close();
  call.publishPc = null;
  call.subscribePc = null;
  call.subscribeChain = Promise.resolve();
  call.role = frame.role;
  call.room = frame.room;
  call.me = frame.participant_id;
  call.iceServers = frame.ice_servers || [];
  call.wanted.clear();  // a new session: the server knows no layer wish of ours
  for (const p of frame.participants || []) addParticipant(p);
  showOnly("room");
  renderRemote();
  $("end").hidden = call.role !== "host";
  if (call.role === "host" && call.room) offerInvite();
  status(call.participants.size ? t("call.incall") : t("call.waitother"));
  if (call.lowData) call.signaling.send({ type: "set-quality", mode: "audio-only" });
  if (!call.linkTimer) call.linkTimer = setInterval(() => { if (!call.finished) sampleLink(); }, 2000);
  await publish();
}

function toggle(button, kind, onKey, offKey) {
  const tracks = kind === "audio" ? call.local.getAudioTracks() : call.local.getVideoTracks();
  const off = button.getAttribute("aria-pressed") !== "true";
  for (const track of tracks) track.enabled = !off;
  button.setAttribute("aria-pressed", String(off));
  button.textContent = t(off ? onKey : offKey);
  if (tracks.length) setSourceOn(kind === "audio" ? "mic" : "camera", !off).catch((err) => console.warn("toggle", err));
}

/** The agent records the outcome with their signed-in session (booking id = room). */
async function recordOutcome(outcome) {
  try {
    const me = await api("/auth/me");
    if (me.csrf_token) setCsrfToken(me.csrf_token);
    await api(`/agent/bookings/${encodeURIComponent(call.room)}/outcome`, { method: "POST", body: { status: outcome } });
    $("outcome-status").textContent = t("agent.saved");
  } catch {
    $("outcome-status").textContent = t("common.error");
  }
}

/** The link itself is refused (not the network): say so, and where to turn instead. */
async function refuseLink(key) {
  finish("");  // the panel's heading says it
  $("link-help").dataset.key = key;
  $("h-link-help").textContent = t(key);
  $("link-help").hidden = false;
  $("h-link-help").focus();
  const phone = await helpPhone();
  if (phone) {
    showPhone($("link-phone-number"), phone);
    $("link-phone").hidden = false;
  }
}

/** After a media failure: no camera, no video received, and the connections started over. */
function continueAudioOnly() {
  for (const track of call.local?.getVideoTracks() || []) { track.stop(); call.local.removeTrack(track); }
  $("camera").hidden = true;
  setLowData(true);
  restartIce();
}

// The host ends the call for everybody. The page waits for the server's own `end` (sent
// to every member, the host included) before it lets go of the socket: an `end` sent
// while the socket was down would otherwise be lost and leave the others in the call.
// A frame that cannot go now goes after the reconnection's `joined`; the wait is bounded.
const END_WAIT_MS = 10000;

function endForEveryone() {
  if (call.finished || call.ending) return;
  call.ending = true;
  $("end").disabled = true;
  sendEnd();
  setTimeout(() => finish(t("call.ended")), END_WAIT_MS);
}

function sendEnd() {
  if (call.ending && !call.finished && call.signaling?.isOpen()) call.signaling.send({ type: "end" });
}

function finish(message) {
  if (call.finished) return;
  call.finished = true;
  clearInterval(call.linkTimer);
  clearTimeout(call.retryTimer);
  $("call-failure").hidden = true;
  call.signaling?.close();
  call.publishPc?.close();
  call.subscribePc?.close();
  for (const track of call.local?.getTracks() || []) track.stop();
  stopLevelMeter();
  showOnly(null);
  $("lobby").hidden = true;
  status(message);
  if (call.role === "host" && call.room) {
    $("outcome").hidden = false;
    $("h-outcome").focus();
  }
  // The survey is the citizen's: an invited interpreter or relative ("guest:…") is not asked.
  if (call.role === "guest" && call.room && !String(call.me || "").startsWith("guest:")) {
    $("survey-link").href = `/survey#booking=${encodeURIComponent(call.room)}&token=${encodeURIComponent(token)}`;
    $("survey").hidden = false;
  }
}

function init() {
  setupLanguageSwitch(() => {
    $("mute").textContent = t($("mute").getAttribute("aria-pressed") === "true" ? "call.unmute" : "call.mute");
    $("camera").textContent = t($("camera").getAttribute("aria-pressed") === "true" ? "call.camon" : "call.camoff");
    if (call.screen) $("share").textContent = t("call.share.stop");
    renderQuality();
    renderChecks();
    renderRemote();
    if ($("link-help").dataset.key) $("h-link-help").textContent = t($("link-help").dataset.key);
    renderFailure();
  });
  if (!token) {
    alarm(t("call.notoken"));
    return;
  }
  history.replaceState(null, "", location.pathname + location.search + location.hash);
  $("enter").addEventListener("click", () => enter(true));
  $("audio-only").addEventListener("click", () => enter(false));
  $("mute").addEventListener("click", () => toggle($("mute"), "audio", "call.unmute", "call.mute"));
  $("camera").addEventListener("click", () => toggle($("camera"), "video", "call.camon", "call.camoff"));
  $("hangup").addEventListener("click", () => { call.signaling?.send({ type: "leave" }); finish(t("call.left")); });
  $("leave-lobby").addEventListener("click", () => { call.signaling?.send({ type: "leave" }); finish(t("call.left")); });
  $("end").addEventListener("click", endForEveryone);
  setupChat();
  $("low-data").addEventListener("click", () => setLowData(!call.lowData));
  call.restartIce = restartIce;
  for (const [id, outcome] of [["outcome-done", "done"], ["outcome-noshow", "no-show"]]) {
    $(id).addEventListener("click", () => recordOutcome(outcome));
  }
  $("share").addEventListener("click", toggleScreenShare);
  $("layout").addEventListener("click", () => setLayout(call.layout === "grid" ? "speaker" : "grid"));
  $("unpin").addEventListener("click", () => pin(call.pinned));
  watchTileSizes();
  $("share").hidden = !navigator.mediaDevices?.getDisplayMedia;  // phones cannot share a screen
  setupFailures({
    restart: restartIce,
    audioOnly: continueAudioOnly,
    reconnect: () => { call.reconnects = 0; connect(); },
  });
  window.addEventListener("online", () => (call.failure ? retryNow() : restartIce()));
  navigator.connection?.addEventListener?.("change", () => restartIce());
  applyI18n();
  showOnly("precheck");
  precheck(call, token, onError);
}

init();
