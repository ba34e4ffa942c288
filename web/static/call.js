// Call room: pre-call check, lobby, publish + subscribe peer connections through the SFU.
import { api, setCsrfToken } from "./api.js";
import { applyI18n, setupLanguageSwitch, t } from "./i18n.js";
import { gatheringComplete, Signaling } from "./signaling.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("token");

const call = {
  signaling: null, role: null, me: null, iceServers: [],
  local: null, publishPc: null, subscribePc: null,
  tracksByMid: new Map(), remoteStream: new MediaStream(), participants: new Map(),
  subscribeChain: Promise.resolve(), finished: false, meter: null,
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

async function startLevelMeter(stream) {
  const [audio] = stream.getAudioTracks();
  if (!audio || !window.AudioContext) return;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(new MediaStream([audio])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    $("level").value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
  }, 100);
  call.meter = { context, timer };
}

function stopLevelMeter() {
  if (!call.meter) return;
  clearInterval(call.meter.timer);
  call.meter.context.close();
  call.meter = null;
}

async function openDevices() {
  const camera = $("camera-select").value;
  const mic = $("mic-select").value;
  const audio = mic ? { deviceId: { exact: mic } } : true;
  const video = { width: 640, height: 360, ...(camera ? { deviceId: { exact: camera } } : {}) };
  for (const track of call.local?.getTracks() || []) track.stop();
  stopLevelMeter();
  try {
    call.local = await navigator.mediaDevices.getUserMedia({ audio, video });
    alarm("");
  } catch {
    try {
      call.local = await navigator.mediaDevices.getUserMedia({ audio });
      alarm(t("call.nodevice"));
    } catch {
      call.local = new MediaStream();
      alarm(t("call.nodevice"));
    }
  }
  $("preview").srcObject = call.local;
  await startLevelMeter(call.local);
}

async function listDevices() {
  let devices = [];
  try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { /* none */ }
  for (const [selectId, kind, track] of [["camera-select", "videoinput", call.local.getVideoTracks()[0]], ["mic-select", "audioinput", call.local.getAudioTracks()[0]]]) {
    const select = $(selectId);
    const current = track?.getSettings().deviceId;
    const options = devices.filter((d) => d.kind === kind).map((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || `${t(kind === "videoinput" ? "call.camera" : "call.mic")} ${i + 1}`;
      option.selected = d.deviceId === current;
      return option;
    });
    if (!options.length) {
      const option = document.createElement("option");
      option.value = "";
      option.textContent = t("call.nodevices");
      options.push(option);
    }
    select.replaceChildren(...options);
  }
}

function median(values) { return Math.round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]); }

/** One line of the pre-call check; the key is kept so a language switch re-renders it. */
function setCheck(id, state, key, vars = {}) {
  const el = $(id);
  el.dataset.state = state;
  el.dataset.key = key;
  el.dataset.vars = JSON.stringify(vars);
  el.textContent = t(key, vars);
}

function renderChecks() {
  for (const el of document.querySelectorAll(".checks li[data-key]")) el.textContent = t(el.dataset.key, JSON.parse(el.dataset.vars || "{}"));
  $("fallback-text").textContent = (call.fallbackKeys || []).map((key) => t(key)).join(" ");
}

/** Three HTTP round trips to the server; the median in ms, or null if it does not answer. */
async function httpRoundTrip() {
  const times = [];
  for (let i = 0; i < 3; i += 1) {
    const started = performance.now();
    try {
      const response = await fetch(`/healthz?probe=${Date.now()}`, { cache: "no-store" });
      if (!response.ok) return null;
      times.push(performance.now() - started);
    } catch { return null; }
  }
  return median(times);
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);
}

/** Send a frame on a signalling socket and wait for the frame that answers it (`ref`). */
function request(socket, frame, timeoutMs = 5000) {
  const id = socket.send(frame);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.removeEventListener("frame", onFrame); reject(new Error("timeout")); }, timeoutMs);
    function onFrame(event) {
      if (event.detail.ref !== id) return;
      clearTimeout(timer);
      socket.removeEventListener("frame", onFrame);
      resolve(event.detail);
    }
    socket.addEventListener("frame", onFrame);
  });
}

