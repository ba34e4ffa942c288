// Peer connections through the SFU: publish (microphone, camera in simulcast, screen)
// and subscribe (what the others send), the layers the server asks for, ICE restarts.
import { t } from "./i18n.js";
import { gatheringComplete } from "./signaling.js";
import { attachTrack, renderRemote } from "./call.remote.js";
import { mediaConnected, mediaFailed } from "./call.failure.js";
import { $, alarm, call, callStatus, status } from "./call.state.js";

export async function publish() {
  if (call.publishPc) return;
  const pc = new RTCPeerConnection({ iceServers: call.iceServers });
  call.publishPc = pc;
  watchConnection(pc, () => pc === call.publishPc);
  const sources = {};
  const transceivers = [];
  for (const track of call.local.getAudioTracks().slice(0, 1)) transceivers.push([pc.addTransceiver(track, { direction: "sendonly", streams: [call.local] }), "mic"]);
  for (const track of call.local.getVideoTracks().slice(0, 1)) transceivers.push([addCamera(pc, track), "camera"]);
  if (call.screen) {
    // Publishing again (ICE restart) while sharing: the screen goes on the new connection too.
    call.screen.transceiver = addScreen(pc, call.screen.track);
    transceivers.push([call.screen.transceiver, "screen"]);
  }
  if (!transceivers.length) return;
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  for (const [transceiver, source] of transceivers) sources[transceiver.mid] = source;
  call.sources = sources;
  call.signaling.send({ type: "publish", sdp: pc.localDescription.sdp, sources });
  keepOff();
}

const ROOM_FIRST_CODEC = "video/vp8";

/** A connection that fails is restarted a few times, then the page says so (call.failure.js);
 * one that connects takes the failure notice away. */
function watchConnection(pc, current) {
  pc.addEventListener("connectionstatechange", () => {
    if (!current() || call.finished) return;
    if (pc.connectionState === "failed") mediaFailed("network");
    if (pc.connectionState === "connected") {
      mediaConnected();
      if (!call.retryTimer && !call.failure) callStatus();
    }
  });
}

/**
 * The room's codec policy on a sending video transceiver: VP8 first (every browser
 * decodes it, so every subscriber of the room can take the stream), then the browser's
 * other codecs in its own order (the server's answer keeps H.264 or VP9 only while
 * everybody in the room decodes them, sfu/codec_policy.py). A browser without
 * setCodecPreferences keeps its order: the server's answer then asks it for VP8.
 */
export function preferRoomCodecs(transceiver) {
  if (typeof transceiver.setCodecPreferences !== "function") return;
  // Which capabilities a sending transceiver's preferences are checked against has
  // changed in the specification (receiver's, then sender's): the first that takes them.
  for (const side of [globalThis.RTCRtpReceiver, globalThis.RTCRtpSender]) {
    const codecs = side?.getCapabilities?.("video")?.codecs || [];
    const first = codecs.filter((codec) => codec.mimeType.toLowerCase() === ROOM_FIRST_CODEC);
    if (!first.length) continue;
    try {
      transceiver.setCodecPreferences([...first, ...codecs.filter((codec) => !first.includes(codec))]);
      return;
    } catch (err) {
      console.warn("codec preferences refused", err);
    }
  }
}

/** The video codecs this browser decodes (declared in `join`: the server offers it no
 * stream in another codec). */
export function decodableVideoCodecs() {
  const codecs = globalThis.RTCRtpReceiver?.getCapabilities?.("video")?.codecs || [];
  const names = new Set(codecs.map((codec) => codec.mimeType).filter((mime) => !/\/(rtx|red|ulpfec|flexfec-03)$/i.test(mime)));
  return [...names].some((mime) => mime.toLowerCase() === ROOM_FIRST_CODEC) ? [...names] : null;
}

function addScreen(pc, track) {
  const transceiver = pc.addTransceiver(track, { direction: "sendonly" });
  preferRoomCodecs(transceiver);
  return transceiver;
}

/** A publish offer names every sending track: a source turned off is unpublished again. */
function keepOff() {
  for (const [source, off] of Object.entries(call.off)) if (off) call.signaling.send({ type: "unpublish", source });
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
  let transceiver = null;
  for (const sendEncodings of attempts) {
    try {
      transceiver = pc.addTransceiver(track, { ...init, sendEncodings });
      break;
    } catch (err) {
      console.warn(`camera: ${sendEncodings.length} encoding(s) refused`, err);
    }
  }
  transceiver ||= pc.addTransceiver(track, init);
  preferRoomCodecs(transceiver);
  return transceiver;
}

/**
 * A server `send-layers` frame: which simulcast encodings of a source somebody
 * receives. The others stop (no encoding, no upload) until a viewer wants them again.
 * One setParameters at a time: each must see the previous one's result.
 */
