"""How fast the SFU adapts one subscriber's video to its link, with the default settings.

One simulcast publisher (three VP8 layers, 160x90 / 320x180 / 640x360, pre-encoded)
and two subscribers in one room, real aiortc peers on 127.0.0.1. Once both watch the
top layer, the SFU's impairment shim (``sfu/impairment.py``: the kernel here has no
``netem``/``tbf``) caps what the SFU sends to one subscriber:

1. a cap between the middle and the top layer → time until its layer drops;
2. a cap below the lowest layer → time until it is audio only;
3. no cap → time until video is back (through padding probes: a paused video gives the
   subscriber's estimator nothing to measure);
4. 5 % random loss for ``LOSS_PHASE_S`` → whether it ever went audio only (it must
   not: NACKs and RTX repair that loss).

The other subscriber's layer is watched throughout. Prints ONE JSON object with the
three times in seconds, the targets, the probes made (and failed), whether the healthy
subscriber stayed on top, and whether random loss made the impaired one audio only.

    python -m bench.adaptation [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.sfu_loopback_client import LoopbackClient
from bench.simulcast_publisher import LAYER_WIDTHS, SimulcastPublisher
from sfu import Sfu, SfuConfig

TARGETS_S = {"layer_drop_s": 2.0, "audio_only_s": 3.0, "video_back_s": 10.0}
BETWEEN_MIDDLE_AND_TOP_BPS = 450_000  # layers ≈ 85 / 260 / 620 kb/s, audio ≈ 50 kb/s
BELOW_LOWEST_BPS = 80_000
STEP_TIMEOUT_S = 30.0
RANDOM_LOSS = 0.05
LOSS_PHASE_S = 10.0


async def until(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``condition()`` held; raises after ``timeout_s``."""
    started = time.monotonic()
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not reached within {timeout_s} s")


def below_top(layer: int | None) -> bool:
    """A video layer under the top one (layer 0 counts; None, audio only, does not)."""
    return layer is not None and layer < 2


async def one_run(run: int) -> dict[str, Any]:
    sfu = Sfu(
        SfuConfig(
            ice_addresses=("127.0.0.1",),
            allowed_remote_networks=("127.0.0.0/8",),
            allow_test_impairment=True,
        )
    )
    room = sfu.room(f"adaptation-{run}")
    publisher = SimulcastPublisher(room.add_participant("agent"))
    impaired = LoopbackClient(room.add_participant("citizen"))
    healthy = LoopbackClient(room.add_participant("observer"))
    try:
        await publisher.publish()
        await until(lambda: len(list(room.producers())) == 2, 10)
        for client in (impaired, healthy):
            await client.sync_subscription()
        top = LAYER_WIDTHS["f"]

        def width(client: LoopbackClient) -> int | None:
            videos = [r for r in client.received.values() if r.kind == "video" and r.frames]
            return videos[0].width if videos else None

        await until(lambda: width(impaired) == top and width(healthy) == top, STEP_TIMEOUT_S)
        link = impaired.participant.link
        healthy_layers: set[int | None] = set()

        def watch_healthy() -> None:
            healthy_layers.add(healthy.participant.link.current("agent").layer)

        def watching(condition: Callable[[], bool]) -> Callable[[], bool]:
            """``condition``, noting the healthy subscriber's layer at every poll."""

            def poll() -> bool:
                watch_healthy()
                return condition()

            return poll

        impaired.participant.set_test_impairment(rate_bps=BETWEEN_MIDDLE_AND_TOP_BPS)
        layer_drop_s = await until(
            watching(lambda: below_top(link.current("agent").layer)), STEP_TIMEOUT_S
        )
        impaired.participant.set_test_impairment(rate_bps=BELOW_LOWEST_BPS)
        audio_only_s = await until(watching(lambda: link.audio_only), STEP_TIMEOUT_S)
        audio_before = await impaired.packets_received("audio")
        impaired.participant.set_test_impairment(rate_bps=None)
        video_back_s = await until(watching(lambda: not link.audio_only), STEP_TIMEOUT_S)
        audio_flowed = await impaired.packets_received("audio") > audio_before
        impaired.participant.set_test_impairment(loss=RANDOM_LOSS)
        audio_only_under_loss = False
        deadline = time.monotonic() + LOSS_PHASE_S
        while time.monotonic() < deadline:
            audio_only_under_loss = audio_only_under_loss or link.audio_only
            watch_healthy()
            await asyncio.sleep(0.05)
        return {
            "layer_drop_s": round(layer_drop_s, 2),
            "audio_only_s": round(audio_only_s, 2),
            "video_back_s": round(video_back_s, 2),
            "healthy_stayed_on_top": healthy_layers == {2},
            "healthy_layers": sorted(healthy_layers, key=str),
            "audio_flowed_while_audio_only": audio_flowed,
            "probes": link.probes,
            "probes_failed": link.probes_failed,
            "audio_only_under_random_loss": audio_only_under_loss,
        }
    finally:
        for each in (publisher, impaired, healthy):
            await each.close()
        await sfu.close()


async def main(repeats: int) -> dict[str, Any]:
    runs = [await one_run(run) for run in range(repeats)]
    result: dict[str, Any] = {"runs": runs, "targets_s": TARGETS_S}
    for key, target in TARGETS_S.items():
        median = statistics.median(r[key] for r in runs)
        result[key] = median
        result[f"{key}_met"] = median <= target
    result["healthy_stayed_on_top"] = all(r["healthy_stayed_on_top"] for r in runs)
    result["audio_only_under_random_loss"] = any(r["audio_only_under_random_loss"] for r in runs)
    return result


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.repeats))))


if __name__ == "__main__":
    run()
