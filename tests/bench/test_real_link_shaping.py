"""The real link shapes and drops what crosses it, in the kernel, and leaves nothing
behind: UDP from the host to a receiver inside the namespace, counted there."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from bench.real_link import RealLink, real_link, unavailable_reason

NO_LINK = unavailable_reason()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NO_LINK is not None, reason=f"no real link here: {NO_LINK}"),
]

PORT = 40_999
DATAGRAM = 1000
RECEIVER = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
sock.settimeout(3.0)
count = 0
try:
    while True:
        sock.recv(2048)
        count += 1
        sock.settimeout(1.0)
except TimeoutError:
    pass
print(count, flush=True)
"""


def delivered(link: RealLink, packets: int, per_second: int) -> int:
    """Send ``packets`` datagrams at ``per_second`` into the namespace; how many arrived."""
    receiver = subprocess.Popen(
        link.in_namespace(sys.executable, "-c", RECEIVER, link.namespace_address, str(PORT)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "ready"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            start = time.monotonic()
            for i in range(packets):
                time.sleep(max(0.0, start + i / per_second - time.monotonic()))
                sock.sendto(b"x" * DATAGRAM, (link.namespace_address, PORT))
        out, _ = receiver.communicate(timeout=10)
        return int(out.strip())
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait(timeout=5)


def test_the_kernel_caps_the_downlink_drops_at_random_and_everything_goes_away() -> None:
    with real_link() as link:
        assert delivered(link, 100, 200) == 100  # unshaped: all of it

        link.shape("down", 400_000)  # 2 s at 1.6 Mb/s offered
        arrived = delivered(link, 400, 200)
        rate_bps = arrived * (DATAGRAM + 28) * 8 / 2.0
        assert 250_000 < rate_bps < 500_000, rate_bps
        assert link.shaper_counters("down").drops > 0

        link.shape("down", None)
        link.set_loss("down", 50)
        arrived = delivered(link, 400, 400)
        assert 120 < arrived < 280, arrived
        namespace, host_interface = link.namespace, link.host_interface

    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert namespace not in listed
    gone = subprocess.run(["ip", "link", "show", host_interface], capture_output=True)
    assert gone.returncode != 0
