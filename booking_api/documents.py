"""Documents exchanged during a call: the name a file keeps, the header that hands it
back, and how many documents (and how many bytes) one booking may hold.

A file name comes from the uploader's machine and goes back out in an HTTP header and
onto the other participant's disk, so it is cleaned on the way in and again on the way
out (rows stored before names were cleaned must still download): no folder, no control
or invisible formatting character (a CR/LF would end the header, U+202E would make
``avis‮fdp.exe`` read as ``avisexe.pdf``), a bounded length, and an extension that
matches what the content really is.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from booking_api.db import Connection, Database
from booking_api.errors import ApiError

MAX_NAME_CHARS = 120

# Unicode categories never kept in a name: controls (C0, DEL, C1), invisible formatting
# (bidi overrides, zero-width), surrogates, private use, unassigned, line/paragraph breaks.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# ASCII a browser may show and save as is inside filename="..." on every system.
_ASCII_FALLBACK = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,_-()+=@&!#$'[]{}~"
)


@dataclass(frozen=True, slots=True)
class DocumentKind:
    content_type: str
    magic: bytes  # how the content of one starts, whatever its name says
    extension: str  # the one given to a name that has none that fits
    extensions: frozenset[str]  # those a name of this kind may already end with


KINDS = (
    DocumentKind("application/pdf", b"%PDF-", ".pdf", frozenset({".pdf"})),
    DocumentKind("image/png", b"\x89PNG\r\n\x1a\n", ".png", frozenset({".png"})),
    DocumentKind(
        "image/jpeg", b"\xff\xd8\xff", ".jpg", frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})
    ),
)
_KIND_BY_TYPE = {kind.content_type: kind for kind in KINDS}
_ANY_KIND = DocumentKind("application/octet-stream", b"", "", frozenset())


def kind_of_content(data: bytes) -> DocumentKind | None:
    """The accepted kind ``data`` is, judged by its first bytes; ``None`` for any other."""
    return next((kind for kind in KINDS if data.startswith(kind.magic)), None)


def kind_of_type(content_type: str) -> DocumentKind:
    """The kind stored under ``content_type`` (any extension goes for one unknown)."""
    return _KIND_BY_TYPE.get(content_type, _ANY_KIND)


def clean_file_name(raw: str, kind: DocumentKind) -> str:
    """The name to store and show: the last path part of ``raw``, runs of white space
    made one space, other invisible and control characters made ``_``, at most
    ``MAX_NAME_CHARS``, ending with an extension of ``kind`` (added when missing or
    wrong, kept when the name is shortened)."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = " ".join(name.split())  # CR, LF, TAB, U+2028... are white space to split()
    name = "".join("_" if unicodedata.category(c) in _DROPPED_CATEGORIES else c for c in name)
    name = name.strip(" .")
    stem, dot, extension = name.rpartition(".")
    if dot and stem and extension.lower() in {e[1:] for e in kind.extensions}:
        extension = f".{extension}"
    else:
        stem, extension = name, kind.extension
    stem = stem[: MAX_NAME_CHARS - len(extension)].rstrip(" .")
    return f"{stem or 'document'}{extension}"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the exact name in
    ``filename*`` (RFC 6266, UTF-8 percent-encoded) for the others."""
    fallback = "".join(
        "" if unicodedata.category(c) == "Mn" else c if c in _ASCII_FALLBACK else "_"
        for c in unicodedata.normalize("NFKD", name)
    ).strip(" .")
    return (
        f'attachment; filename="{fallback or "document"}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} Mo"
    if size >= 1024:
        return f"{size / 1024:g} Ko"
    return f"{size} octets"


@dataclass(frozen=True, slots=True)
class Quota:
    """How many documents, and how many bytes of them, one booking may hold."""

    max_count: int
    max_bytes: int

    def too_many(self) -> ApiError:
        return ApiError(
            409,
            "too-many-files",
            f"Ce rendez-vous a déjà {self.max_count} documents, le maximum.",
            {"file": f"{self.max_count} documents au plus par rendez-vous."},
        )

    def too_heavy(self) -> ApiError:
        limit = _size_text(self.max_bytes)
        return ApiError(
            413,
            "files-quota",
            f"Les documents de ce rendez-vous dépasseraient {limit} au total.",
            {"file": f"{limit} de documents au plus par rendez-vous."},
        )

    async def ensure_room(self, db: Database | Connection, booking_id: str) -> int:
        """Bytes the booking may still receive; raises when it may receive no document."""
        row = await db.fetch_one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS total FROM booking_files "
            "WHERE booking_id = ?",
            booking_id,
        )
        count, total = (int(row["n"]), int(row["total"])) if row else (0, 0)
        if count >= self.max_count:
            raise self.too_many()
        if total >= self.max_bytes:
            raise self.too_heavy()
        return self.max_bytes - total


@dataclass(frozen=True, slots=True)
class StoredDocument:
    id: str
    booking_id: str
    name: str
    kind: DocumentKind
    size: int
    uploaded_by: str
    uploaded_at: int


async def record_document(db: Database, quota: Quota, document: StoredDocument) -> None:
    """Add the document's row unless the booking's quota is used up meanwhile.

    The no-op update locks the booking's row (PostgreSQL) or the database (SQLite's
    ``BEGIN IMMEDIATE``) so two uploads at once cannot both take the last place.
    """
    async with db.transaction() as tx:
        await tx.execute("UPDATE bookings SET id = id WHERE id = ?", document.booking_id)
        if document.size > await quota.ensure_room(tx, document.booking_id):
            raise quota.too_heavy()
        await tx.execute(
            "INSERT INTO booking_files (id, booking_id, file_name, content_type, size, "
            "uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            document.id,
            document.booking_id,
            document.name,
            document.kind.content_type,
            document.size,
            document.uploaded_by,
            document.uploaded_at,
        )


def store_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