export function sendLayers(frame) {
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

/**
 * A server `send-audio` frame: a listener's link does not carry this source's audio even
 * without video, so encode it at most at `max_bitrate` bits/s (null: our own choice).
 * Chained with `send-layers`: each setParameters must see the previous one's result.
 */
export function sendAudio(frame) {
  const pc = call.publishPc;
  const transceiver = pc?.getTransceivers().find((tr) => call.sources?.[tr.mid] === frame.source);
  if (!transceiver || transceiver.sender.track?.kind !== "audio") return undefined;
  const cap = Number.isFinite(frame.max_bitrate) && frame.max_bitrate > 0 ? frame.max_bitrate : null;
  const { sender } = transceiver;
  call.layersChain = call.layersChain.then(async () => {
    if (pc !== call.publishPc) return;  // a new connection starts at the encoder's own rate
    const params = sender.getParameters();
    const [encoding] = params.encodings || [];
    if (!encoding || (encoding.maxBitrate ?? null) === cap) return;
    if (cap === null) delete encoding.maxBitrate;
    else encoding.maxBitrate = cap;
    await sender.setParameters(params);
  }).catch((err) => console.warn("send-audio", err));
  return undefined;
}

/** Screen share: one more sending m-section on the publish PC, announced as `screen`. */
export async function toggleScreenShare() {
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
  if (!navigator.mediaDevices?.getDisplayMedia || !call.publishPc) return;
  alarm("");
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    // Refused (the person cancelled the picker, or the browser or system forbids it), or
    // no screen could be captured: say which, and the way on.
    console.warn("screen share", err);
    alarm(t(err?.name === "NotAllowedError" ? "call.share.denied" : "call.share.failed"));
    return;
  }
  const [track] = stream.getVideoTracks();
  // One encoding at full size, tuned for text: it keeps resolution and drops frames.
  if ("contentHint" in track) track.contentHint = "detail";
  let transceiver;
  try {
    transceiver = call.publishPc.getTransceivers().find((tr) => call.sources[tr.mid] === "screen");
    if (transceiver) {
      await transceiver.sender.replaceTrack(track);
    } else {
      const pc = call.publishPc;
      transceiver = addScreen(pc, track);
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc);
      call.sources[transceiver.mid] = "screen";
      call.signaling.send({ type: "publish", sdp: pc.localDescription.sdp, sources: call.sources });
      keepOff();
    }
  } catch (err) {
    console.warn("screen share", err);
    track.stop();
    alarm(t("call.share.failed"));
    return;
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
export async function restartIce() {
  if (call.restarting || call.finished || !call.publishPc || !call.signaling) return;
  call.restarting = true;
  call.iceRestarts = (call.iceRestarts || 0) + 1;
  if (!call.mediaRetries) status(t("call.reconnecting"));
  try {
    if (call.subscribePc) call.signaling.send({ type: "restart-ice", pc: "subscribe" });
    call.signaling.send({ type: "restart-ice", pc: "publish" });
    call.publishPc.close();
    call.publishPc = null;
    await publish();
  } catch (err) {
    console.warn("restart", err);
    mediaFailed("network");
  } finally {
    call.restarting = false;
  }
}

export async function onSubscribeOffer(frame) {
  if (frame.restart && call.subscribePc) {
    call.subscribePc.close();
    call.subscribePc = null;
    call.lastCounts = null;
  }
  if (!call.subscribePc) {
    const pc = new RTCPeerConnection({ iceServers: call.iceServers });
    call.subscribePc = pc;
    watchConnection(pc, () => pc === call.subscribePc);
    pc.addEventListener("track", (event) => {
      const info = call.tracksByMid.get(event.transceiver.mid);
      if (info && info.source === "screen") {
        $("screen").srcObject = new MediaStream([event.track]);
        $("screen").hidden = false;
        event.track.addEventListener("mute", () => { $("screen").hidden = true; });
        event.track.addEventListener("unmute", () => { $("screen").hidden = false; });
        return;
      }
      attachTrack(info, event.track);  // the picture it belongs to is chosen by renderRemote
      event.track.addEventListener("unmute", updatePlaceholder);
      event.track.addEventListener("mute", updatePlaceholder);
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
  // The offer answered is named: an answer crossing a newer offer is refused, not misapplied.
  const named = typeof frame.offer_id === "number" ? { offer_id: frame.offer_id } : {};
  call.signaling.send({ type: "answer", pc: "subscribe", sdp: pc.localDescription.sdp, ...named });
}

export function updatePlaceholder() {
  renderRemote();
  if (call.participants.size > 0 && !call.finished && call.note === null) status(t("call.incall"));
}

/**
 * The camera or microphone turned off stops being published (the others are told by an
 * `unpublished` frame and can say so). Turned back on, it is published afresh on a new
 * transceiver of the same connection (the old one made inactive): the server then makes a new
 * stream of it, as on the first publish, rather than reviving the one it closed.
 */
export async function setSourceOn(source, on) {
  call.off[source] = !on;
  const pc = call.publishPc;
  if (!pc || !call.signaling || call.finished) return;
  if (!on) {
    call.signaling.send({ type: "unpublish", source });
    return;
  }
  const track = source === "camera" ? call.local.getVideoTracks()[0] : call.local.getAudioTracks()[0];
  if (!track) return;
  const old = pc.getTransceivers().find((tr) => call.sources[tr.mid] === source);
  if (old) {
    delete call.sources[old.mid];
    old.direction = "inactive";
    await old.sender.replaceTrack(null);
  }
  const transceiver = source === "camera" ? addCamera(pc, track) : pc.addTransceiver(track, { direction: "sendonly", streams: [call.local] });
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  call.sources[transceiver.mid] = source;
  call.signaling.send({ type: "publish", sdp: pc.localDescription.sdp, sources: call.sources });
  keepOff();
}
