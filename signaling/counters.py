"""The signalling server's counters, as one record every connection writes into.

The server creates it and hands it to each session, so a session counts its frames
and errors without calling back into the server; ``SignalingServer.stats()`` reads it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class SignalingCounters:
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0  # droppable frames (quality, active-speaker) a full queue refused
    frames_unencodable: int = 0  # frames the codec could not write (dropped, logged)
    connections_total: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # error code -> frames sent
