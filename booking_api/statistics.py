"""Figures for managers: bookings, outcomes, lead time, call length, audio-only share and
survey score, grouped by organisation, service, motif, partner point, agent or week.

Computed from bookings (kept after the purge, without personal data) and call events.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from statistics import mean
from typing import Any

from booking_api.db import Database
from booking_api.slots import PARIS, from_epoch

# group → (key, readable label) as SQL over the joined row; "week" is the ISO week of
# the appointment in Paris, computed in Python from the start.
GROUPS = {
    "organisation": ("s.organisation_id", "o.name"),
    "service": ("m.service_id", "s.name"),
    "motif": ("b.motif_id", "m.label"),
    "partner": ("b.partner_point_id", "p.name"),
    "agent": ("b.agent_id", "u.name"),
    "week": ("b.start_at", "b.start_at"),
}
COLUMNS = (
    "group",
    "label",
    "booked",
    "honoured",
    "no_shows",
    "cancelled",
    "lead_time_hours",
    "call_duration_min",
    "audio_only_share",
    "survey_score",
)


async def compute(
    db: Database, *, group_by: str, start_at: int, end_at: int, scope: str, scope_value: str | None
) -> list[dict[str, Any]]:
    """One row per group for bookings starting in ``[start_at, end_at)`` within the scope
    (a SQL condition on the joined booking row, e.g. the caller's organisation)."""
    key, label = GROUPS[group_by]
    rows = await db.fetch_all(
        f"SELECT b.id, b.status, b.start_at, b.created_at, {key} AS grp, {label} AS label "
        "FROM bookings b JOIN motifs m ON m.id = b.motif_id JOIN services s ON s.id = m.service_id "
        "JOIN organisations o ON o.id = s.organisation_id JOIN users u ON u.id = b.agent_id "
        "LEFT JOIN partner_points p ON p.id = b.partner_point_id "
        f"WHERE b.start_at >= ? AND b.start_at < ? AND {scope}",
        start_at,
        end_at,
        *([scope_value] if scope_value is not None else []),
    )
    if group_by == "week":
        for row in rows:
            row["grp"] = row["label"] = _iso_week(int(row["start_at"]))
    ids = [r["id"] for r in rows]
    durations: dict[str, float] = {}
    audio: dict[str, list[bool]] = defaultdict(list)
    scores: dict[str, int] = {}
    if ids:
        marks = ", ".join("?" for _ in ids)
        events = await db.fetch_all(
            f"SELECT booking_id, kind, at, data FROM call_events WHERE booking_id IN ({marks}) "
            "ORDER BY at",
            *ids,
        )
        started: dict[str, float] = {}
        for event in events:
            booking_id, kind = event["booking_id"], event["kind"]
            if kind == "call-started":
                started.setdefault(booking_id, float(event["at"]))
            elif kind == "call-ended" and booking_id in started:
                durations[booking_id] = float(event["at"]) - started[booking_id]
            elif kind == "quality":
                data = json.loads(event["data"] or "{}")
                audio[booking_id].append(bool(data.get("audio_only")))
        for answer in await db.fetch_all(
            f"SELECT booking_id, score FROM survey_answers WHERE booking_id IN ({marks})", *ids
        ):
            scores[answer["booking_id"]] = int(answer["score"])
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row["grp"] or "")].append(row)
    result = []
    for group, members in sorted(groups.items()):
        member_ids = [m["id"] for m in members]
        samples = [flag for i in member_ids for flag in audio.get(i, [])]
        result.append(
            {
                "group": group,
                # Bookings made by citizens themselves have no partner point.
                "label": str(members[0]["label"] or "") if group else "",
                "booked": len(members),
                "honoured": sum(1 for m in members if m["status"] == "done"),
                "no_shows": sum(1 for m in members if m["status"] == "no-show"),
                "cancelled": sum(1 for m in members if m["status"] == "cancelled"),
                "lead_time_hours": _avg(
                    [(int(m["start_at"]) - int(m["created_at"])) / 3600 for m in members]
                ),
                "call_duration_min": _avg(
                    [durations[i] / 60 for i in member_ids if i in durations]
                ),
                "audio_only_share": _avg([1.0 if s else 0.0 for s in samples]),
                "survey_score": _avg([float(scores[i]) for i in member_ids if i in scores]),
            }
        )
    return result


def _iso_week(epoch: int) -> str:
    """``2026-W48``: the ISO week of the instant's Paris date (weeks start on Monday)."""
    year, week, _ = from_epoch(epoch).astimezone(PARIS).isocalendar()
    return f"{year}-W{week:02d}"


def _avg(values: list[float]) -> float | None:
    return round(mean(values), 2) if values else None


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return out.getvalue()
