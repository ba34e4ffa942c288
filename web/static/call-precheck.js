// Pre-call check: camera and microphone preview with a level meter, device choice, round
// trips to the server, a media test through the SFU, and the way out (audio only, the help
// line) when video cannot work.
import { t } from "./i18n.js";
import { gatheringComplete, Signaling } from "./signaling.js";

const $ = (id) => document.getElementById(id);
let call = null;
let token = null;
let onRefused = () => {};

/** The server's refusals of the link itself (docs/protocol.md): the network is not to blame. */
const LINK_REFUSALS = new Set([
  "token-malformed", "token-invalid", "token-expired", "token-not-yet-valid",
  "too-early", "booking-cancelled", "booking-ended",
]);

function alarm(text) { $("alert").textContent = text; }

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

export function stopLevelMeter() {
  if (!call?.meter) return;
  clearInterval(call.meter.timer);
  call.meter.context.close();
  call.meter = null;
}

async function openDevices() {
  const camera = $("camera-select").value;
  const mic = $("mic-select").value;
  const audio = mic ? { deviceId: { exact: mic } } : true;
  // 960x540: the smallest capture from which browsers encode the call's three simulcast
  // layers (call.js sends 360p at most); a camera without it gives the nearest size.
  const video = { width: 960, height: 540, ...(camera ? { deviceId: { exact: camera } } : {}) };
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

export function renderChecks() {
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
    if (reply.type === "error" && LINK_REFUSALS.has(reply.code)) result.refused = reply;
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

let knownHelpPhone = null;

/** The deployment's help line ("" without one): the way out when video cannot work. Kept
 * once read: it is most needed when the service no longer answers. */
export async function helpPhone() {
  if (knownHelpPhone !== null) return knownHelpPhone;
  try {
    const response = await fetch("/client-config", { cache: "no-store" });
    if (!response.ok) return "";
    const config = await response.json();
    knownHelpPhone = typeof config.help_phone === "string" ? config.help_phone.trim() : "";
    return knownHelpPhone;
  } catch {
    return "";
  }
}

/** Fill a help-line link: the number shown, dialled without its spaces. */
export function showPhone(link, phone) {
  link.textContent = phone;
  link.href = `tel:${phone.replace(/[^\d+]/g, "")}`;
}

async function loadHelpPhone() {
  const phone = await helpPhone();
  if (!phone) return;
  showPhone($("phone-link"), phone);
  $("phone-line").hidden = false;
  $("phone-hint").hidden = true;
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
  if (result.refused && typeof result.refused.not_before === "number") {
    // Too early: the check cannot reach the call yet; the rest of it still helps.
    const time = new Date(result.refused.not_before * 1000).toLocaleString(document.documentElement.lang, { dateStyle: "full", timeStyle: "short" });
    setCheck("check-media", "warn", "call.media.early", { time });
    return "early";
  }
  if (result.refused) {
    call.refused = result.refused;
    return "refused";
  }
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
  if (media === "refused") {
    onRefused(call.refused);
    return;
  }
  call.network = network;
  call.media = media;
  const reasons = [];
  if (media === "blocked" && network !== "bad") reasons.push("call.fallback.blocked");
  else if (!devices.video) reasons.push("call.fallback.nocam");
  else if (media !== "ok" && media !== "early") reasons.push("call.fallback.media");
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

/** Run the pre-call check; a link the server refuses goes to onLinkRefused (its error frame). */
export async function precheck(state, joinToken, onLinkRefused = () => {}) {
  call = state;
  token = joinToken;
  onRefused = onLinkRefused;
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
