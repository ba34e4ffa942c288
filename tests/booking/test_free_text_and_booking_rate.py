"""Names and free text from the public land in official mails: one line, no hidden
characters, a sensible length; and one client cannot fill an agent's week."""

from __future__ import annotations

from typing import Any

import pytest

from tests.booking.conftest import bookable_slots, booking_body, first_free_slot

INJECTION = (
    "Jean\n\nATTENTION : votre dossier est suspendu. Régularisez sous 24 h sur "
    "http://caf-regularisation.example"
)


@pytest.mark.parametrize(
    "name",
    [
        INJECTION,
        "Jean\rDupont",
        "Jean\tDupont",
        "Jean\x00Dupont",
        "Jean\x7fDupont",
        "Jean\x85Dupont",  # NEL, a C1 line break
        "Jean\u2028Dupont",  # LINE SEPARATOR
        "Jean \u202egro.elpmaxe\u202c",  # RIGHT-TO-LEFT OVERRIDE
        "J" * 101,
        "Jean http://example.org",
        "Jean www.example.org",
        "jean@example.org",
        "<b>Jean</b>",
        "12345",
    ],
)
async def test_a_citizen_name_that_is_not_one_plain_line_is_refused(
    booking_client: Any, smtp_server: Any, name: str
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    body = booking_body(slot["start"], name=name, email="jeanne@example.org")
    response = await client.post("/api/bookings", json=body)
    assert response.status == 422
    assert "citizen.name" in (await response.json())["fields"]
    assert smtp_server.mailbox.messages == []


async def test_a_real_name_with_accents_and_apostrophes_reaches_the_mail_as_written(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    name = "Marie-Hélène O’Connor d’Arvor"
    body = booking_body(slot["start"], name=f"  {name} ", email="marie@example.org")
    response = await client.post("/api/bookings", json=body)
    assert response.status == 201, await response.text()
    [mail] = await smtp_server.mailbox.wait_for(1)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"Bonjour {name}," in text


async def test_the_instant_queue_refuses_a_name_with_a_line_break(booking_client: Any) -> None:
    client = await booking_client()
    response = await client.post(
        "/api/queue", json={"motif_id": "demo-motif-info", "citizen": {"name": INJECTION}}
    )
    assert response.status == 422
    assert "citizen.name" in (await response.json())["fields"]


async def _book(client: Any, start: str, **headers: str) -> Any:
    return await client.post("/api/bookings", json=booking_body(start), headers=headers)


async def test_one_client_booking_in_a_loop_is_stopped_after_the_burst(
    booking_client: Any,
) -> None:
    client = await booking_client(public_booking_burst=3, public_booking_per_hour=30)
    slots = await bookable_slots(client)
    statuses = [(await _book(client, slot["start"])).status for slot in slots[:5]]
    assert statuses == [201, 201, 201, 429, 429]
    refused = await _book(client, slots[5]["start"])
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert (await refused.json())["error"] == "too-many-bookings"


async def test_an_invalid_form_does_not_count_against_the_client(booking_client: Any) -> None:
    client = await booking_client(public_booking_burst=1)
    slot = await first_free_slot(client)
    for _ in range(3):
        bad = booking_body(slot["start"], name="Jean\nDupont", email="jean@example.org")
        assert (await client.post("/api/bookings", json=bad)).status == 422
    assert (await _book(client, slot["start"])).status == 201


async def test_a_forged_forwarded_for_does_not_buy_a_new_bucket(booking_client: Any) -> None:
    client = await booking_client(public_booking_burst=2)
    slots = await bookable_slots(client)
    statuses = [
        (await _book(client, slot["start"], **{"X-Forwarded-For": f"198.51.100.{i}"})).status
        for i, slot in enumerate(slots[:3])
    ]
    assert statuses == [201, 201, 429]


async def test_behind_a_trusted_proxy_each_citizen_has_a_bucket_of_their_own(
    booking_client: Any,
) -> None:
    client = await booking_client(public_booking_burst=1, trusted_proxies=("127.0.0.1",))
    slots = await bookable_slots(client)
    first = await _book(client, slots[0]["start"], **{"X-Forwarded-For": "198.51.100.7"})
    second = await _book(client, slots[1]["start"], **{"X-Forwarded-For": "198.51.100.8"})
    again = await _book(client, slots[2]["start"], **{"X-Forwarded-For": "198.51.100.7"})
    assert (first.status, second.status, again.status) == (201, 201, 429)
