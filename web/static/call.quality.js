// Quality: the indicator and the audio-only banner, from the server's `quality` frames
// and this browser's own statistics; the user's low-data choice.
import { t } from "./i18n.js";
import { $, call } from "./call.state.js";

/** A server `quality` frame: what this page receives from a participant, and why. */
export function showQuality(frame) {
  if (frame.participant_id && call.participants.size && !call.participants.has(frame.participant_id)) return;
  call.serverQuality = {
    audioOnly: Boolean(frame.audio_only), reason: frame.reason || "",
    name: call.participants.get(frame.participant_id)?.name || "",
    loss: Number(frame.loss) || 0, rtt: Number(frame.rtt_ms) || 0,
  };
  renderQuality();
}

/** Indicator and banner from the server's view and this browser's own statistics. */
export function renderQuality() {
  const server = call.serverQuality;
  const local = call.linkStats;
  const audioOnly = Boolean(server?.audioOnly);
  const chosen = audioOnly && server.reason === "user";
  // The picture is in a format this browser does not decode: not the link's fault.
  const codec = audioOnly && server.reason === "codec-unsupported";
  const banner = $("audio-banner");
  const bannerText = codec ? t("call.audiobanner.codec", { name: server.name })
    : t(chosen ? "call.audiobanner.user" : "call.audiobanner");
  if (banner.textContent !== bannerText) banner.textContent = bannerText;
  banner.dataset.reason = audioOnly ? server.reason : "";
  banner.hidden = !audioOnly;
  if (!server && !local) return;
  const loss = Math.max(server?.loss ?? 0, local?.loss ?? 0);
  const rtt = Math.max(server?.rtt ?? 0, local?.rtt ?? 0);
  const level = (audioOnly && !chosen && !codec) || loss > 0.08 || rtt > 400 ? "poor" : loss > 0.02 || rtt > 200 ? "fair" : "good";
  const quality = $("quality");
  quality.dataset.level = level;
  const text = t(`call.quality.${level}`);
  if (quality.textContent !== text) quality.textContent = text;
}

/** Loss and round-trip time measured by this browser on both peer connections, every 2 s. */
export async function sampleLink() {
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

export function setLowData(on) {
  call.lowData = on;
  $("low-data").setAttribute("aria-pressed", String(on));
  if (call.me) call.signaling?.send({ type: "set-quality", mode: on ? "audio-only" : "auto" });
}
