"""Which encodings a simulcast publisher should keep sending (dynacast).

A publisher's browser encodes and uploads every simulcast layer whether or not
anybody receives it: on a citizen's rural uplink, or an agent's laptop, the top layer
is most of that cost. When no subscriber receives a layer (nor is switching to it),
the publisher is asked to stop it; when one wants it again, to start it at once.

Only layers *above* the highest one somebody wants are stopped, as LiveKit's dynacast
does: a subscriber stepping down always finds its new layer flowing (a step down is
urgent, a step up is a probe that can wait for the encoder to restart). The lowest
layer always flows: a new subscriber, a resumed video or the pre-call check start on
it without a round trip to the publisher. A layer that never flowed (the publisher's
own estimate keeps it off) is left alone: stopping it saves nothing, and a layer
stopped without ever being measured could never be chosen again.

A stop waits ``suspend_after_s`` (a subscriber briefly on a lower layer, or a
consumer being replaced, must not flap the publisher's encoder); a start is at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class LayerDemand:
    """The sending state we asked of one publisher's encodings, lowest first."""

    count: int
    suspend_after_s: float
    active: list[bool] = field(init=False)
    _unwanted_since: list[float | None] = field(init=False)

    def __post_init__(self) -> None:
        self.active = [True] * self.count  # a new encoding is sent until told otherwise
        self._unwanted_since = [None] * self.count

    def update(self, now: float, wanted: Iterable[int], flowed: Sequence[bool]) -> bool:
        """``wanted``: layers some subscriber receives or is switching to; ``flowed``:
        per layer, whether its bitrate was ever measured. True when ``active`` changed."""
        top = max((i for i in wanted if 0 <= i < self.count), default=0)
        changed = False
        for index in range(1, self.count):
            if index <= top or not flowed[index]:
                self._unwanted_since[index] = None
                if not self.active[index]:
                    self.active[index] = True
                    changed = True
                continue
            since = self._unwanted_since[index]
            if since is None:
                self._unwanted_since[index] = since = now
            if self.active[index] and now - since >= self.suspend_after_s:
                self.active[index] = False
                changed = True
        return changed
