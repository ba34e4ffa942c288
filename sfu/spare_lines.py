"""Inactive subscribe m-lines, kept to be reused before a new one is added.

Each stream a subscriber receives has its m-line; when the stream ends (its publisher
unpublished, left, or restarted ICE) the m-line goes ``inactive``. Adding a fresh one
for every new stream made a call with a flapping network grow its subscribe SDP
without bound (2 m-lines → 52, 2.5 → 61.5 kB of SDP over 40 ICE restarts and 20
camera toggles of one publisher: ``tests/interop/test_renegotiation.py``). Browsers
and mediasoup reuse such m-sections; so does this: an inactive m-line of the same kind
and codec takes the next stream — preferably the same stream coming back (its
numbering then continues: one SSRC, one stream for the subscriber), else one whose
inactivity the subscriber has already answered (so its page sees a new ``track``
event for the new stream).
"""

from __future__ import annotations

from typing import Any

from sfu.consumer import Consumer

StreamKey = tuple[str, str]  # (publisher id, source)


class SpareLines:
    """The inactive m-lines of one subscribe connection, with what each carried."""

    def __init__(self) -> None:
        self._spares: dict[Any, tuple[StreamKey, Consumer]] = {}

    def __len__(self) -> int:
        return len(self._spares)

    def keep(self, transceiver: Any, key: StreamKey, consumer: Consumer) -> None:
        """``transceiver`` went inactive after carrying ``consumer`` (stream ``key``)."""
        self._spares[transceiver] = (key, consumer)

    def take(self, key: StreamKey, kind: str, mime_type: str) -> tuple[Any, Consumer | None] | None:
        """A spare m-line for stream ``key`` (set sending again), with the consumer it
        carried when that was this same stream; None when there is none to reuse."""
        same_codec = [
            (transceiver, carried)
            for transceiver, carried in self._spares.items()
            if carried[1].producer.kind == kind
            and carried[1].producer.mime_type.lower() == mime_type.lower()
        ]
        chosen = next((spare for spare in same_codec if spare[1][0] == key), None)
        if chosen is None:
            chosen = next(
                (spare for spare in same_codec if spare[0].currentDirection == "inactive"), None
            )
        if chosen is None:
            return None
        transceiver, (former_key, former) = chosen
        del self._spares[transceiver]
        transceiver.direction = "sendonly"
        return transceiver, former if former_key == key else None

    def clear(self) -> None:
        self._spares.clear()


def continue_numbering(consumer: Consumer, previous: Consumer) -> None:
    """A stream back on the m-line that carried it continues its sequence numbers,
    timestamps and VP8 picture numbers (one SSRC: the subscriber sees one stream), and
    its RTX stream's numbers: the same RTX SSRC restarted at a random number is a
    replay to SRTP, which refused every retransmission and padding probe on it."""
    consumer.rtx_seq = previous.rtx_seq
    new, old = consumer.track, previous.track
    new.last_out_seq = old.last_out_seq
    new.last_out_ts = old.last_out_ts
    new.last_send_time = old.last_send_time
    new.picture_id_out = old.picture_id_out
    new.tl0_pic_idx_out = old.tl0_pic_idx_out
    new.key_idx_out = old.key_idx_out
