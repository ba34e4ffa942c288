"""A producer's encodings: one layer for plain video and audio, several for simulcast.

Each ``Layer`` is one RTP stream of the publisher (its own SSRC): receive statistics
for our receiver reports, its sender report, a bitrate meter and a keyframe-request
throttle. ``LayerSet`` finds the layer of a packet: by SSRC once known; a new SSRC of
a simulcast producer is recognised by the rid header extension (browsers stamp it on
the first packets of each encoding, RFC 8852), a new SSRC of a plain producer simply
becomes its only layer.
"""

from __future__ import annotations

import time
from typing import Any

from sfu._datapath import Counters, LayerInlet
from sfu.rtp_view import RtpView

BITRATE_SMOOTHING = 0.5  # weight of the newest one-second sample
MIN_ROUGH_S = 0.3
# a layer the publisher was asked to send again counts at its former bitrate this long
# while its encoder restarts; silent after that, it is taken as one the publisher cannot send
RESUME_GRACE_S = 3.0


class Layer:
    """One encoding. Its per-packet counts are kept by its native ``LayerInlet`` (the C
    path bumps them on every packet); everything computed from them is here."""

    __slots__ = (
        "_base_seq",
        "_bytes_at_sample",
        "_expected_prior",
        "_first_at",
        "_last_keyframe_request",
        "_packets_at_resume",
        "_received_prior",
        "_resumed_at",
        "_sampled_at",
        "bitrate_bps",
        "index",
        "inlet",
        "last_flowing_bps",
        "rid",
        "sender_report",
        "ssrc",
        "suspended",
    )

    def __init__(self, index: int, rid: str | None, counters: Counters, tracks: list[Any]) -> None:
        self.index = index
        self.rid = rid
        self.inlet = LayerInlet(counters, tracks, index)
        self.ssrc: int | None = None
        self.bitrate_bps = 0.0
        self.sender_report: tuple[int, int, float] | None = None  # ntp, rtp ts, arrival
        self._base_seq: int | None = None
        self._expected_prior = 0
        self._received_prior = 0
        self._bytes_at_sample = 0
        self._sampled_at: float | None = None
        self._first_at = 0.0
        self._last_keyframe_request = -1e9
        # dynacast: the publisher was asked to stop this encoding (nobody receives it)
        self.suspended = False
        self.last_flowing_bps = 0.0  # its bitrate when last measured above zero
        self._resumed_at: float | None = None
        self._packets_at_resume = 0

    @property
    def packets(self) -> int:
        return int(self.inlet.packets)

    @property
    def bytes(self) -> int:
        return int(self.inlet.bytes)

    @property
    def received(self) -> int:
        return int(self.inlet.received)

    @property
    def max_seq(self) -> int:
        return int(self.inlet.max_seq)

    @property
    def cycles(self) -> int:
        return int(self.inlet.cycles)

    def adopt(self, ssrc: int, sequence_number: int) -> None:
        """A (new) SSRC carries this layer: receive statistics start over."""
        self.ssrc = ssrc
        self._first_at = time.monotonic()
        self.sender_report = None
        self._base_seq = sequence_number
        self.inlet.restart(sequence_number)
        self._expected_prior = 0
        self._received_prior = 0

    def sample_bitrate(self, now: float) -> float:
        """Smoothed bits per second since the previous sample (called about once a second)."""
        if self._sampled_at is not None and now > self._sampled_at:
            rate = (self.bytes - self._bytes_at_sample) * 8 / (now - self._sampled_at)
            if self.bitrate_bps == 0.0:
                self.bitrate_bps = rate
            else:
                self.bitrate_bps += BITRATE_SMOOTHING * (rate - self.bitrate_bps)
            if rate == 0.0:
                self.bitrate_bps = 0.0  # the publisher stopped it: not selectable at once
        if self.bitrate_bps > 0.0 and not self.suspended:
            # once asked to stop, what still arrives is the encoder winding down: what a
            # subscriber stepping up would get is what it carried when asked (a probe
            # for 640 px sized on the wind-down, 176 kb/s, passed under a 300 kb/s cap)
            self.last_flowing_bps = self.bitrate_bps
        self._sampled_at = now
        self._bytes_at_sample = self.bytes
        return self.bitrate_bps

    def rough_bitrate(self, now: float) -> float:
        """The smoothed bitrate, or before the first sample what arrived so far (a layer
        seen for a moment counts as 1 b/s: selectable, its size not known yet)."""
        if self.bitrate_bps or not self.packets or self._bytes_at_sample:
            return self.bitrate_bps
        elapsed = now - self._first_at
        return self.bytes * 8 / elapsed if elapsed >= MIN_ROUGH_S else 1.0

    def selectable_bitrate(self, now: float) -> float:
        """What choosing this layer would cost: its measured bitrate, or for a layer the
        publisher was asked to stop (or has just been asked to send again) what it
        carried before, so that a subscriber can still step up to it."""
        rate = self.rough_bitrate(now)
        if rate > 0.0:
            return rate
        restarting = self._resumed_at is not None and now - self._resumed_at < RESUME_GRACE_S
        return self.last_flowing_bps if self.suspended or restarting else 0.0

    def suspend(self) -> None:
        self.suspended = True
        self._resumed_at = None

    def resume(self, now: float) -> None:
        self.suspended = False
        self._resumed_at = now
        self._packets_at_resume = self.packets

    def check_resumed(self, now: float) -> None:
        """A layer asked for again that brought nothing within the grace is one the
        publisher cannot send now (its own estimate): it counts as never measured."""
        if self._resumed_at is None or now - self._resumed_at < RESUME_GRACE_S:
            return
        if self.packets == self._packets_at_resume:
            self.last_flowing_bps = 0.0
        self._resumed_at = None

    def may_request_keyframe(self, now: float, min_interval_s: float) -> bool:
        if self.ssrc is None or now - self._last_keyframe_request < min_interval_s:
            return False
        self._last_keyframe_request = now
        return True

    def reception(self) -> tuple[int, int, int, int] | None:
        """(ssrc, fraction lost 0..255, cumulative lost, extended highest sequence) for a
        receiver report block since the previous call, or None before any packet."""
        if self.ssrc is None or self._base_seq is None:
            return None
        extended_max = self.cycles + self.max_seq
        expected = extended_max - self._base_seq + 1
        lost = max(0, expected - self.received)
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        return self.ssrc, fraction, min(lost, 0x7FFFFF), extended_max & 0xFFFFFFFF

    def dump(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "rid": self.rid,
            "ssrc": self.ssrc,
            "packets": self.packets,
            "bitrate_bps": int(self.bitrate_bps),
            "suspended": self.suspended,
        }


