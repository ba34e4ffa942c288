"""Document uploads under hostile multipart bodies, on the real service process.

The OpenAPI description cannot say what a multipart upload looks like, so the API fuzz
never sends one: here hand-written cases (no boundary, a boundary the body does not use,
file names with control characters, paths or 100 000 characters, parts nested or
encoded, content that lies about its type) and seeded mutations of a valid body. Each
must be answered 201 or 4xx, never 5xx; what is stored must come back as an attachment
of a PDF, PNG or JPEG type under a plain file name.
"""

from __future__ import annotations

import json
import random
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.server import RunningService, run_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SEED = 1867
MUTATIONS = 150
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
BOUNDARY = "vgboundary"
SAFE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")  # controls, path separators


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    body: bytes
    content_type: str = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(*parts: tuple[bytes, bytes], boundary: str = BOUNDARY) -> bytes:
    """A multipart body of (header lines, content) parts."""
    out = b""
    for headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


def file_part(filename: bytes, content: bytes = PDF, extra: bytes = b"") -> tuple[bytes, bytes]:
    disposition = b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"'
    return disposition + extra, content


def hand_written() -> Iterator[Upload]:
    valid = multipart(file_part(b"avis.pdf"))
    yield Upload("valid", valid)
    yield Upload("no-boundary", valid, "multipart/form-data")
    yield Upload("empty-boundary", valid, "multipart/form-data; boundary=")
    yield Upload("other-boundary", valid, "multipart/form-data; boundary=elsewhere")
    yield Upload("no-closing-boundary", valid[: -len(BOUNDARY) - 6])
    yield Upload("empty-body", b"")
    yield Upload("control-characters-in-name", multipart(file_part(b"a\x01\x1b[2J.pdf")))
    yield Upload("nul-in-name", multipart(file_part(b"a\x00b.pdf")))
    yield Upload("newline-in-name", multipart(file_part(b"a\rb\nc.pdf")))
    yield Upload("path-in-name", multipart(file_part(b"../../../etc/passwd.pdf")))
    yield Upload("windows-path-in-name", multipart(file_part(b"C:\\\\Windows\\\\x.pdf")))
    yield Upload("long-name", multipart(file_part(b"a" * 100_000 + b".pdf")))
    yield Upload("dots-name", multipart(file_part(b"...")))
    yield Upload("latin-1-name", multipart(file_part(b"\xe9\xff.pdf")))
    yield Upload(
        "rfc5987-lone-surrogate-name",
        multipart(
            (b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%ED%A0%80.pdf", PDF)
        ),
    )
    yield Upload("bidi-name", multipart(file_part("fdp\u202efdp.exe".encode())))
    yield Upload("empty-file", multipart(file_part(b"a.pdf", b"")))
    yield Upload(
        "html-behind-pdf-magic", multipart(file_part(b"a.html", b"%PDF-<script>1</script>"))
    )
    yield Upload("svg-behind-png-magic", multipart(file_part(b"a.svg", PNG_HEADER + b"<svg/>")))
    yield Upload(
        "nested-multipart",
        multipart(
            file_part(
                b"a.pdf",
                b"--in\r\n\r\nx\r\n--in--",
                b"\r\nContent-Type: multipart/mixed; boundary=in",
            )
        ),
    )
    yield Upload(
        "base64-part",
        multipart(file_part(b"a.pdf", b"!!", b"\r\nContent-Transfer-Encoding: base64")),
    )
    yield Upload("gzip-part", multipart(file_part(b"a.pdf", PDF, b"\r\nContent-Encoding: gzip")))
    yield Upload("no-disposition", multipart((b"Content-Type: application/pdf", PDF)))
    yield Upload(
        "many-parts", multipart(*[(b'Content-Disposition: form-data; name="x"', b"y")] * 3000)
    )
    yield Upload("two-files", multipart(file_part(b"a.pdf"), file_part(b"b.pdf")))
    yield Upload("header-without-colon", multipart((b"garbage header line", PDF)))
    yield Upload("json-instead", b'{"file": "a.pdf"}', "application/json")
    yield Upload("urlencoded-instead", b"file=a.pdf", "application/x-www-form-urlencoded")


def mutations(seed: int, count: int) -> Iterator[Upload]:
    """A valid body with bytes flipped, cut, repeated or CRLFs thrown in."""
    rng = random.Random(seed)
    valid = multipart(file_part(b"avis.pdf"))
    for index in range(count):
        body = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(body))
            match rng.randrange(4):
                case 0:
                    body[at] = rng.randrange(256)
                case 1:
                    del body[at : at + rng.randint(1, 20)]
                case 2:
                    body[at:at] = rng.choice((b"\r\n", b"\r\n\r\n", b"--", b'"', b";", b"\x00"))
                case _:
                    body[at:at] = body[at : at + rng.randint(1, 40)] * rng.randint(2, 50)
        yield Upload(f"mutation-{index}", bytes(body))


