// Call room: waiting room, lobby, publish + subscribe peer connections through the SFU,
// chat, documents, quality, reconnection. The pre-call check is in call-precheck.js.
import { api, setCsrfToken } from "./api.js";
import { applyI18n, setupLanguageSwitch, t } from "./i18n.js";
import { precheck, renderChecks, stopLevelMeter } from "./call-precheck.js";
import { gatheringComplete, Signaling } from "./signaling.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("token");

const call = {
  signaling: null, role: null, me: null, iceServers: [],
  local: null, publishPc: null, subscribePc: null,
  tracksByMid: new Map(), remoteStream: new MediaStream(), participants: new Map(),
  subscribeChain: Promise.resolve(), layersChain: Promise.resolve(), finished: false, meter: null,
  sources: {}, reconnects: 0, restarting: false,
};
const MAX_RECONNECTS = 5;
// Exposed for diagnostics (connection figures in the browser console and in tests).
window.visioguichet = call;

function status(text) { $("status").textContent = text; }
function alarm(text) { $("alert").textContent = text; }

function showOnly(section) {
  for (const id of ["precheck", "waiting-room", "room"]) $(id).hidden = id !== section;
  if (section !== "waiting-room") clearInterval(call.waitTimer);
}

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
    }
  });
  try {
    await signaling.open();
  } catch {
    status(t("call.lost"));
    return;
  }
  signaling.send({ type: "join", token, protocol: 1 });
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
      call.participants.set(frame.participant.id, frame.participant);
      status(t("call.joined", { name: frame.participant.name }));
      return;
    case "participant-left": {
      const who = call.participants.get(frame.participant_id);
      call.participants.delete(frame.participant_id);
      status(t("call.gone", { name: who?.name || "" }));
      updatePlaceholder();
      return;
    }
    case "end": return finish(t(frame.reason === "booking-cancelled" ? "call.cancelled" : "call.ended"));
    case "unpublished":
      if (frame.source === "screen" && frame.participant_id !== call.me) $("screen").hidden = true;
      return undefined;
    case "chat": return addMessage(frame.name, frame.text);
    case "file": return addFile(frame);
    case "quality": return showQuality(frame);
    case "send-layers": return sendLayers(frame);
    case "error": return onError(frame);
    default: return undefined;
  }
}

/** The citizen waits for the agent: say so, show for how long, and let them leave. */
function enterWaitingRoom() {
  if (!$("waiting-room").hidden) return;
  showOnly("waiting-room");
  status(t("call.waiting"));
  $("h-waiting-room").focus();
  const since = Date.now();
  const tick = () => {
    const minutes = Math.floor((Date.now() - since) / 60000);
    $("waited").textContent = minutes > 0 ? t("call.waited", { n: minutes }) : "";
  };
  tick();
  call.waitTimer = setInterval(tick, 30000);
}

function onError(frame) {
  // Too early (token-not-yet-valid, too-early): say from when, in the reader's language.
  if (typeof frame.not_before === "number") {
    const time = new Date(frame.not_before * 1000).toLocaleString(document.documentElement.lang, { dateStyle: "full", timeStyle: "short" });
    return finish(t("call.early", { time }));
  }
  if (frame.code === "booking-cancelled") return finish(t("call.cancelled"));
  if (frame.code === "booking-ended") return finish(t("call.ended"));
  if (frame.code?.startsWith("token-")) return finish(t("call.tokenbad"));
  if (frame.code === "denied") return finish(t("call.denied"));
  if (frame.code === "replaced") return finish(t("call.replaced"));
  if (frame.code === "room-ended") return finish(t("call.ended"));
  if (frame.fatal) return finish(t("common.error"));
  console.warn("signalling error", frame);
  return undefined;
}

async function onJoined(frame) {
  call.reconnects = 0;
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
  for (const p of frame.participants || []) call.participants.set(p.id, p);
  showOnly("room");
  $("end").hidden = call.role !== "host";
  status(call.participants.size ? t("call.incall") : t("call.waitother"));
  if (call.lowData) call.signaling.send({ type: "set-quality", mode: "audio-only" });
  if (!call.linkTimer) call.linkTimer = setInterval(() => { if (!call.finished) sampleLink(); }, 2000);
  await publish();
}

