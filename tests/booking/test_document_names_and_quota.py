"""Documents of a call: any file name a client sends is stored clean and always comes
back in a valid ``Content-Disposition``; one booking holds a bounded number of them."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote, unquote

import pytest

from booking_api.context import CONTEXT
from booking_api.documents import MAX_NAME_CHARS
from tests.booking.conftest import booking_body, first_free_slot

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BOUNDARY = "visioguichet-test-boundary"


def _multipart(data: bytes, name: str) -> dict[str, Any]:
    """A form with one ``file`` part whose name is sent exactly, RFC 5987-encoded as
    browsers and scripts may send it (CR, LF and NUL included)."""
    head = (
        f"--{BOUNDARY}\r\n"
        f"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''{quote(name, safe='')}"
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return {
        "data": head + data + f"\r\n--{BOUNDARY}--\r\n".encode(),
        "headers": {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    }


async def _booking(client: Any) -> tuple[str, dict[str, str]]:
    slot = await first_free_slot(client)
    made = await client.post("/api/bookings", json=booking_body(slot["start"]))
    assert made.status == 201, await made.text()
    booking = await made.json()
    return booking["id"], {"Authorization": "Bearer " + booking["join_url"].split("#token=")[1]}


async def _upload(
    client: Any, booking_id: str, auth: dict[str, str], data: bytes, name: str
) -> Any:
    form = _multipart(data, name)
    return await client.post(
        f"/api/bookings/{booking_id}/files",
        data=form["data"],
        headers=auth | form["headers"],
    )


def _disposition_names(header: str) -> tuple[str, str]:
    """The ASCII ``filename`` and the decoded ``filename*`` of a Content-Disposition."""
    assert header.startswith("attachment; "), header
    params = dict(p.strip().split("=", 1) for p in header.split(";")[1:])
    fallback = params["filename"]
    assert fallback.startswith('"') and fallback.endswith('"'), header
    assert params["filename*"].startswith("UTF-8''"), header
    return fallback[1:-1], unquote(params["filename*"].removeprefix("UTF-8''"))


def _assert_clean(name: str) -> None:
    assert all(c.isprintable() for c in name), repr(name)
    assert "/" not in name and "\\" not in name, name
    assert 0 < len(name) <= MAX_NAME_CHARS, name


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("avis\r\nSet-Cookie: session=x.pdf", "avis Set-Cookie: session=x.pdf"),
        ("avis\n.pdf", "avis.pdf"),
        ("avis\x00.pdf", "avis_.pdf"),
        ("a\x01b.pdf", "a_b.pdf"),
        ("suppr\x7f.pdf", "suppr_.pdf"),
        ("avis\u202efdp.exe", "avis_fdp.exe.pdf"),
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\Users\\jeanne\\Documents\\avis d'impôt.pdf", "avis d'impôt.pdf"),
        ("..", "document.pdf"),
        ("   ", "document.pdf"),
        ("scan.PDF", "scan.PDF"),
    ],
    ids=[
        "crlf-header-injection",
        "lf",
        "nul",
        "soh",
        "del",
        "bidi-override",
        "unix-path",
        "windows-path",
        "dot-dot",
        "blank",
        "upper-case-extension",
    ],
)
async def test_any_sent_name_is_stored_clean_and_downloads(
    booking_client: Any, sent: str, stored: str
) -> None:
    client = await booking_client()
    booking_id, auth = await _booking(client)
    uploaded = await _upload(client, booking_id, auth, PDF, sent)
    assert uploaded.status == 201, await uploaded.text()
    document = await uploaded.json()
    assert document["name"] == stored
    _assert_clean(document["name"])

    listing = await client.get(f"/api/bookings/{booking_id}/files", headers=auth)
    assert [f["name"] for f in (await listing.json())["files"]] == [stored]
    download = await client.get(f"/api/bookings/{booking_id}/files/{document['id']}", headers=auth)
    assert download.status == 200 and await download.read() == PDF
    fallback, exact = _disposition_names(download.headers["Content-Disposition"])
    assert exact == stored
    assert fallback.isascii() and fallback.isprintable()


async def test_non_ascii_name_goes_out_as_rfc_6266_filename_star_with_ascii_fallback(
    booking_client: Any,
) -> None:
    client = await booking_client()
    booking_id, auth = await _booking(client)
    name = "Relevé d’impôts 2026 — été «final».png"
    uploaded = await _upload(client, booking_id, auth, PNG, name)
    assert uploaded.status == 201, await uploaded.text()
    document = await uploaded.json()
    assert document["name"] == name and document["content_type"] == "image/png"
    download = await client.get(f"/api/bookings/{booking_id}/files/{document['id']}", headers=auth)
    assert download.status == 200
    header = download.headers["Content-Disposition"]
    assert header.isascii()
    fallback, exact = _disposition_names(header)
    assert exact == name
    assert fallback == "Releve d_impots 2026 _ ete _final_.png"


async def test_long_name_is_cut_keeping_its_extension_and_a_wrong_one_gets_the_real_one(
    booking_client: Any,
) -> None:
    client = await booking_client()
    booking_id, auth = await _booking(client)
    long = await _upload(client, booking_id, auth, PDF, "é" * 500 + ".pdf")
    assert long.status == 201
    name = (await long.json())["name"]
    assert name == "é" * (MAX_NAME_CHARS - 4) + ".pdf"
    disguised = await _upload(client, booking_id, auth, PNG, "photo.exe")
    assert (await disguised.json())["name"] == "photo.exe.png"
    bare = await _upload(client, booking_id, auth, PNG, "photo")
    assert (await bare.json())["name"] == "photo.png"


async def test_document_stored_earlier_under_a_bad_name_still_downloads(
    booking_client: Any,
) -> None:
    """Rows written before names were cleaned keep their raw name in the database."""
    client = await booking_client()
    booking_id, auth = await _booking(client)
    ctx = client.app._subapps[0][CONTEXT]
    folder = ctx.config.files_dir / booking_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "old-document").write_bytes(PDF)
    await ctx.database.execute(
        "INSERT INTO booking_files (id, booking_id, file_name, content_type, size, "
        "uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        "old-document",
        booking_id,
        'old\r\nX-Evil: 1\x01\x7f"name".pdf',  # PostgreSQL text holds no NUL
        "application/pdf",
        len(PDF),
        "citizen",
        int(time.time()),
    )
    await ctx.database.execute(
        "INSERT INTO booking_files (id, booking_id, file_name, content_type, size, "
        "uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        "lost-document",
        booking_id,
        "lost.pdf",
        "application/pdf",
        len(PDF),
        "citizen",
        int(time.time()),
    )
    download = await client.get(f"/api/bookings/{booking_id}/files/old-document", headers=auth)
    assert download.status == 200 and await download.read() == PDF
    assert "X-Evil" not in download.headers
    _fallback, exact = _disposition_names(download.headers["Content-Disposition"])
    assert exact == 'old X-Evil: 1__"name".pdf'
    listing = await (await client.get(f"/api/bookings/{booking_id}/files", headers=auth)).json()
    assert {f["id"]: f["name"] for f in listing["files"]}["old-document"] == exact
    lost = await client.get(f"/api/bookings/{booking_id}/files/lost-document", headers=auth)
    assert lost.status == 404 and (await lost.json())["error"] == "not-found"


async def test_a_booking_holds_a_bounded_number_of_documents(booking_client: Any) -> None:
    client = await booking_client(booking_files_max_count=3)
    booking_id, auth = await _booking(client)
    for index in range(3):
        stored = await _upload(client, booking_id, auth, PDF, f"piece-{index}.pdf")
        assert stored.status == 201, await stored.text()
    refused = await _upload(client, booking_id, auth, PDF, "piece-3.pdf")
    assert refused.status == 409
    error = await refused.json()
    assert error["error"] == "too-many-files"
    assert "3 documents" in error["message"] and "3 documents" in error["fields"]["file"]
    listing = await (await client.get(f"/api/bookings/{booking_id}/files", headers=auth)).json()
    assert len(listing["files"]) == 3

    other_id, other_auth = await _booking(client)
    assert (await _upload(client, other_id, other_auth, PDF, "a.pdf")).status == 201


async def test_a_booking_holds_a_bounded_total_size_of_documents(booking_client: Any) -> None:
    client = await booking_client(booking_files_max_bytes=2048)
    booking_id, auth = await _booking(client)
    page = PDF + b"0" * (1000 - len(PDF))
    assert (await _upload(client, booking_id, auth, page, "a.pdf")).status == 201
    assert (await _upload(client, booking_id, auth, page, "b.pdf")).status == 201
    refused = await _upload(client, booking_id, auth, page, "c.pdf")
    assert refused.status == 413
    error = await refused.json()
    assert error["error"] == "files-quota"
    assert "2 Ko" in error["message"] and "2 Ko" in error["fields"]["file"]
    small = await _upload(client, booking_id, auth, PDF, "d.pdf")
    assert small.status == 201, await small.text()
    assert await _stored_count(client, booking_id) == 3
    on_disk = _files_on_disk(client, booking_id)
    assert len(on_disk) == 3, on_disk  # the refused document left nothing behind


async def _stored_count(client: Any, booking_id: str) -> int:
    ctx = client.app._subapps[0][CONTEXT]
    row = await ctx.database.fetch_one(
        "SELECT COUNT(*) AS n FROM booking_files WHERE booking_id = ?", booking_id
    )
    return int(row["n"])


def _files_on_disk(client: Any, booking_id: str) -> list[str]:
    folder = client.app._subapps[0][CONTEXT].config.files_dir / booking_id
    return sorted(p.name for p in folder.iterdir())


async def test_uploads_at_once_never_exceed_the_quota_nor_leave_files_behind(
    booking_client: Any,
) -> None:
    client = await booking_client(booking_files_max_count=3)
    booking_id, auth = await _booking(client)
    responses = await asyncio.gather(
        *(_upload(client, booking_id, auth, PDF, f"piece-{i}.pdf") for i in range(8))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] * 3 + [409] * 5, statuses
    assert await _stored_count(client, booking_id) == 3
    assert len(_files_on_disk(client, booking_id)) == 3
