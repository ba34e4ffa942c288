"""Starvation: a subscriber's video receiver saw next to none of what we sent.

A link full of the audio that shares it (a 60 kb/s link under a layer of 345) shows
neither loss nor NACKs: the receiver's highest sequence number just stands still over
a second of its reports. That is the one sign of it, and it counts at once, whatever
calm follows a step.

It is a receiver's sign too, though: a browser that does not keep up (a loaded machine
at call start, its decoder starting) reports the same while the link carries
everything. So it counts only where the link could be the cause: past the stream's
start-up, and, where the subscriber numbers its audio's arrivals
(``sfu.arrival_delay``), only if the audio met a standing queue or was lost lately. A
full link queues the audio behind the video, a dead one loses it; audio arriving on
time and whole says the link is not what starves the video (a call on a clean link
went audio only 1.9 s in, its agent's page under load, audio arriving with no queue).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

STARVED_BELOW = 0.25  # the highest sequence number moved by under this share of what we sent
STARVED_MIN_PACKETS = 16
# the audio's arrivals corroborate a starvation this long after they queued or lost:
# the receiver reports that show it span a second or more
AUDIO_EVIDENCE_S = 2.0


class Delivering(Protocol):
    """What ``Starvation`` reads of a video consumer."""

    @property
    def receiver_reports(self) -> int: ...
    @property
    def delivery(self) -> tuple[int, int] | None: ...  # (highest moved, packets sent)


def audio_corroborates(
    now: float, numbered: bool, queued_at: float | None, audio_lost_at: float | None
) -> bool:
    """Whether the audio's arrivals leave starvation to the link: they are not numbered
    (nothing to tell), or they met a standing queue or were lost within
    ``AUDIO_EVIDENCE_S``."""
    if not numbered:
        return True
    return any(at is not None and now - at < AUDIO_EVIDENCE_S for at in (queued_at, audio_lost_at))


class Starvation:
    """The share of what we sent that a video's receiver did not even see pass, over a
    second or more of its reports; each report counts once."""

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def share(self, videos: Iterable[Delivering], corroborated: bool) -> float:
        """The worst share among ``videos`` (those flowing and past their start-up), or
        0 when none is starved or the audio does not corroborate it."""
        worst = 0.0
        seen: dict[int, int] = {}
        for video in videos:
            key = id(video)
            seen[key] = video.receiver_reports
            if self._seen.get(key) == video.receiver_reports:
                continue
            delivery = video.delivery
            if delivery is None or delivery[1] < STARVED_MIN_PACKETS:
                continue
            moved, sent = delivery
            if moved < STARVED_BELOW * sent:
                worst = max(worst, 1.0 - moved / sent)
        self._seen = seen
        return worst if corroborated else 0.0
