"""The booking record is a module of its own: the links and the mails about a booking
read it without importing the code that books, which imports them."""

from __future__ import annotations

import grimp


def test_links_and_notifications_do_not_import_the_booking_code() -> None:
    graph = grimp.build_graph("booking_api")
    for child in ("booking_api.links", "booking_api.notifications", "booking_api.join_gate"):
        chain = graph.find_shortest_chain(importer=child, imported="booking_api.bookings")
        assert chain is None, f"{child} reaches back to booking_api.bookings: {chain}"