async function publish() {
  if (call.publishPc) return;
  const pc = new RTCPeerConnection({ iceServers: call.iceServers });
  call.publishPc = pc;
  const sources = {};
  const transceivers = [];
  for (const track of call.local.getAudioTracks().slice(0, 1)) transceivers.push([pc.addTransceiver(track, { direction: "sendonly", streams: [call.local] }), "mic"]);
  for (const track of call.local.getVideoTracks().slice(0, 1)) transceivers.push([addCamera(pc, track), "camera"]);
  if (call.screen) {
    // Publishing again (ICE restart) while sharing: the screen goes on the new connection too.
    call.screen.transceiver = pc.addTransceiver(call.screen.track, { direction: "sendonly" });
    transceivers.push([call.screen.transceiver, "screen"]);
  }
  if (!transceivers.length) return;
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  for (const [transceiver, source] of transceivers) sources[transceiver.mid] = source;
  call.sources = sources;
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed" && pc === call.publishPc) restartIce();
    if (pc.connectionState === "connected" && !call.finished) status(t(call.participants.size ? "call.incall" : "call.waitother"));
  });
  call.signaling.send({ type: "publish", sdp: pc.localDescription.sdp, sources });
}

// Camera simulcast, lowest layer first (the SFU numbers layers in a=simulcast order,
// sfu/simulcast_sdp.py): each viewer gets the largest layer its link carries. The top
// layer is 360p whatever the camera gives. Chromium's encoder (libwebrtc) sends at most
// two layers of a capture under 960x540 and one under 480x270, dropping the largest (a
// 640x360 capture scaled 4/2/1 sends 160 and 320 px, never 640): the pre-call check asks
// for 960x540 so all three go; a smaller capture sends the layers it can, from the top.
const CAMERA_LAYERS = [
  { rid: "q", height: 90, maxBitrate: 150_000 },
  { rid: "h", height: 180, maxBitrate: 400_000 },
  { rid: "f", height: 360, maxBitrate: 1_200_000 },
];

/** The camera's send encodings for its capture size (one, without rid, below 480x270). */
function cameraEncodings(track) {
  const { width = 0, height = 0 } = track.getSettings?.() || {};
  const pixels = width * height;
  const count = pixels >= 960 * 540 ? 3 : pixels >= 480 * 270 ? 2 : 1;
  const shortSide = Math.min(width, height);  // a phone held upright reports 540x960
  const scaled = ({ height: layer, maxBitrate }) => ({ maxBitrate, scaleResolutionDownBy: Math.max(1, shortSide / layer) });
  const top = CAMERA_LAYERS.at(-1);
  if (!shortSide || count === 1) return [scaled(top)];
  return CAMERA_LAYERS.slice(-count).map((layer) => ({ rid: layer.rid, ...scaled(layer) }));
}

/**
 * The camera's transceiver: simulcast when the browser takes it, else one encoding of
 * the top layer's size, else whatever the browser does by default.
 */
function addCamera(pc, track) {
  const init = { direction: "sendonly", streams: [call.local] };
  const layers = cameraEncodings(track);
  const { maxBitrate, scaleResolutionDownBy } = layers.at(-1);
  const attempts = layers.length > 1 ? [layers] : [];
  attempts.push([{ maxBitrate, scaleResolutionDownBy }]);
  for (const sendEncodings of attempts) {
    try {
      return pc.addTransceiver(track, { ...init, sendEncodings });
    } catch (err) {
      console.warn(`camera: ${sendEncodings.length} encoding(s) refused`, err);
    }
  }
  return pc.addTransceiver(track, init);
}

/**
 * A server `send-layers` frame: which simulcast encodings of a source somebody
 * receives. The others stop (no encoding, no upload) until a viewer wants them again.
 * One setParameters at a time: each must see the previous one's result.
 */
