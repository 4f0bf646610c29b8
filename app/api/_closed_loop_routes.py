"""Closing the loop through the API: mark an incident fixed, file it to a tracker, and the reply drafts.

``POST /api/alerts/{id}/fix``      admin   ``{version, date, note, ticket}`` → the incident (state ``fixed``)
``POST /api/alerts/{id}/ticket``   admin   ``{to}`` → the ticket ``{tracker, kind, key, url, at}``
``GET  /api/replies``              read    ``?status=&incident=`` → reply drafts and what became of them
``POST /api/replies/approve``      admin   ``{reviews: […]} or {incident}`` → how many approved
``POST /api/replies/send``         admin   send the approved replies (each review once)

A refused value (a bad version, date or ticket URL; an unknown tracker; missing credentials) is a 400 with
the reason; an unknown incident a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api._ops import NotFound, Operations, Unavailable
from app.api._params import check_id
from configs import Settings

__all__ = ["register"]

REPLY_STATUSES = ("draft", "approved", "sending", "sent", "failed")


class FixIn(BaseModel):
    version: str = Field("", max_length=64)
    date: str | None = Field(None, max_length=40)
    note: str = Field("", max_length=500)
    ticket: str = Field("", max_length=500)


class TicketIn(BaseModel):
    to: str = Field(..., min_length=1, max_length=64)


class ApproveIn(BaseModel):
    reviews: list[str] = Field(default_factory=list, max_length=1000)
    incident: str | None = Field(None, max_length=64)


class _Refused(ValueError):
    pass


def register(app: FastAPI, *, settings: Settings, ops: Operations, reader: Callable[..., Any],
             admin: Callable[..., Any], now: Callable[[], datetime]) -> None:
    from alerts import AlertNotFoundError, AlertsError

    @app.exception_handler(_Refused)
    async def _refused(_request: Request, exc: _Refused) -> JSONResponse:
        return JSONResponse({"error": "refused", "message": str(exc)}, status_code=400)

    def sqlite_store() -> Any:
        from alerts.store import SqliteAlertStore

        st = ops.store
        if not isinstance(st, SqliteAlertStore):
            raise Unavailable("replies need the SQLite alert store")
        return st

    def run(fn: Callable[[], Any], alert_id: str = "") -> Any:
        try:
            with ops._store_lock:
                return fn()
        except AlertNotFoundError:
            raise NotFound(f"no alert with id {alert_id!r}") from None
        except AlertsError as exc:
            raise _Refused(str(exc)) from None

    @app.post("/api/alerts/{alert_id}/fix", tags=["alerts"])
    def fix(alert_id: str, body: FixIn, _p: Any = Depends(admin)) -> dict:
        """Mark an incident fixed in a version and/or on a date (admin); evaluation verifies it in the data."""
        from alerts.fixes import mark_fixed, parse_fix_date
        from alerts.view import incident_view

        aid = check_id("alert_id", alert_id)

        def go() -> Any:
            date = parse_fix_date(body.date) if body.date else None
            return mark_fixed(settings, aid, version=body.version, date=date, note=body.note, ticket=body.ticket,
                              by=f"web:{_p.via}", now=now(), store=ops.store)

        return {"alert": incident_view(run(go, aid))}

    @app.post("/api/alerts/{alert_id}/ticket", tags=["alerts"])
    def ticket(alert_id: str, body: TicketIn, _p: Any = Depends(admin)) -> dict:
        """File an incident to a tracker of alerts.yaml (admin); the ticket URL is stored on it."""
        from alerts.tickets import file_ticket

        aid = check_id("alert_id", alert_id)
        return {"ticket": run(lambda: file_ticket(settings, aid, to=body.to, now=now(), store=ops.store), aid)}

    @app.get("/api/replies", tags=["replies"])
    def replies(status: str | None = Query(None, max_length=20), incident: str | None = Query(None, max_length=64),
                _p: Any = Depends(reader)) -> dict:
        """Reply drafts for App Store reviewers of fix-verified incidents, and what became of them."""
        from alerts.replies import list_replies

        if status and status not in REPLY_STATUSES:
            raise _Refused(f"status: expected one of {', '.join(REPLY_STATUSES)}")
        return {"replies": run(lambda: list_replies(sqlite_store(), status=status, incident=incident))}

    @app.post("/api/replies/approve", tags=["replies"])
    def approve(body: ApproveIn, _p: Any = Depends(admin)) -> dict:
        """Approve drafts (admin): only approved replies are ever sent."""
        from alerts.replies import approve as do_approve

        n = run(lambda: do_approve(sqlite_store(), reviews=tuple(body.reviews), incident=body.incident,
                                   by=f"web:{_p.via}", now=now()))
        return {"approved": n}

    @app.post("/api/replies/send", tags=["replies"])
    def send(_p: Any = Depends(admin)) -> dict:
        """Send the approved replies through the App Store Connect API (admin; each review once)."""
        from alerts.replies import send_approved

        report = run(lambda: send_approved(settings, sqlite_store(), now=now()))
        return {"sent": report.sent, "failed": report.failed, "retry": report.retry, "stopped": report.stopped}
