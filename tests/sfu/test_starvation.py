"""A video receiver that saw next to none of what we sent is starved; it is the link's
doing only where the audio's arrivals do not say otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from sfu.starvation import AUDIO_EVIDENCE_S, Starvation, audio_corroborates


@dataclass
class Video:
    """A video consumer as ``Starvation`` reads it."""

    receiver_reports: int = 0
    delivery: tuple[int, int] | None = None

    def report(self, moved: int, sent: int) -> None:
        self.receiver_reports += 1
        self.delivery = (moved, sent)


def test_a_receiver_whose_highest_number_stands_still_is_starved_once_a_report() -> None:
    video = Video()
    starvation = Starvation()
    assert starvation.share([video], corroborated=True) == 0.0  # no report yet
    video.report(moved=10, sent=100)
    assert abs(starvation.share([video], corroborated=True) - 0.9) < 1e-9
    assert starvation.share([video], corroborated=True) == 0.0  # the same report again
    video.report(moved=80, sent=100)
    assert starvation.share([video], corroborated=True) == 0.0  # most of it got there
    video.report(moved=0, sent=10)
    assert starvation.share([video], corroborated=True) == 0.0  # too few packets to say


def test_a_starved_receiver_whose_audio_arrives_on_time_is_not_the_links_doing() -> None:
    """Its report is used up all the same: it does not count later either."""
    video = Video()
    starvation = Starvation()
    video.report(moved=5, sent=100)
    assert starvation.share([video], corroborated=False) == 0.0
    assert starvation.share([video], corroborated=True) == 0.0


def test_the_audio_corroborates_with_a_queue_or_a_loss_lately_or_when_not_numbered() -> None:
    now = 100.0
    assert audio_corroborates(now, numbered=False, queued_at=None, audio_lost_at=None)
    assert not audio_corroborates(now, numbered=True, queued_at=None, audio_lost_at=None)
    assert audio_corroborates(now, numbered=True, queued_at=now - 0.5, audio_lost_at=None)
    assert audio_corroborates(now, numbered=True, queued_at=None, audio_lost_at=now - 1.0)
    long_ago = now - AUDIO_EVIDENCE_S
    assert not audio_corroborates(now, numbered=True, queued_at=long_ago, audio_lost_at=long_ago)