/** Three `ping`/`pong` round trips on the signalling WebSocket the call will use; ms or null. */
async function wsRoundTrip(timeoutMs = 5000) {
  const socket = new Signaling();
  try {
    await withTimeout(socket.open(), timeoutMs);
    const times = [];
    for (let i = 0; i < 3; i += 1) {
      const started = performance.now();
      await request(socket, { type: "ping" }, timeoutMs);
      times.push(performance.now() - started);
    }
    return median(times);
  } catch {
    return null;
  } finally {
    socket.close();
  }
}

/**
 * Publishes the chosen camera and microphone for a few seconds into a throwaway room of
 * the SFU (`probe`, docs/protocol.md): proves that ICE, DTLS and RTP get through from
 * this network, and reads round trip and loss from the SFU's receiver reports.
 */
async function mediaProbe(stream, iceServers = [], timeoutMs = 8000) {
  const result = { connected: false, reports: false, framesEncoded: 0, packetsSent: 0, rttMs: null, loss: null, iceServers: [] };
  if (!window.RTCPeerConnection || stream.getTracks().length === 0) return result;
  const socket = new Signaling();
  const pc = new RTCPeerConnection({ iceServers });
  try {
    await withTimeout(socket.open(), 5000);
    const transceivers = [];
    for (const track of stream.getAudioTracks().slice(0, 1)) transceivers.push([pc.addTransceiver(track, { direction: "sendonly" }), "mic"]);
    for (const track of stream.getVideoTracks().slice(0, 1)) transceivers.push([pc.addTransceiver(track, { direction: "sendonly" }), "camera"]);
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const sources = Object.fromEntries(transceivers.map(([transceiver, source]) => [transceiver.mid, source]));
    const reply = await request(socket, { type: "probe", token, sdp: pc.localDescription.sdp, sources }, 10000);
    if (reply.type !== "answer") return result;
    result.iceServers = Array.isArray(reply.ice_servers) ? reply.ice_servers : [];
    await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    const wantVideo = stream.getVideoTracks().length > 0;
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline && pc.connectionState !== "failed") {
      await new Promise((resolve) => setTimeout(resolve, 250));
      result.connected = result.connected || pc.connectionState === "connected";
      for (const report of (await pc.getStats()).values()) {
        if (report.type === "outbound-rtp") {
          if (report.kind === "video") result.framesEncoded = report.framesEncoded || 0;
          result.packetsSent = Math.max(result.packetsSent, report.packetsSent || 0);
        } else if (report.type === "remote-inbound-rtp" && report.roundTripTime !== undefined) {
          result.reports = true;
          result.rttMs = Math.round(report.roundTripTime * 1000);
          result.loss = Math.max(result.loss ?? 0, report.fractionLost || 0);
        }
      }
      if (result.connected && result.reports && (!wantVideo || result.framesEncoded >= 5)) break;
    }
  } catch (err) {
    console.warn("media probe", err);
  } finally {
    pc.close();
    socket.close();
  }
  return result;
}

/** The deployment's help line, if it has one: the way out when video cannot work. */
async function loadHelpPhone() {
  try {
    const response = await fetch("/client-config", { cache: "no-store" });
    const config = response.ok ? await response.json() : {};
    const phone = typeof config.help_phone === "string" ? config.help_phone.trim() : "";
    if (!phone) return;
    $("phone-link").textContent = phone;
    $("phone-link").href = `tel:${phone.replace(/[^\d+]/g, "")}`;
    $("phone-line").hidden = false;
    $("phone-hint").hidden = true;
  } catch { /* no help line configured */ }
}

