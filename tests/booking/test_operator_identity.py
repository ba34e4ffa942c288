"""The operator's identity and the legal pages' texts: set by an administrator through the
API, kept in the database, named in the mails; hostile input (a logo that is not one, an
SVG, a colour nobody can read, markup in a text) refused or made harmless."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

from booking_api import legal_text
from booking_api.config import BookingConfig
from booking_api.db import open_database
from booking_api.legal_pages import page_html
from booking_api.migrations import apply_migrations
from booking_api.site_identity import load_identity, save_identity
from tests.booking.conftest import booking_body, first_free_slot
from tests.booking.test_availability import ADMIN, sign_in

AGENT = {"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"}


def png(width: int = 40, height: int = 20, trailer: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 0, 145)).save(out, format="PNG")
    return out.getvalue() + trailer


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge picture (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )


def field_codes(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["code"] for e in body.get("field_errors", [])}


async def test_an_administrator_names_the_operator_and_everyone_reads_it(
    booking_client: Any,
) -> None:
    client = await booking_client(operator_name="Visioguichet de test")
    assert (await (await client.get("/api/site")).json())["name"] == "Visioguichet de test"
    csrf = await sign_in(client, ADMIN)
    change = {"name": "Caisse d'allocations familiales du Rhône", "colour": "#1F4E8C"}
    response = await client.put("/api/admin/site", json=change, headers=csrf)
    assert response.status == 200, await response.text()
    site = await (await client.get("/api/site")).json()
    assert site["name"] == "Caisse d'allocations familiales du Rhône"
    assert site["colour"] == "#1f4e8c"
    assert site["accessibility_status"] == "non" and site["state_marks"] is False
    # null goes back to the flag's value; a field left out is unchanged
    response = await client.put("/api/admin/site", json={"name": None}, headers=csrf)
    assert (await response.json())["name"] == "Visioguichet de test"
    assert (await response.json())["colour"] == "#1f4e8c"


async def test_only_an_administrator_changes_the_identity(booking_client: Any) -> None:
    client = await booking_client()
    anonymous = await client.put("/api/admin/site", json={"name": "Pirate"})
    assert anonymous.status == 401
    csrf = await sign_in(client, AGENT)
    agent = await client.put("/api/admin/site", json={"name": "Pirate"}, headers=csrf)
    assert agent.status == 403
    logo = await client.put("/api/admin/site/logo", data=png(), headers=csrf)
    assert logo.status == 403
    assert (await (await client.get("/api/site")).json())["name"] != "Pirate"


async def test_bad_identity_fields_are_refused_field_by_field(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    bad = {
        "name": "Caisse\u202enommée à l'envers",
        "colour": "#ffff00",  # yellow: white text on it cannot be read
        "accessibility_status": "conforme",
    }
    response = await client.put("/api/admin/site", json=bad, headers=csrf)
    assert response.status == 422
    assert field_codes(await response.json()) == {
        "name": "control-character",
        "colour": "low-contrast",
        "accessibility_status": "not-allowed",
    }
    response = await client.put("/api/admin/site", json={"colour": "blue"}, headers=csrf)
    assert field_codes(await response.json()) == {"colour": "not-a-colour"}
    response = await client.put("/api/admin/site", json={"name": "x" * 121}, headers=csrf)
    assert field_codes(await response.json()) == {"name": "too-long"}


async def test_the_logo_is_re_encoded_and_served_as_a_png_only(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    # A PNG with an HTML page after its end: a polyglot a browser might sniff as HTML.
    upload = png(trailer=b"<html><script>alert(1)</script></html>")
    headers = csrf | {"Content-Type": "text/html"}
    response = await client.put("/api/admin/site/logo", data=upload, headers=headers)
    assert response.status == 200, await response.text()
    logo_url = (await response.json())["logo_url"]
    served = await client.get(logo_url)
    assert served.status == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    body = await served.read()
    assert b"<script" not in body and body != upload
    assert Image.open(io.BytesIO(body)).size == (40, 20)
    assert (await client.delete("/api/admin/site/logo", headers=csrf)).status == 200
    assert (await client.get("/api/site/logo")).status == 404


async def test_hostile_logos_are_refused_with_a_reason(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    jpeg_head_only = b"\xff\xd8\xff\xe0" + b"\x00" * 40
    cases = {
        "svg-refused": svg,
        "unsupported-image": b"GIF89a" + b"\x00" * 40,
        "unreadable-image": jpeg_head_only,
        "too-many-pixels": png_claiming(50_000, 50_000),
        "too-large-file": png() + b"\x00" * (512 * 1024),
        "required": b"",
    }
    for code, data in cases.items():
        response = await client.put("/api/admin/site/logo", data=data, headers=csrf)
        assert response.status == 422, (code, await response.text())
        assert field_codes(await response.json()) == {"logo": code}
    assert (await (await client.get("/api/site")).json())["logo_url"] is None


async def test_legal_texts_are_kept_and_restored_to_their_default(booking_client: Any) -> None:
    client = await booking_client(operator_name="CPAM de test")
    csrf = await sign_in(client, ADMIN)
    default = await (await client.get("/api/admin/legal/mentions-legales", headers=csrf)).json()
    assert default["customised"] is False
    assert "Ce site est édité par CPAM de test." in default["text"]
    text = "## Éditeur\nCPAM de test, 1 rue du Port, 69000 Lyon\n\n- Hébergeur : nous-mêmes"
    response = await client.put(
        "/api/admin/legal/mentions-legales", json={"text": text}, headers=csrf
    )
    assert response.status == 200
    assert (await response.json()) | {"text": ""} == {
        "page": "mentions-legales",
        "title": "Mentions légales",
        "text": "",
        "customised": True,
        "url": "/mentions-legales",
    }
    reset = await client.put("/api/admin/legal/mentions-legales", json={"text": None}, headers=csrf)
    assert (await reset.json())["customised"] is False
    unknown = await client.put("/api/admin/legal/cgu", json={"text": "x"}, headers=csrf)
    assert unknown.status == 404
    bad = await client.put(
        "/api/admin/legal/accessibilite", json={"text": "a\u0007b"}, headers=csrf
    )
    assert field_codes(await bad.json()) == {"text": "control-character"}
    blank = await client.put("/api/admin/legal/accessibilite", json={"text": " "}, headers=csrf)
    assert field_codes(await blank.json()) == {"text": "required"}
    missing = await client.put("/api/admin/legal/accessibilite", json={}, headers=csrf)
    assert field_codes(await missing.json()) == {"text": "required"}


def test_an_administrators_markup_is_shown_as_text_never_run() -> None:
    hostile = (
        '## <img src=x onerror="alert(1)">\n<script>alert(2)</script>\n\n'
        '- https://example.org/a?b=1&c="><script>x</script>\n'
        "- javascript:alert(3)"
    )
    rendered = legal_text.to_html(hostile)
    assert "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in rendered
    assert '<a href="javascript' not in rendered
    assert "<h2>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</h2>" in rendered
    assert rendered.count("<li>") == 2
    # the quote ends the address: what follows is text
    assert '<a href="https://example.org/a?b=1&amp;c=" rel=' in rendered
    assert "</a>&quot;&gt;&lt;script&gt;x&lt;/script&gt;</li>" in rendered


async def test_the_personal_data_page_says_the_purge_settings_value(tmp_path: Any) -> None:
    config = BookingConfig(database_url=f"sqlite:///{tmp_path}/b.db", purge_after_days=45)
    db = await open_database(config.database_url)
    try:
        await apply_migrations(db)
        identity = await load_identity(db, config)
        content = page_html("donnees-personnelles", identity, config, None)
        assert "45 jours après la fin du rendez-vous, puis effacés" in content
        await save_identity(db, {"name": "Mairie <b>de</b> Test", "accessibility_status": None})
        identity = await load_identity(db, config)
        assert identity.name == "Mairie <b>de</b> Test" and identity.revision > 0
        statement = page_html("accessibilite", identity, config, None, {"pages": ["/"]})
        assert "Mairie &lt;b&gt;de&lt;/b&gt; Test s&#x27;engage" in statement
        assert "<strong>non conforme</strong>" in statement
    finally:
        await db.close()


async def test_mails_name_the_operator_and_link_the_personal_data_page(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    csrf = await sign_in(client, ADMIN)
    change = {"name": "Caisse d'allocations familiales du Rhône"}
    assert (await client.put("/api/admin/site", json=change, headers=csrf)).status == 200
    slot = await first_free_slot(client)
    assert (await client.post("/api/bookings", json=booking_body(slot["start"]))).status == 201
    (mail,) = await smtp_server.mailbox.wait_for(1)
    text = str(mail.get_body(("plain",)).get_content()).replace("\r\n", "\n")
    assert "Cordialement,\nCaisse d'allocations familiales de démonstration\n" in text, text
    assert "Service de rendez-vous en visio de Caisse d'allocations familiales du Rhône." in text
    assert text.rstrip().endswith("http://127.0.0.1:8080/donnees-personnelles"), text
