// What this page knows of the other people in the call (two to four: the agent, the
// citizen, and an interpreter, colleague or relative as guests), and how it lays them
// out: one large picture (the pinned person, else the active speaker, else the first to
// come) with the others as thumbnails, or a grid of equal tiles. Each person's name
// and state (audio only, camera or microphone off) is said over their picture. Learnt
// from the room's frames: who is there (joined, participant-joined) and what each one
// publishes (published, unpublished).
//
// Each viewer tells the server which layer its picture of each person needs (set-quality
// with participant_id): a thumbnail gets the lowest, a large or pinned picture any layer
// its link carries — enough for an interpreter's signs, no 720p for a 120 px tile.
import { t } from "./i18n.js";
import { $, call } from "./call.state.js";

/** Picture heights (CSS px × device pixel ratio) from which a layer is worth receiving:
 * the SFU's layers are a quarter, half and the full capture (180, 360, 720 lines at 720p). */
const LAYER_FROM_PX = [[270, null], [135, 1], [0, 0]];

call.streams = new Map();   // participant id -> MediaStream (their camera and microphone)
call.pinned = null;
call.speaker = null;
call.layout = "speaker";    // or "grid"
call.wanted = new Map();    // participant id -> the layer last asked for (null: any)

/** A participant as the server describes one ({id, name, role, sources}). */
export function addParticipant(participant) {
  const sources = new Set(participant.sources || []);
  call.participants.set(participant.id, { ...participant, sources, seen: new Set(sources) });
}

