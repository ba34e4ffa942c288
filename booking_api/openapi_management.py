"""OpenAPI operations of the management endpoints: agents' availability and absences,
and an administrator's services, motifs, agents and partner points."""

from __future__ import annotations

from typing import Any

from booking_api import api_requests as rq
from booking_api import api_responses as rs
from booking_api.openapi_operations import Operations, json_answer


def paths(ops: Operations) -> dict[str, Any]:
    staff = ops.errors(401, 403, 404)
    taken = staff | ops.errors(s409="email-taken")
    agent = ("agent_id",)

    def op(summary: str, ok: Any, **options: Any) -> dict[str, Any]:
        options.setdefault("errors", staff)
        return ops.op(summary, ok, staff=True, **options)

    return {
        "/agents/{agent_id}/availability": {
            "get": op(
                "Weekly rules and coming absences (agent: own, or 'me'; admin: organisation)",
                rs.Availability,
                path=agent,
            ),
            "put": op(
                "Replace the weekly rules (Europe/Paris wall times, 5-minute steps)",
                rs.Availability,
                path=agent,
                body=rq.WeeklyRules,
            ),
        },
        "/agents/{agent_id}/absences": {
            "post": op(
                "Add an absence; its free slots disappear at once",
                json_answer(rs.Absence, "Added"),
                path=agent,
                status=201,
                body=rq.NewAbsence,
            )
        },
        "/agents/{agent_id}/absences/{absence_id}": {
            "delete": op("Remove an absence", rs.Deleted, path=(*agent, "absence_id"))
        },
        "/agent/bookings/{booking_id}/cancel": {
            "post": op(
                "Cancel on the service's side (agent of the service, admin); the citizen is "
                "mailed the cancellation",
                rs.Booking,
                path=("booking_id",),
                errors=staff | ops.errors(409),
            )
        },
        "/agent/bookings/{booking_id}/confirm": {
            "post": op(
                "Accept a request awaiting review (motif with needs_review); the citizen "
                "gets the confirmation with the join link",
                rs.Booking,
                path=("booking_id",),
                errors=staff | ops.errors(409),
            )
        },
        "/admin/services": {
            "get": op(
                "The organisation's services with all their motifs (admin)", rs.ManagedServices
            ),
            "post": op(
                "Create a service",
                json_answer(rs.ManagedService, "Created"),
                body=rq.ServiceName,
                status=201,
            ),
        },
        "/admin/services/{service_id}": {
            "patch": op(
                "Rename a service", rs.ManagedService, path=("service_id",), body=rq.ServiceName
            )
        },
        "/admin/services/{service_id}/motifs": {
            "post": op(
                "Create a motif (notice, horizon and buffer default to 60 min, 60 days, 0)",
                json_answer(rs.ManagedMotif, "Created"),
                path=("service_id",),
                body=rq.NewMotif,
                status=201,
            )
        },
        "/admin/motifs/{motif_id}": {
            "patch": op(
                "Change a motif; active: false withdraws it from booking",
                rs.ManagedMotif,
                path=("motif_id",),
                body=rq.MotifChange,
            )
        },
        "/admin/agents": {
            "get": op("The organisation's agents", rs.Agents),
            "post": op(
                "Create an agent of a service (weekday office hours to start with)",
                json_answer(rs.Account, "Created"),
                body=rq.NewAgent,
                status=201,
                errors=taken,
            ),
        },
        "/admin/agents/{user_id}": {
            "patch": op(
                "Rename, change service, deactivate (active: false) or reactivate an agent",
                rs.Account,
                path=("user_id",),
                body=rq.AgentChange,
            )
        },
        "/admin/partner-points": {
            "get": op(
                "The organisation's partner points and their staff accounts", rs.PartnerPoints
            ),
            "post": op(
                "Create a partner point",
                json_answer(rs.PartnerPoint, "Created"),
                body=rq.NewPartnerPoint,
                status=201,
            ),
        },
        "/admin/partner-points/{point_id}": {
            "patch": op(
                "Change a partner point's name or address",
                rs.PartnerPoint,
                path=("point_id",),
                body=rq.PartnerPointChange,
            )
        },
        "/admin/partner-points/{point_id}/staff": {
            "post": op(
                "Create a staff account of the partner point",
                json_answer(rs.Account, "Created"),
                path=("point_id",),
                body=rq.NewAccount,
                status=201,
                errors=taken,
            )
        },
        "/admin/partner-points/{point_id}/staff/{user_id}": {
            "patch": op(
                "Rename or deactivate (active: false) a staff account",
                rs.Account,
                path=("point_id", "user_id"),
                body=rq.AccountChange,
            )
        },
    }