async function checkNetwork() {
  setCheck("network", "pending", "call.net.checking");
  const [http, ws] = await Promise.all([httpRoundTrip(), wsRoundTrip()]);
  if (http === null || ws === null) {
    setCheck("network", "bad", "call.net.bad");
    return "bad";
  }
  const worst = Math.max(http, ws);
  const verdict = worst < 300 ? "good" : "slow";
  setCheck("network", verdict === "good" ? "ok" : "warn", `call.net.${verdict}`, { ms: http, ws });
  return verdict;
}

async function checkMedia() {
  setCheck("check-media", "pending", "call.media.checking");
  const hasVideo = call.local.getVideoTracks().length > 0;
  if (!call.local.getTracks().length) {
    setCheck("check-media", "bad", "call.media.none");
    return "none";
  }
  let result = await mediaProbe(call.local);
  // No direct path: try once more through the STUN/TURN servers the service offers.
  if (!result.connected && result.iceServers.length) result = await mediaProbe(call.local, result.iceServers);
  call.mediaTest = result;
  if (!result.connected || !result.reports) {
    setCheck("check-media", "bad", "call.media.blocked");
    return "blocked";
  }
  const vars = { ms: result.rttMs, loss: Math.round((result.loss || 0) * 100) };
  if (hasVideo && result.framesEncoded < 5) {
    setCheck("check-media", "bad", "call.media.nopicture", vars);
    return "nopicture";
  }
  setCheck("check-media", "ok", hasVideo ? "call.media.ok" : "call.media.audio", vars);
  return "ok";
}

function checkDevices() {
  const video = call.local.getVideoTracks().length > 0;
  const audio = call.local.getAudioTracks().length > 0;
  const key = video && audio ? "call.dev.ok" : audio ? "call.dev.nocam" : video ? "call.dev.nomic" : "call.dev.none";
  setCheck("check-devices", video && audio ? "ok" : "bad", key);
  return { video, audio };
}

/** Run every check; when video cannot work, say why and point to audio only or the phone. */
async function runChecks() {
  const run = (call.checkRun || 0) + 1;
  call.checkRun = run;
  $("fallback").hidden = true;
  const devices = checkDevices();
  const [network, media] = await Promise.all([call.network || checkNetwork(), checkMedia()]);
  if (run !== call.checkRun) return;
  call.network = network;
  call.media = media;
  const reasons = [];
  if (media === "blocked" && network !== "bad") reasons.push("call.fallback.blocked");
  else if (!devices.video) reasons.push("call.fallback.nocam");
  else if (media !== "ok") reasons.push("call.fallback.media");
  if (network !== "good") reasons.push(network === "bad" ? "call.fallback.offline" : "call.fallback.slow");
  if (!devices.audio) reasons.push("call.fallback.nomic");
  call.fallbackKeys = reasons;
  call.videoAdvised = reasons.length === 0;
  $("enter").disabled = !devices.video;
  $("audio-only").disabled = false;
  $("audio-only").className = call.videoAdvised ? "secondary" : "";
  renderChecks();
  $("fallback").hidden = reasons.length === 0;
  $("precheck").dataset.done = "true";
}

async function precheck() {
  showOnly("precheck");
  $("enter").disabled = true;
  $("audio-only").disabled = true;
  $("h-precheck").focus();
  loadHelpPhone();
  call.network = checkNetwork();
  await openDevices();
  await listDevices();
  for (const id of ["camera-select", "mic-select"]) {
    $(id).addEventListener("change", async () => {
      $("precheck").dataset.done = "false";
      call.network = await call.network;
      await openDevices();
      await runChecks();
    });
  }
  await runChecks();
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
    case "end": return finish(t("call.ended"));
    case "unpublished":
      if (frame.source === "screen" && frame.participant_id !== call.me) $("screen").hidden = true;
      return undefined;
    case "chat": return addMessage(frame.name, frame.text);
    case "file": return addFile(frame);
    case "quality": return showQuality(frame);
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
  for (const track of call.local.getVideoTracks().slice(0, 1)) transceivers.push([pc.addTransceiver(track, { direction: "sendonly", streams: [call.local] }), "camera"]);
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
  precheck();
}

init();