/** Somebody left: their picture goes, and a pin on them. */
export function removeParticipant(id) {
  call.participants.delete(id);
  call.streams.delete(id);
  call.wanted.delete(id);
  if (call.pinned === id) call.pinned = null;
  if (call.speaker === id) call.speaker = null;
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

/** An `active-speaker` frame: who talks is shown large unless somebody is pinned. */
export function speakerChanged(frame) {
  if (!call.participants.has(frame.participant_id) || call.speaker === frame.participant_id) return;
  call.speaker = frame.participant_id;
  renderRemote();
}

/** The person shown large: the pinned one, else the active speaker, else the first. */
export function other() {
  for (const id of [call.pinned, call.speaker]) {
    if (id && call.participants.has(id)) return call.participants.get(id);
  }
  return call.participants.values().next().value || null;
}

/** A received track, put in its sender's stream (`info` is the offer's {participant_id,
 * source, kind} for the track's mid); the large picture's stream is `call.remoteStream`. */
export function attachTrack(info, track) {
  const id = info?.participant_id || other()?.id || "";
  let stream = call.streams.get(id);
  if (!stream) {
    stream = new MediaStream();
    call.streams.set(id, stream);
  }
  for (const old of stream.getTracks().filter((tr) => tr.kind === track.kind)) stream.removeTrack(old);
  stream.addTrack(track);
}

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

function liveVideo(stream) {
  return Boolean(stream) && stream.getVideoTracks().some((tr) => tr.readyState === "live" && !tr.muted);
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

/** Pin a person large (again: unpin). Kept until they leave or it is undone. */
export function pin(id) {
  call.pinned = call.pinned === id ? null : id;
  renderRemote();
}

/** Speaker view (one large, thumbnails) or a grid of equal tiles. */
export function setLayout(layout) {
  call.layout = layout;
  renderRemote();
}

/** The stage: the large picture with its person's name, or a dark placeholder saying
 * who is there and why there is no picture; then one tile per other person. */
export function renderRemote() {
  const participant = other();
  const stream = (participant && call.streams.get(participant.id)) || call.remoteStream;
  const video = $("remote");
  if (call.remoteStream !== stream) call.remoteStream = stream;
  if (video.srcObject !== stream && stream.getTracks().length) video.srcObject = stream;
  const picture = Boolean(participant && participant.sources.has("camera") && liveVideo(stream));
  const placeholder = participant ? describe(participant) : t("call.waitother");
  setText($("placeholder"), placeholder);
  $("placeholder").hidden = picture;
  const who = picture ? describe(participant) : "";
  setText($("remote-who"), who);
  $("remote-who").hidden = !who;
  $("room").dataset.layout = call.participants.size > 1 ? call.layout : "single";
  if (!$("tiles")) return;  // a page without tiles shows the first other person alone
  renderChoices(participant);
  renderTiles(participant);
  requestLayers();
}

/** With three or more: "stop enlarging" on a pinned picture, and the layout's switch. */
function renderChoices(participant) {
  const several = call.participants.size > 1;
  const unpin = $("unpin");
  unpin.hidden = !(several && participant && call.pinned === participant.id);
  if (!unpin.hidden) setText(unpin, t("call.unpin", { name: participant.name }));
  const layout = $("layout");
  layout.hidden = !several;
  layout.setAttribute("aria-pressed", String(call.layout === "grid"));
  setText(layout, t(call.layout === "grid" ? "call.layout.speaker" : "call.layout.grid"));
}

/** One tile per person not shown large: their picture, name and a pin button. */
function renderTiles(large) {
  const list = $("tiles");
  const others = [...call.participants.values()].filter((p) => p !== large);
  const keep = new Set(others.map((p) => p.id));
  for (const item of [...list.children]) {
    if (keep.has(item.dataset.participant)) continue;
    item.querySelector("video").srcObject = null;  // a detached element would play on
    item.remove();
  }
  others.forEach((participant, index) => {
    let item = list.querySelector(`li[data-participant="${CSS.escape(participant.id)}"]`);
    if (!item) item = newTile(participant.id);
    // in the participants' order; a tile already in place is not moved (its video plays on)
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
    const stream = call.streams.get(participant.id);
    const tileVideo = item.querySelector("video");
    if (stream && tileVideo.srcObject !== stream) tileVideo.srcObject = stream;
    const picture = participant.sources.has("camera") && liveVideo(stream);
    tileVideo.hidden = !picture;
    setText(item.querySelector(".who"), describe(participant));
    const button = item.querySelector("button");
    setText(button, t("call.pin", { name: participant.name }));
    button.setAttribute("aria-pressed", "false");
  });
  list.hidden = others.length === 0;
}

function newTile(id) {
  const item = document.createElement("li");
  item.className = "tile";
  item.dataset.participant = id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  const who = document.createElement("p");
  who.className = "who";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary pin";
  button.addEventListener("click", () => pin(id));
  item.append(video, who, button);
  return item;
}

/** The layer a picture of this height needs (null: any the link carries). */
export function layerFor(heightPx) {
  const px = heightPx * (window.devicePixelRatio || 1);
  return LAYER_FROM_PX.find(([from]) => px >= from)[1];
}

/** Tell the server, per person, the layer their picture here needs; only in a call of
 * three or more (one other person is shown large, whatever the link carries). */
export function requestLayers() {
  if (!call.me || !call.signaling || call.finished || !$("tiles")) return;
  const several = call.participants.size > 1;
  const large = other();
  for (const participant of call.participants.values()) {
    let wanted = null;
    if (several) {
      const item = participant === large ? $("remote")
        : $("tiles").querySelector(`li[data-participant="${CSS.escape(participant.id)}"] video`);
      const height = item && !item.hidden ? item.clientHeight : 0;
      wanted = layerFor(height);
    }
    const before = call.wanted.has(participant.id) ? call.wanted.get(participant.id) : null;
    if (before === wanted) continue;
    call.wanted.set(participant.id, wanted);
    const frame = { type: "set-quality", participant_id: participant.id };
    if (wanted !== null) frame.max_layer = wanted;
    call.signaling.send(frame);
  }
}

/** Sizes change with the window, the layout and the phone's orientation. */
export function watchTileSizes() {
  if (call.sizeObserver || typeof ResizeObserver === "undefined" || !$("tiles")) return;
  let pending = null;
  call.sizeObserver = new ResizeObserver(() => {
    clearTimeout(pending);
    pending = setTimeout(requestLayers, 300);
  });
  call.sizeObserver.observe($("remote"));
  call.sizeObserver.observe($("tiles"));
}
