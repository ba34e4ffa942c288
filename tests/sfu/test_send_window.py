"""What the SFU sent one subscriber and what it NACKed again after a resend (loss the
repair did not hide), over the span a report covers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sfu.quality import (
    LOSS_GRACE_S,
    OVERFLOW_PERSIST_AFTER_STEP_S,
    OVERFLOW_PERSIST_S,
    OverflowWatch,
    QueueDelay,
    ReportLoss,
    SendWindow,
)

START = LOSS_GRACE_S + 1.0


@dataclass
class Kind:
    kind: str


@dataclass
class Counters:
    """A consumer's send counters, as ``SendWindow`` reads them (``SentCounts``)."""

    kind: str
    bytes_sent: int = 0
    packets_sent: int = 0
    packets_nacked: int = 0
    packets_renacked: int = 0
    producer: Kind = field(init=False)

    def __post_init__(self) -> None:
        self.producer = Kind(self.kind)

    def send(self, packets: int, size: int, nacked: int = 0, first_nacks: int = 0) -> None:
        """``nacked``: packets NACKed again after their resend; ``first_nacks``: packets
        NACKed once (the resend repaired them)."""
        self.packets_sent += packets
        self.bytes_sent += packets * size
        self.packets_nacked += first_nacks + nacked
        self.packets_renacked += nacked


def test_rates_and_the_nack_share_cover_about_the_last_second() -> None:
    video, audio = Counters("video"), Counters("audio")
    window = SendWindow()
    now = 0.0
    window.add(now, now, [video, audio])
    for _ in range(8):  # 2 s of clean sending, evaluated every 0.25 s
        now += 0.25
        video.send(25, 1000)
        audio.send(12, 125)
        window.add(now - 0.25, now, [video, audio])
    sent_bps, audio_bps, nack_share = window.rates()
    assert abs(sent_bps - (100 * 1000 + 48 * 125) * 8) < 1
    assert abs(audio_bps - 48 * 125 * 8) < 1
    assert nack_share == 0.0
    for _ in range(4):  # then a second where a third of the video goes missing
        now += 0.25
        video.send(24, 1000, nacked=8)
        window.add(now - 0.25, now, [video, audio])
    assert abs(window.rates()[2] - 1 / 3) < 1e-9  # the clean seconds have rolled out


def test_too_few_packets_give_no_share_and_a_layer_change_restarts_the_window() -> None:
    video = Counters("video")
    window = SendWindow()
    window.add(0.0, 0.0, [video])
    video.send(10, 1000)
    window.add(0.0, 1.0, [video])
    window.add(1.0, START, [video])  # past the stream's start-up, whose NACKs do not count
    video.send(5, 1000, nacked=3)
    window.add(START, START + 0.5, [video])
    assert window.rates()[2] == 0.0  # five packets say nothing yet
    video.send(40, 1000, nacked=20)
    window.add(START + 0.5, START + 1.0, [video])
    assert window.rates()[2] > 0.4
    # the layer changed: what came before is about another rate
    window.forget_before(START + 1.0)
    assert not window.enough_video()
    video.send(12, 300, nacked=0)
    window.add(START + 1.0, START + 1.5, [video])
    assert window.enough_video() and window.rates()[2] == 0.0


def test_a_streams_start_up_losses_do_not_count() -> None:
    video = Counters("video")
    window = SendWindow()
    window.add(0.0, 0.0, [video])
    video.send(30, 1000, nacked=15)  # a browser's first second: NACKs on a healthy link
    window.add(0.0, 1.0, [video])
    assert window.rates()[2] == 0.0 and not window.past_start_up(video, 1.0)
    assert window.past_start_up(video, LOSS_GRACE_S)


