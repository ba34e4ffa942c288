// When picture and sound cannot get through, or the service cannot be reached: a few
// attempts with growing pauses, then the page says so in its own words, with the ways on
// (try again, audio only, the help line), instead of retrying in silence for ever.
import { t } from "./i18n.js";
import { helpPhone, showPhone } from "./call-precheck.js";
import { $, call, status } from "./call.state.js";

/** Pauses before the 1st, 2nd and 3rd automatic restart; a 4th failure is said. A browser
 * takes 5 to 30 s to declare ICE failed, so the page gives up after about a minute. */
export const RETRY_DELAYS_MS = [1000, 4000, 10000];
/** A connection that held this long was a working call: its failure starts the count anew. */
const STABLE_MS = 30000;

/** What each failure is called on the panel (its heading and the sentence under it). */
const WORDS = {
  "network": ["call.fail.media.h", "call.fail.network"],
  "secure": ["call.fail.media.h", "call.fail.secure"],
  "signalling": ["call.fail.service.h", "call.fail.service"],
};
/** The server's error codes for a media connection that failed (docs/protocol.md,
 * Errors). Not answer-refused: the server itself sends the offer that follows (an
 * answer to an older offer, or rejecting a codec), so a restart would only race it. */
const MEDIA_ERRORS = {
  "no-usable-candidate": "network",
  "ice-failed": "network",
  "dtls-failed": "secure",
};

const ways = { restart: () => {}, audioOnly: () => {}, reconnect: () => {} };

/** The actions behind the panel's buttons (call.js and call.peer.js own them). */
export function setupFailures({ restart, audioOnly, reconnect }) {
  Object.assign(ways, { restart, audioOnly, reconnect });
  $("fail-retry").addEventListener("click", () => retryNow());
  $("fail-audio").addEventListener("click", () => {
    hidePanel();
    call.mediaRetries = 0;
    ways.audioOnly();
  });
}

/** Is this server error about a media connection? Then it was handled here. */
export function onMediaError(frame) {
  const kind = MEDIA_ERRORS[frame.code];
  if (!kind) return false;
  mediaFailed(kind);
  return true;
}

/** A media connection failed (the browser's connectionState or the server's error frame):
 * restart after a pause, or, once the attempts are spent, say it and offer the ways on. */
export function mediaFailed(kind = "network") {
  if (call.finished || call.retryTimer || call.failure) return;
  if (call.connectedSince && performance.now() - call.connectedSince > STABLE_MS) call.mediaRetries = 0;
  call.connectedSince = null;
  const attempt = call.mediaRetries || 0;
  if (attempt >= RETRY_DELAYS_MS.length) {
    showPanel(kind);
    return;
  }
  call.mediaRetries = attempt + 1;
  status(t("call.fail.retrying", { n: attempt + 1, max: RETRY_DELAYS_MS.length }));
  call.retryTimer = setTimeout(() => {
    call.retryTimer = null;
    ways.restart();
  }, RETRY_DELAYS_MS[attempt]);
}

/** A media connection is up: the panel goes; the count resets once it has held. */
export function mediaConnected() {
  if (call.connectedSince == null) call.connectedSince = performance.now();
  if (call.failure && call.failure !== "signalling") hidePanel();
}

/** The signalling connection is gone for good (the page's reconnections spent). */
export function serviceLost() {
  if (call.finished) return;
  showPanel("signalling");
}

/** Joined (again): new connections, a new count; a panel about the old ones goes. */
export function sessionStarted() {
  clearTimeout(call.retryTimer);
  call.retryTimer = null;
  call.mediaRetries = 0;
  call.connectedSince = null;
  if (call.failure) hidePanel();
}

/** Try again now (the button, or the browser saying the network is back). */
export function retryNow() {
  const kind = call.failure;
  hidePanel();
  call.mediaRetries = 0;
  clearTimeout(call.retryTimer);
  call.retryTimer = null;
  if (kind === "signalling") ways.reconnect();
  else ways.restart();
}

async function showPanel(kind) {
  call.failure = kind;
  const [heading, text] = WORDS[kind];
  const panel = $("call-failure");
  panel.dataset.kind = kind;
  $("h-call-failure").textContent = t(heading);
  $("call-failure-text").textContent = t(text);
  const audioOnly = call.local?.getVideoTracks().length === 0 && call.lowData;
  $("fail-audio").hidden = kind === "signalling" || audioOnly;
  status("");
  panel.hidden = false;
  $("h-call-failure").focus();
  const phone = await helpPhone();
  if (phone && call.failure === kind) {
    showPhone($("fail-phone-number"), phone);
    $("fail-phone").hidden = false;
  }
}

function hidePanel() {
  call.failure = null;
  $("call-failure").hidden = true;
}

/** The panel's words again, in the language just chosen. */
export function renderFailure() {
  if (!call.failure) return;
  const [heading, text] = WORDS[call.failure];
  $("h-call-failure").textContent = t(heading);
  $("call-failure-text").textContent = t(text);
}