function sendLayers(frame) {
  const pc = call.publishPc;
  const transceiver = pc?.getTransceivers().find((tr) => call.sources?.[tr.mid] === frame.source);
  if (!transceiver || !frame.layers) return undefined;
  const { sender } = transceiver;
  call.layersChain = call.layersChain.then(async () => {
    if (pc !== call.publishPc) return;  // a new connection starts with every layer on
    const params = sender.getParameters();
    let changed = false;
    for (const encoding of params.encodings || []) {
      const active = frame.layers[encoding.rid];
      if (typeof active === "boolean" && encoding.active !== active) {
        encoding.active = active;
        changed = true;
      }
    }
    if (changed) await sender.setParameters(params);
  }).catch((err) => console.warn("send-layers", err));
  return undefined;
}

/** Screen share: one more sending m-section on the publish PC, announced as `screen`. */
async function toggleScreenShare() {
  const button = $("share");
  if (call.screen) {
    const { track, transceiver } = call.screen;
    call.screen = null;
    track.stop();
    await transceiver.sender.replaceTrack(null);
    call.signaling.send({ type: "unpublish", source: "screen" });
    button.setAttribute("aria-pressed", "false");
    button.textContent = t("call.share");
    return;
  }
  if (!navigator.mediaDevices.getDisplayMedia || !call.publishPc) return;
  let stream;
  try { stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }); } catch { return; }
  const [track] = stream.getVideoTracks();
  // One encoding at full size, tuned for text: it keeps resolution and drops frames.
  if ("contentHint" in track) track.contentHint = "detail";
  let transceiver = call.publishPc.getTransceivers().find((tr) => call.sources[tr.mid] === "screen");
  if (transceiver) {
    await transceiver.sender.replaceTrack(track);
  } else {
    transceiver = call.publishPc.addTransceiver(track, { direction: "sendonly" });
    const pc = call.publishPc;
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    call.sources[transceiver.mid] = "screen";
    call.signaling.send({ type: "publish", sdp: pc.localDescription.sdp, sources: call.sources });
  }
  call.screen = { track, transceiver };
  track.addEventListener("ended", () => { if (call.screen?.track === track) toggleScreenShare(); });
  button.setAttribute("aria-pressed", "true");
  button.textContent = t("call.share.stop");
}

/**
 * After a network change: start both peer connections over with fresh ICE (protocol
 * `restart-ice`). The SFU drops the old connections: the page publishes again from a new
 * connection and answers the server's `restart` offer on a new subscribe connection.
 */
async function restartIce() {
  if (call.restarting || call.finished || !call.publishPc || !call.signaling) return;
  call.restarting = true;
  call.iceRestarts = (call.iceRestarts || 0) + 1;
  status(t("call.reconnecting"));
  try {
    if (call.subscribePc) call.signaling.send({ type: "restart-ice", pc: "subscribe" });
    call.signaling.send({ type: "restart-ice", pc: "publish" });
    call.publishPc.close();
    call.publishPc = null;
    await publish();
  } finally {
    call.restarting = false;
  }
}

function addMessage(name, text) {
  const li = document.createElement("li");
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = `${name} : `;
  const body = document.createElement("span");
  body.textContent = text;
  li.append(from, body);
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
  if ($("chat").hidden) {
    $("chat-toggle").textContent = `${t("call.chat")} •`;
    status(t("call.chat.new", { name }));
  }
}

const FILE_TYPES = ["application/pdf", "image/png", "image/jpeg"];
const FILE_MAX_BYTES = 10 * 1024 * 1024;

