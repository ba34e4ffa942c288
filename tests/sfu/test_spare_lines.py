"""A stream back on the m-line that carried it continues every number the subscriber has
seen on that line's SSRCs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sfu.spare_lines import continue_numbering


def _consumer(seq: int, rtx_seq: int) -> Any:
    track = SimpleNamespace(
        last_out_seq=seq,
        last_out_ts=seq * 3000,
        last_send_time=1.0,
        picture_id_out=seq & 0x7FFF,
        tl0_pic_idx_out=seq & 0xFF,
        key_idx_out=seq & 0x1F,
    )
    return SimpleNamespace(track=track, rtx_seq=rtx_seq)


def test_the_rtx_stream_continues_its_numbers_too() -> None:
    """The same RTX SSRC restarted at a random number is, to SRTP, a replay of an old
    index: every retransmission and padding probe on it was refused (a publisher's ICE
    restart left its subscriber's probes failing, and the top layer never came back)."""
    previous, new = _consumer(5000, 40_000), _consumer(17, 3)
    continue_numbering(new, previous)
    assert new.rtx_seq == 40_000
    assert new.track.last_out_seq == 5000 and new.track.picture_id_out == 5000
