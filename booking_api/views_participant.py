"""Endpoints for the people in a call: documents exchanged during it and the citizen's
one-question survey.

A participant proves itself with ``Authorization: Bearer <token>``: a join token this
service minted for the booking (its hash was stored when minted) or the booking's manage
token; staff may use their session instead.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from booking_api import auth, callbacks, links
from booking_api.access import ensure_access
from booking_api.api_requests import CallbackRequest, Survey
from booking_api.booking_records import BookingRecord
from booking_api.bookings import load_booking
from booking_api.context import context_of
from booking_api.documents import (
    Quota,
    StoredDocument,
    clean_file_name,
    content_disposition,
    kind_of_content,
    kind_of_type,
    record_document,
    store_bytes,
)
from booking_api.errors import ApiError, ValidationFailed, json_body, not_found, unauthorised
from booking_api.field_errors import read
from booking_api.tokens import hash_secret, new_id

routes = web.RouteTableDef()


async def _participant(request: web.Request) -> tuple[BookingRecord, str]:
    """The booking and who is acting on it ("citizen", "invited", "host", "agent:<id>", ...)."""
    db = context_of(request).database
    booking_id = request.match_info["booking_id"]
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header.removeprefix("Bearer ").strip()
        minted = await links.booking_for_join_token(db, token)
        booking = await load_booking(db, booking_id)
        if booking is None:
            raise not_found("Rendez-vous introuvable.")
        if minted is not None and minted[0] == booking_id:
            return booking, minted[1]
        row = await db.fetch_one(
            "SELECT id FROM bookings WHERE id = ? AND manage_token_hash = ?",
            booking_id,
            hash_secret(token),
        )
        if row:
            return booking, "citizen"
        raise unauthorised("Ce jeton ne donne pas accès à ce rendez-vous.")
    if await auth.session_user(request) is None:
        raise unauthorised("Jeton d’appel ou connexion requis.")
    user = await auth.require_user(request, "agent", "admin", "partner")
    booking = ensure_access(user, await load_booking(db, booking_id))
    return booking, f"{user.role}:{user.id}"


@routes.post("/bookings/{booking_id}/files")
async def upload_file(request: web.Request) -> web.Response:
    ctx = context_of(request)
    booking, who = await _participant(request)
    if booking.status == "cancelled":
        raise ApiError(409, "not-active", "Ce rendez-vous a été annulé.")
    if not request.content_type.startswith("multipart/"):
        raise ValidationFailed(
            {"file": "Envoyez le document en multipart/form-data (champ « file »)."}
        )
    quota = Quota(ctx.config.booking_files_max_count, ctx.config.booking_files_max_bytes)
    try:
        filename, data = await _read_file_part(request, quota, booking.id)
    except (ValueError, BadHttpMessage) as exc:
        # aiohttp's multipart reader raises these on a body from outside that does not
        # hold what its headers say: no or another boundary, control characters or no
        # colon in a part header, a line longer than it reads
        raise ValidationFailed(
            {"file": "Envoi illisible : envoyez le document en multipart/form-data."}
        ) from exc
    kind = kind_of_content(bytes(data[:16]))
    if kind is None:
        raise ValidationFailed({"file": "Seuls les documents PDF, PNG et JPEG sont acceptés."})
    document = StoredDocument(
        id=new_id(),
        booking_id=booking.id,
        name=clean_file_name(filename, kind),
        kind=kind,
        size=len(data),
        uploaded_by=who.split(":", 1)[0],
        uploaded_at=int(time.time()),
    )
    path = ctx.config.files_dir / booking.id / document.id
    await asyncio.to_thread(store_bytes, path, bytes(data))
    try:
        await record_document(ctx.database, quota, document)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return web.json_response(
        {
            "id": document.id,
            "name": document.name,
            "content_type": kind.content_type,
            "size": document.size,
        },
        status=201,
    )


async def _read_file_part(
    request: web.Request, quota: Quota, booking_id: str
) -> tuple[str, bytearray]:
    """The ``file`` part's name and bytes, within the upload size and the quota."""
    ctx = context_of(request)
    reader = await request.multipart()
    part = await reader.next()
    while part is not None and getattr(part, "name", None) != "file":
        part = await reader.next()
    if part is None or not isinstance(part, BodyPartReader) or not part.filename:
        raise ValidationFailed({"file": "Aucun fichier reçu (champ « file »)."})
    room = await quota.ensure_room(ctx.database, booking_id)
    limit = ctx.config.upload_max_bytes
    data = bytearray()
    while chunk := await part.read_chunk(65536):
        data.extend(chunk)
        if len(data) > limit:
            raise ApiError(413, "too-large", f"Le document dépasse {limit // (1024 * 1024)} Mo.")
        if len(data) > room:
            raise quota.too_heavy()
    return part.filename, data


