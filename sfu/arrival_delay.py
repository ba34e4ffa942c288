"""How long what we send a subscriber waits in a queue on its downlink, a tenth of a
second after the queue forms: from the transport-wide feedback on its audio.

A receiver report gives one round trip about once a second (Chrome's RTCP interval for
video), so a link capped under what we send showed its queue 0.9 to 1.5 s late, while
the top layer filled the queue that the audio waits in. Chrome reports the arrival of
every packet that carries a transport-wide sequence number every 50 to 250 ms. We
number only the audio we forward (``Track.configure``'s ``transport_cc_id``): the video
keeps the REMB that Chrome's receive-side estimator computes from it, and the audio,
steady at 50 packets a second, samples the queue the video builds. A packet's arrival
time minus the time it left is the one-way delay plus a constant offset between the two
clocks; its excess over the smallest of the last ``BASELINE_WINDOW_S`` is the queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sfu.transport_feedback import parse_feedback

BASELINE_WINDOW_S = 30.0  # the path with no queue: the least delay seen over this
_REFERENCE_SPAN_US = (1 << 24) * 64_000  # a feedback's reference time wraps after this


class ArrivalDelay:
    """The queue each feedback shows, and the packets it says did not arrive.

    ``sent_at(seq)`` is when the packet of that transport-wide number left (the native
    ``Egress.sent_at``), None for a number it no longer remembers.
    """

    def __init__(self, sent_at: Callable[[int], float | None]) -> None:
        self._sent_at = sent_at
        self._least: deque[tuple[float, float]] = deque()  # (sent, delay), delays rising
        self._last_reference_us: int | None = None
        self._wraps_us = 0
        self._last_sequence: int | None = None
        self.feedbacks = 0
        self.rejected = 0
        self.received = 0
        self.lost = 0
        self.queue_s: float | None = None  # what the newest feedback showed
        self.sampled_at = -1e9  # when (monotonic)

    def on_feedback(self, body: bytes, now: float) -> float | None:
        """One feedback (RTPFB FMT 15 past its header); the queue it shows: the least
        over the packets it reports newly received (a queue holds all of them back; a
        receiver's busy moment, some), None if it reports none we know."""
        try:
            _, packets = parse_feedback(body)
        except ValueError:
            self.rejected += 1
            return None
        self.feedbacks += 1
        least: float | None = None
        for sequence, arrival_us in packets:
            last = self._last_sequence
            if last is not None and not 0 < (sequence - last) & 0xFFFF < 0x8000:
                continue  # reported before
            sent = self._sent_at(sequence)
            if sent is None:
                continue  # not a number we remember sending
            self._last_sequence = sequence
            if arrival_us is None:
                self.lost += 1
                continue
            self.received += 1
            delay = self._unwrapped(arrival_us) / 1e6 - sent
            queue = self._queue(sent, delay)
            least = queue if least is None else min(least, queue)
        if least is not None:
            self.queue_s = least
            self.sampled_at = now
        return least

    def _unwrapped(self, arrival_us: int) -> int:
        """Arrival times continue across the 24-bit reference time's wrap (12 days)."""
        last = self._last_reference_us
        if last is not None:
            if arrival_us + self._wraps_us - last < -_REFERENCE_SPAN_US // 2:
                self._wraps_us += _REFERENCE_SPAN_US
            elif arrival_us + self._wraps_us - last > _REFERENCE_SPAN_US // 2:
                self._wraps_us -= _REFERENCE_SPAN_US
        unwrapped = arrival_us + self._wraps_us
        self._last_reference_us = unwrapped
        return unwrapped

    def _queue(self, sent: float, delay: float) -> float:
        least = self._least
        while least and least[-1][1] >= delay:
            least.pop()
        least.append((sent, delay))
        while sent - least[0][0] > BASELINE_WINDOW_S:
            least.popleft()
        return delay - least[0][1]