/** Upload to the booking's file store (the call token proves who sends), then offer it. */
async function sendFile(file) {
  $("file-error").textContent = "";
  if (!FILE_TYPES.includes(file.type)) { $("file-error").textContent = t("call.file.type"); return; }
  if (file.size > FILE_MAX_BYTES) { $("file-error").textContent = t("call.file.size"); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const response = await fetch(`/api/bookings/${encodeURIComponent(call.room)}/files`, {
      method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form,
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      $("file-error").textContent = Object.values(body.fields || {}).join(" ") || body.message || t("common.error");
      return;
    }
    call.signaling.send({
      type: "file", url: `/api/bookings/${encodeURIComponent(call.room)}/files/${encodeURIComponent(body.id)}`,
      name: body.name, size: body.size, mime: body.content_type,
    });
    $("file-input").value = "";
  } catch {
    $("file-error").textContent = t("common.error");
  }
}

async function download(frame) {
  try {
    const response = await fetch(frame.url, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(String(response.status));
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = frame.name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch {
    $("file-error").textContent = t("common.error");
  }
}

function addFile(frame) {
  if (!frame.url.startsWith("/api/") || frame.url.includes("//") || frame.url.includes("..")) return;
  const li = document.createElement("li");
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = `${frame.from === call.me ? t("call.you") : call.participants.get(frame.from)?.name || ""} : `;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = t("call.file.get", { name: frame.name });
  button.addEventListener("click", () => download(frame));
  li.append(from, button);
  $("messages").append(li);
  status(t("call.file.sent", { name: frame.name }));
  if ($("chat").hidden) $("chat-toggle").textContent = `${t("call.chat")} •`;
}

/** A server `quality` frame: what this page receives from a participant, and why. */
function showQuality(frame) {
  if (frame.participant_id && call.participants.size && !call.participants.has(frame.participant_id)) return;
  call.serverQuality = {
    audioOnly: Boolean(frame.audio_only), reason: frame.reason || "",
    loss: Number(frame.loss) || 0, rtt: Number(frame.rtt_ms) || 0,
  };
  renderQuality();
}

/** Indicator and banner from the server's view and this browser's own statistics. */
function renderQuality() {
  const server = call.serverQuality;
  const local = call.linkStats;
  const audioOnly = Boolean(server?.audioOnly);
  const chosen = audioOnly && server.reason === "user";
  const banner = $("audio-banner");
  const bannerText = t(chosen ? "call.audiobanner.user" : "call.audiobanner");
  if (banner.textContent !== bannerText) banner.textContent = bannerText;
  banner.dataset.reason = audioOnly ? server.reason : "";
  banner.hidden = !audioOnly;
  if (!server && !local) return;
  const loss = Math.max(server?.loss ?? 0, local?.loss ?? 0);
  const rtt = Math.max(server?.rtt ?? 0, local?.rtt ?? 0);
  const level = (audioOnly && !chosen) || loss > 0.08 || rtt > 400 ? "poor" : loss > 0.02 || rtt > 200 ? "fair" : "good";
  const quality = $("quality");
  quality.dataset.level = level;
  const text = t(`call.quality.${level}`);
  if (quality.textContent !== text) quality.textContent = text;
}

/** Loss and round-trip time measured by this browser on both peer connections, every 2 s. */
async function sampleLink() {
  let lost = 0;
  let received = 0;
  let rtt = 0;
  let remoteLoss = 0;
  for (const pc of [call.subscribePc, call.publishPc]) {
    if (!pc || pc.connectionState === "closed") continue;
    let stats;
    try { stats = await pc.getStats(); } catch { continue; }
    for (const report of stats.values()) {
      if (report.type === "inbound-rtp") {
        lost += Math.max(0, report.packetsLost || 0);
        received += report.packetsReceived || 0;
      } else if (report.type === "remote-inbound-rtp") {
        remoteLoss = Math.max(remoteLoss, report.fractionLost || 0);
      } else if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded") {
        rtt = Math.max(rtt, (report.currentRoundTripTime || 0) * 1000);
      }
    }
  }
  const last = call.lastCounts || { lost: 0, received: 0 };
  const dLost = Math.max(0, lost - last.lost);
  const dReceived = Math.max(0, received - last.received);
  call.lastCounts = { lost, received };
  const loss = Math.max(remoteLoss, dLost + dReceived > 0 ? dLost / (dLost + dReceived) : 0);
  call.linkStats = { loss, rtt: Math.round(rtt) };
  renderQuality();
}

function setLowData(on) {
  call.lowData = on;
  $("low-data").setAttribute("aria-pressed", String(on));
  if (call.me) call.signaling?.send({ type: "set-quality", mode: on ? "audio-only" : "auto" });
}

async function onSubscribeOffer(frame) {
  if (frame.restart && call.subscribePc) {
    call.subscribePc.close();
    call.subscribePc = null;
    call.lastCounts = null;
  }
  if (!call.subscribePc) {
    const pc = new RTCPeerConnection({ iceServers: call.iceServers });
    call.subscribePc = pc;
    pc.addEventListener("connectionstatechange", () => { if (pc.connectionState === "failed" && pc === call.subscribePc) restartIce(); });
    pc.addEventListener("track", (event) => {
      const info = call.tracksByMid.get(event.transceiver.mid);
      if (info && info.source === "screen") {
        $("screen").srcObject = new MediaStream([event.track]);
        $("screen").hidden = false;
        event.track.addEventListener("mute", () => { $("screen").hidden = true; });
        event.track.addEventListener("unmute", () => { $("screen").hidden = false; });
        return;
      }
      for (const old of call.remoteStream.getTracks().filter((tr) => tr.kind === event.track.kind)) call.remoteStream.removeTrack(old);
      call.remoteStream.addTrack(event.track);
      const video = $("remote");
      if (video.srcObject !== call.remoteStream) video.srcObject = call.remoteStream;
      event.track.addEventListener("unmute", updatePlaceholder);
      event.track.addEventListener("ended", updatePlaceholder);
      updatePlaceholder();
    });
  }
  if (frame.restart) call.tracksByMid.clear();
  for (const track of frame.tracks || []) call.tracksByMid.set(track.mid, track);
  const pc = call.subscribePc;
  await pc.setRemoteDescription({ type: "offer", sdp: frame.sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await gatheringComplete(pc);
  call.signaling.send({ type: "answer", pc: "subscribe", sdp: pc.localDescription.sdp });
}

function updatePlaceholder() {
  const hasVideo = call.remoteStream.getVideoTracks().some((tr) => tr.readyState === "live");
  $("placeholder").hidden = hasVideo && call.participants.size > 0;
  if (call.participants.size > 0 && !call.finished) status(t("call.incall"));
}

function addWaiting(participant) {
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

function removeWaiting(id) {
  for (const li of $("waiting").querySelectorAll("li")) if (li.dataset.participantId === id) li.remove();
  $("lobby").hidden = $("waiting").children.length === 0;
}

function toggle(button, kind, onKey, offKey) {
  const tracks = kind === "audio" ? call.local.getAudioTracks() : call.local.getVideoTracks();
  const off = button.getAttribute("aria-pressed") !== "true";
  for (const track of tracks) track.enabled = !off;
  button.setAttribute("aria-pressed", String(off));
  button.textContent = t(off ? onKey : offKey);
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

function finish(message) {
  if (call.finished) return;
  call.finished = true;
  clearInterval(call.linkTimer);
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
  if (call.role === "guest" && call.room) {
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
  $("end").addEventListener("click", () => { call.signaling?.send({ type: "end" }); finish(t("call.ended")); });
  $("chat-toggle").addEventListener("click", () => {
    const open = $("chat").hidden;
    $("chat").hidden = !open;
    $("chat-toggle").setAttribute("aria-expanded", String(open));
    $("chat-toggle").textContent = t("call.chat");
    if (open) $("chat-text").focus();
  });
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("chat-text").value.trim();
    if (!text || !call.signaling) return;
    call.signaling.send({ type: "chat", text: text.slice(0, 2000) });
    $("chat-text").value = "";
  });
  $("low-data").addEventListener("click", () => setLowData(!call.lowData));
  call.restartIce = restartIce;
  for (const [id, outcome] of [["outcome-done", "done"], ["outcome-noshow", "no-show"]]) {
    $(id).addEventListener("click", () => recordOutcome(outcome));
  }
  $("file-input").addEventListener("change", () => { const [file] = $("file-input").files; if (file) sendFile(file); });
  $("share").addEventListener("click", toggleScreenShare);
  $("share").hidden = !navigator.mediaDevices?.getDisplayMedia;  // phones cannot share a screen
  window.addEventListener("online", () => restartIce());
  navigator.connection?.addEventListener?.("change", () => restartIce());
  applyI18n();
  showOnly("precheck");
  precheck(call, token);
}

init();
