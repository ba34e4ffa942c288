"""The mails name the organisation on a line of its own (its name may or may not take an
article, so no sentence reads "avec Caisse d'allocations…"), and the cancellation mail
gives the link to book again."""

from __future__ import annotations

from typing import Any

from tests.booking.conftest import booking_body, first_free_slot

DEMO_ORGANISATION = "Caisse d'allocations familiales de démonstration"


def _text(mail: Any) -> str:
    return str(mail.get_body(("plain",)).get_content()).replace("\r\n", "\n")


async def test_mails_name_the_organisation_and_the_cancellation_gives_the_booking_page(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    booking = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()
    token = booking["manage_url"].split("#token=", 1)[1]
    assert (await client.post(f"/api/manage/{token}/cancel")).status == 200

    mails = await smtp_server.mailbox.wait_for(2)
    for mail in mails:
        text = _text(mail)
        assert f"Organisme : {DEMO_ORGANISATION}\n" in text, text
        assert f"avec {DEMO_ORGANISATION}" not in text, text
    cancelled = next(m for m in mails if "annulé" in str(m["Subject"]))
    lines = _text(cancelled).splitlines()
    rebook = lines.index("Vous pouvez prendre un nouveau rendez-vous quand vous le souhaitez :")
    assert lines[rebook + 1] == "http://127.0.0.1:8080/book"
