"""Citizens' phone numbers: written as people write them, kept in E.164, and a number
that no numbering plan knows refused with a field code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.booking.conftest import booking_body, first_free_slot


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("(01) 44-55-66-77", "+33144556677"),
        ("+32 470 12 34 56", "+32470123456"),
    ],
)
async def test_phone_numbers_are_kept_in_e164(booking_client: Any, written: str, kept: str) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    body = booking_body(slot["start"], name="Paul Martin", phone=written)
    response = await client.post("/api/bookings", json=body)
    assert response.status == 201, await response.text()
    token = (await response.json())["manage_url"].split("#token=", 1)[1]
    view = await (await client.get(f"/api/manage/{token}")).json()
    assert view["citizen"]["phone"] == kept


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("06 12 34 56", "unknown-phone-number"),  # too short for France
        ("00 12 34 56 78", "unknown-phone-number"),  # no such French prefix
        ("+999 123 456 789", "unknown-phone-number"),  # no such country code
        ("06 12 AB 56 78", "invalid-phone"),  # not digits
    ],
)
async def test_a_number_that_does_not_exist_gets_a_field_code(
    booking_client: Any, written: str, code: str
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    body = booking_body(slot["start"], name="Paul Martin", phone=written)
    response = await client.post("/api/bookings", json=body)
    assert response.status == 422
    error = await response.json()
    assert {"field": "citizen.phone", "code": code} == {
        k: v for k, v in error["field_errors"][0].items() if k != "message"
    }