@routes.get("/bookings/{booking_id}/files")
async def list_files(request: web.Request) -> web.Response:
    booking, _who = await _participant(request)
    rows = await context_of(request).database.fetch_all(
        "SELECT id, file_name, content_type, size, uploaded_by, uploaded_at FROM booking_files "
        "WHERE booking_id = ? ORDER BY uploaded_at",
        booking.id,
    )
    return web.json_response(
        {
            "files": [
                {
                    "id": r["id"],
                    "name": clean_file_name(r["file_name"], kind_of_type(r["content_type"])),
                    "content_type": r["content_type"],
                    "size": int(r["size"]),
                    "uploaded_by": r["uploaded_by"],
                }
                for r in rows
            ]
        }
    )


@routes.get("/bookings/{booking_id}/files/{file_id}")
async def download_file(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    booking, _who = await _participant(request)
    row = await ctx.database.fetch_one(
        "SELECT id, file_name, content_type FROM booking_files WHERE id = ? AND booking_id = ?",
        request.match_info["file_id"],
        booking.id,
    )
    if row is None:
        raise not_found("Document introuvable.")
    path = ctx.config.files_dir / booking.id / row["id"]
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise not_found("Document introuvable.") from exc
    name = clean_file_name(row["file_name"], kind_of_type(row["content_type"]))
    return web.Response(
        body=data,
        content_type=row["content_type"],
        headers={"Content-Disposition": content_disposition(name)},
    )


@routes.post("/bookings/{booking_id}/survey")
async def answer_survey(request: web.Request) -> web.Response:
    booking, who = await _participant(request)
    if who != "citizen":
        raise ApiError(403, "forbidden", "Seul l’usager répond à l’enquête.")
    body = await json_body(request)
    answer = read(Survey, body)
    score, comment = answer.score, answer.comment
    db = context_of(request).database
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM survey_answers WHERE booking_id = ?", booking.id)
        await tx.execute(
            "INSERT INTO survey_answers (booking_id, score, answered_at, comment) "
            "VALUES (?, ?, ?, ?)",
            booking.id,
            score,
            int(time.time()),
            comment,
        )
    return web.json_response({"booking_id": booking.id, "score": score, "comment": comment})


@routes.post("/callbacks")
async def ask_callback(request: web.Request) -> web.Response:
    """The video failed (pre-call check or call): the citizen asks to be called back at a
    number; the agents of the service see it until one marks it done. The page knows
    its join token, not which booking it is for: the token says it."""
    ctx = context_of(request)
    booking = await _booking_of_bearer(request)
    if booking.status in ("cancelled", "done", "no-show"):
        raise ApiError(409, "not-active", "Ce rendez-vous n’est plus en cours.")
    asked = read(CallbackRequest, await json_body(request))
    found = await callbacks.ask(ctx.database, booking, asked.phone, asked.moment)
    return web.json_response(found.public(), status=201)


async def _booking_of_bearer(request: web.Request) -> BookingRecord:
    """The booking a join token we minted, or a manage token, is for."""
    db = context_of(request).database
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not token:
        raise unauthorised("Jeton d’appel requis (Authorization: Bearer).")
    minted = await links.booking_for_join_token(db, token)
    booking_id = minted[0] if minted else None
    if booking_id is None:
        row = await db.fetch_one(
            "SELECT id FROM bookings WHERE manage_token_hash = ?", hash_secret(token)
        )
        booking_id = row["id"] if row else None
    booking = await load_booking(db, booking_id) if booking_id else None
    if booking is None:
        raise unauthorised("Ce jeton ne donne accès à aucun rendez-vous.")
    return booking