class LayerSet:
    """The layers of one producer and the SSRC → layer table of its hot path."""

    def __init__(
        self,
        rids: tuple[str, ...] = (),
        rid_extension_id: int = 0,
        counters: Counters | None = None,
        tracks: list[Any] | None = None,
    ) -> None:
        counters = counters if counters is not None else Counters()
        tracks = tracks if tracks is not None else []
        self.layers = [Layer(i, rid, counters, tracks) for i, rid in enumerate(rids)] or [
            Layer(0, None, counters, tracks)
        ]
        self.simulcast = len(self.layers) > 1
        self.rid_extension_id = rid_extension_id
        self.by_ssrc: dict[int, Layer] = {}

    def __len__(self) -> int:
        return len(self.layers)

    def learn(self, packet: RtpView) -> Layer | None:
        """The layer of a packet whose SSRC is not known yet (None: cannot tell yet)."""
        layer: Layer | None
        if not self.simulcast:
            layer = self.layers[0]
            if layer.ssrc is not None:
                self.by_ssrc.pop(layer.ssrc, None)
        else:
            value = packet.extension(self.rid_extension_id)
            if not value:
                return None
            rid = value.decode("ascii", "replace")
            layer = next((x for x in self.layers if x.rid == rid), None)
            if layer is None:
                return None
            if layer.ssrc is not None:
                self.by_ssrc.pop(layer.ssrc, None)
        layer.adopt(packet.ssrc, packet.sequence_number)
        self.by_ssrc[packet.ssrc] = layer
        return layer

    def reorder(self, rids: list[str]) -> bool:
        """Give layer ``i`` the encoding ``rids[i]`` (``sfu.simulcast_order``: what each
        carries, not the SDP's order), each keeping the SSRC its encoding came on; its
        statistics start over. False when the order is already so."""
        if [layer.rid for layer in self.layers] == rids:
            return False
        streams = {layer.rid: (layer.ssrc, layer.max_seq) for layer in self.layers}
        self.by_ssrc.clear()
        for layer, rid in zip(self.layers, rids, strict=True):
            layer.rid = rid
            ssrc, max_seq = streams[rid]
            if ssrc is None:
                layer.ssrc = None
                continue
            layer.adopt(ssrc, max_seq)
            self.by_ssrc[ssrc] = layer
        return True

    def bitrates(self, now: float | None = None) -> list[float]:
        """Per-layer measured bitrates, lowest first, sampled at ``now`` (about once a
        second); without ``now``, what each layer would cost a subscriber
        (``Layer.selectable_bitrate``: 0 for a layer that is not being sent)."""
        if now is not None:
            return [layer.sample_bitrate(now) for layer in self.layers]
        now = time.monotonic()
        return [layer.selectable_bitrate(now) for layer in self.layers]

    def of_ssrc(self, ssrc: int) -> Layer | None:
        return self.by_ssrc.get(ssrc)