def test_first_nacks_repaired_by_a_resend_do_not_count_as_loss() -> None:
    """5 % random loss, every packet repaired by its retransmission: no loss to act on;
    a packet NACKed again after its resend is loss the repair did not hide."""
    video = Counters("video")
    window = SendWindow()
    window.add(0.0, 0.0, [video])
    video.send(10, 1000)
    now = START  # past the stream's start-up
    window.add(0.0, now, [video])
    for _ in range(4):
        now += 0.25
        video.send(40, 1000, first_nacks=2)
        window.add(now - 0.25, now, [video])
    assert window.rates()[2] == 0.0
    for _ in range(4):
        now += 0.25
        video.send(40, 1000, first_nacks=8, nacked=6)
        window.add(now - 0.25, now, [video])
    assert abs(window.rates()[2] - 6 / 40) < 1e-9


def test_most_of_the_video_nacked_within_half_a_second_is_an_overflow() -> None:
    """A 60 kb/s link under the top layer loses four packets of five at once: its NACKs
    say so within a round trip. 5 % random loss, or too few packets, say nothing."""
    video, audio = Counters("video"), Counters("audio")
    window = SendWindow()
    now = 0.0
    window.add(now, now, [video, audio])
    for _ in range(12):  # 3 s of clean sending, past the start-up
        now += 0.25
        video.send(10, 1000, first_nacks=0 if _ % 4 else 1)  # 2.5 % first NACKs
        audio.send(12, 125)
        window.add(now - 0.25, now, [video, audio])
    assert window.overflow() == (0.0, 0.0)
    for _ in range(2):  # then half a second where 8 of 10 go missing
        now += 0.25
        video.send(10, 1000, first_nacks=8)
        audio.send(12, 125)
        window.add(now - 0.25, now, [video, audio])
    share, sent_bps = window.overflow()
    assert abs(share - 0.8) < 1e-9
    assert abs(sent_bps - (20 * 1000 + 24 * 125) * 8 / 0.5) < 1
    sparse = SendWindow()  # the same share over a handful of packets says nothing
    thin = Counters("video")
    sparse.add(0.0, 0.0, [thin])
    thin.send(1, 1000)
    sparse.add(0.0, START, [thin])
    thin.send(5, 1000, first_nacks=4)
    sparse.add(START, START + 0.5, [thin])
    assert sparse.overflow() == (0.0, 0.0)


@dataclass
class Reported(Counters):
    """A video consumer with the receiver reports ``ReportLoss`` reads."""

    receiver_reports: int = 0
    fraction_lost: float = 0.0
    paused: bool = False

    def report(self, fraction_lost: float) -> None:
        self.receiver_reports += 1
        self.fraction_lost = fraction_lost


def test_the_first_report_after_video_resumes_is_not_about_it() -> None:
    """A receiver counts as lost every number between the last packet it got and the
    next: the first report after a pause covers what the congestion took before it
    (about 0.6 after a 60 kb/s cap, on a link by then unshaped)."""
    consumer = Reported("video")
    window = SendWindow()
    report_loss = ReportLoss()
    window.add(0.0, 0.0, [consumer])
    consumer.send(10, 1000)
    window.add(0.0, START, [consumer])  # past its start-up
    consumers: Any = [consumer]
    report_loss.skip_next(consumers)  # video resumes
    consumer.send(20, 1000)
    consumer.report(0.6)
    assert report_loss.update(START + 1.0, consumers, window) == 0.0
    consumer.send(20, 1000)
    consumer.report(0.3)
    assert abs(report_loss.update(START + 2.0, consumers, window) - 0.3) < 1e-9


def test_audio_reports_count_only_while_no_video_flows() -> None:
    """While video flows its reports, every second, say what the link does now; one of
    Chrome's audio reports covers 5 s, mostly past (a loss burst over for 3 s read
    19.5 % in the next one and put the call in audio only). In audio only, they count."""
    video, audio = Reported("video"), Reported("audio")
    window = SendWindow()
    report_loss = ReportLoss()
    consumers: Any = [video, audio]
    window.add(0.0, 0.0, consumers)
    for consumer in (video, audio):
        consumer.send(10, 1000)
    window.add(0.0, START, consumers)  # past their start-up
    for consumer in (video, audio):
        consumer.send(50, 1000)
    video.report(0.0)
    audio.report(0.195)
    assert report_loss.update(START + 1.0, consumers, window) == 0.0
    video.paused = True  # audio only: the audio's reports are all there is
    audio.send(50, 100)
    audio.report(0.2)
    assert abs(report_loss.update(START + 2.0, consumers, window) - 0.2) < 1e-9


