"""SFU settings: one frozen value object so an integrator sees every knob in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server the SFU side may use (e.g. coturn)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class SfuConfig:
    """Every SFU setting, with its default.

    - ``ice_addresses``: host-candidate addresses to gather on; empty means aioice's
      interface scan (which skips loopback). Tests use ``("127.0.0.1",)``.
    - ``announced_address``: written into our candidates instead of the bound address
      (a server behind 1:1 NAT).
    - ``udp_port_min`` / ``udp_port_max``: UDP port range for ICE host candidates;
      ``None`` means any ephemeral port.
    - ``allowed_remote_networks``: CIDRs; when set, remote candidates outside them are
      dropped before any connectivity check, and datagrams from outside them unanswered.
    - ``ice_servers``: STUN/TURN for the SFU side.
    - ``keyframe_request_min_interval_s``: at most one PLI per producer in this time.
    - ``packet_history_size``: RTP packets kept per consumer to serve NACKs.
    - ``audio_only_floor_bps``: below this video budget, on evidence (a REMB that came
      down, or loss) lasting 0.9 s, a subscriber's video pauses (unless the layers it
      gets bring even less: their publisher's link is the poor one).
    - ``loss_threshold``: loss (what retransmission did not repair) above which a link
      counts as bad: for 1 s, video steps down a layer, from the lowest to audio only;
      video is probed for again only once loss has stayed under it for
      ``video_resume_hold_s``.
    - ``video_resume_hold_s``: the link must be good this long before the lowest layers
      are probed with padding (video resumes when a probe is carried).
    - ``start_bitrate_bps``: a new video consumer starts on the highest layer under
      this; the subscriber's REMB is a ramp, not a budget, for 5 s after video starts.
    - ``layer_up_hold_s``: layers steady this long before the next one up is probed with
      padding (``probe.py``); moved up when the subscriber's estimate follows.
    - ``layer_up_factor``: a subscriber without RTX (no padding) moves up once its
      video budget has been this multiple of what we send it for ``layer_up_hold_s``.
    - ``max_incoming_bitrate_bps``: the REMB we send publishers (their ceiling).
    - ``suspend_unused_layers_after_s``: a simulcast layer above every layer its
      subscribers receive is stopped at its publisher after this long (dynacast: the
      ``on_send_layers`` room event; a browser sets that encoding's ``active``), and
      asked for again the moment one wants it; ``None`` never stops one.
    - ``allow_test_impairment``: test-only; lets ``Participant.set_test_impairment``
      drop or rate-cap what the SFU sends to that participant (never in production).
    """

    ice_addresses: tuple[str, ...] = ()
    announced_address: str | None = None
    udp_port_min: int | None = None
    udp_port_max: int | None = None
    allowed_remote_networks: tuple[str, ...] = ()
    ice_servers: tuple[IceServer, ...] = ()
    keyframe_request_min_interval_s: float = 1.0
    packet_history_size: int = 512
    audio_only_floor_bps: int = 60_000
    loss_threshold: float = 0.15
    video_resume_hold_s: float = 5.0
    start_bitrate_bps: int = 1_000_000
    layer_up_factor: float = 1.3
    layer_up_hold_s: float = 3.0
    max_incoming_bitrate_bps: int = 2_500_000
    suspend_unused_layers_after_s: float | None = 5.0
    allow_test_impairment: bool = False