def _request(
    url: str, *, method: str = "GET", data: bytes | None = None, headers: dict[str, str]
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def _book(service: RunningService, slot_index: int) -> tuple[str, dict[str, str]]:
    """A booking, and the header its citizen's join link gives for its documents."""
    base = service.base_url + "/api"
    _, body, _ = _request(base + "/motifs/demo-motif-info/slots", headers={})
    soon = datetime.now(UTC) + timedelta(hours=1)
    slots = [s for s in json.loads(body)["slots"] if datetime.fromisoformat(s["start"]) > soon]
    booking = {
        "motif_id": "demo-motif-info",
        "start": slots[slot_index]["start"],
        "citizen": {"name": "Jeanne Dupont", "email": "jeanne@example.org"},
    }
    status, body, _ = _request(
        base + "/bookings",
        method="POST",
        data=json.dumps(booking).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, body
    created = json.loads(body)
    return created["id"], {"Authorization": "Bearer " + created["join_url"].split("#token=")[1]}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(tmp_path_factory.mktemp("upload-fuzz")) as running:
        yield running


def _judge(
    service: RunningService, upload: Upload, booking: str, auth: dict[str, str]
) -> str | None:
    """What is wrong with the answer to ``upload`` (None: nothing)."""
    files = f"{service.base_url}/api/bookings/{booking}/files"
    status, body, _ = _request(
        files,
        method="POST",
        data=upload.body,
        headers={**auth, "Content-Type": upload.content_type},
    )
    if status >= 500:
        return f"{status} {body[:120]!r}"
    if status != 201:
        return None if 400 <= status < 500 else f"unexpected {status}"
    stored = json.loads(body)
    if UNSAFE_NAME.search(stored["name"]) or not stored["name"].strip():
        return f"stored under the name {stored['name']!r}"
    status, _, headers = _request(f"{files}/{stored['id']}", headers=auth)
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "").split(";")[0]
    if status != 200:
        return f"download answered {status}"
    if content_type not in SAFE_TYPES:
        return f"downloaded as {content_type!r}"
    disposition = lowered.get("content-disposition", "")
    if not disposition.startswith("attachment"):
        return f"downloaded inline ({disposition!r})"
    if '"' in stored["name"] and f'filename="{stored["name"]}"' in disposition:
        return f"the name's quote is not escaped in {disposition!r}"
    if lowered.get("x-content-type-options") != "nosniff":
        return "downloaded without X-Content-Type-Options: nosniff"
    return None


def test_hostile_uploads_get_4xx_or_are_stored_safely(service: RunningService) -> None:
    problems = []
    uploads = [*hand_written(), *mutations(SEED, MUTATIONS)]
    bookings = [_book(service, index) for index in range(0, 40, 4)]  # spread the file quota
    for index, upload in enumerate(uploads):
        booking, auth = bookings[index % len(bookings)]
        problem = _judge(service, upload, booking, auth)
        if problem:
            problems.append(f"{upload.name} ({upload.content_type}): {problem}")
    unhandled = service.log_text().count("booking_api_unhandled_error")
    if problems:
        pytest.fail(
            f"{len(problems)} of {len(uploads)} uploads answered wrongly "
            f"({unhandled} unhandled errors in the server log):\n  " + "\n  ".join(problems),
            pytrace=False,
        )