def test_an_overflow_counts_once_it_lasts_and_longer_just_after_a_step_down() -> None:
    """A keyframe's burst NACKed in a small queue reads as an overflow for a moment;
    just after a step down the new layer's keyframe meets the queue the old one filled,
    so the overflow must outlast it (a 400 kb/s link went audio only on one)."""
    watch = OverflowWatch()
    assert watch.update(0.0, 0.6, settling=False) == 0.0
    assert watch.update(OVERFLOW_PERSIST_S, 0.6, settling=False) == 0.6
    assert watch.update(0.5, 0.0, settling=False) == 0.0  # it ended: the clock restarts
    assert watch.update(1.0, 0.8, settling=True) == 0.0
    assert watch.update(1.0 + OVERFLOW_PERSIST_S, 0.8, settling=True) == 0.0
    assert watch.update(1.0 + OVERFLOW_PERSIST_AFTER_STEP_S, 0.8, settling=True) == 0.8


@dataclass
class Echoing:
    """A video consumer as ``QueueDelay`` reads it: its round trips, one per report."""

    rtt_s: float | None = None
    rtt_samples: int = 0
    paused: bool = False
    producer: Kind = field(default_factory=lambda: Kind("video"))

    def echo(self, rtt_s: float) -> None:
        self.rtt_s = rtt_s
        self.rtt_samples += 1


def test_the_queue_is_a_round_trip_over_the_shortest_one_lately() -> None:
    """Half a millisecond on a clean path; 93 ms once a 400 kb/s cap's queue fills. A
    report echoing the same sender report again is no new sample; after 30 s the old
    shortest round trip is forgotten."""
    video = Echoing()
    queue = QueueDelay()
    consumers: Any = [video]
    assert queue.update(0.0, consumers) is None  # nothing measured yet
    video.echo(0.0005)
    assert queue.update(0.5, consumers) == 0.0
    assert queue.update(0.6, consumers) is None  # no new round trip
    video.echo(0.0935)
    assert abs((queue.update(1.0, consumers) or 0.0) - 0.093) < 1e-9
    video.paused = True
    video.echo(0.5)
    assert queue.update(1.5, consumers) is None  # a paused video's reports say nothing
    video.paused = False
    video.echo(0.09)
    assert queue.update(40.0, consumers) == 0.0  # a standing queue becomes the baseline


@dataclass
class Arrivals:
    """What the subscriber's arrival feedback on one audio said, so far."""

    feedbacks: int = 0
    lost: int = 0
    queue_s: float | None = None

    def feedback(self, queue_s: float, lost: int = 0) -> None:
        self.feedbacks += 1
        self.lost += lost
        self.queue_s = queue_s


@dataclass
class Numbered:
    """An audio consumer whose arrivals the subscriber numbers, as ``QueueDelay`` reads it."""

    arrivals: Arrivals = field(default_factory=Arrivals)
    producer: Kind = field(default_factory=lambda: Kind("audio"))


def test_the_queue_remembers_when_the_audio_last_queued_and_when_it_was_lost() -> None:
    """What corroborates a starved video (``sfu.starvation``): a clean path's audio
    meets a queue of a millisecond or so and loses nothing."""
    audio = Numbered()
    queue = QueueDelay()
    consumers: Any = [audio]
    audio.arrivals.feedback(0.001)
    assert queue.update(1.0, consumers) == 0.001
    assert queue.standing_at is None and queue.audio_lost_at is None
    audio.arrivals.feedback(0.03)
    queue.update(1.2, consumers)
    assert queue.standing_at == 1.2 and queue.audio_lost_at is None
    audio.arrivals.feedback(0.0, lost=2)
    queue.update(1.4, consumers)
    assert queue.standing_at == 1.2 and queue.audio_lost_at == 1.4
    queue.update(1.6, consumers)  # no new feedback: nothing new lost
    assert queue.audio_lost_at == 1.4
