"""``/api/jobs``: start a crawl, a retag or a training run from the page or the API, follow its progress,
cancel it. Listing needs the read role; starting and cancelling need admin (and, for cookie sessions, the
``X-CSRF-Token`` header, like every state-changing request: see :mod:`app.api._auth`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.jobs import JOB_KINDS, JobError, Jobs

__all__ = ["register_job_routes"]


class JobRequest(BaseModel):
    """What to start: ``kind`` is retag, crawl or train; ``sources`` narrows a crawl (default: every enabled
    source with targets)."""

    kind: str
    sources: list[str] | None = Field(default=None, max_length=50)


def register_job_routes(app: FastAPI, jobs: Jobs, *, reader: Callable[..., Any], admin: Callable[..., Any]) -> None:
    @app.exception_handler(JobError)
    async def _job_error(_request: Request, exc: JobError) -> JSONResponse:
        code = {400: "bad_job", 404: "not_found", 409: "job_running"}.get(exc.status, "bad_job")
        return JSONResponse({"error": code, "message": exc.message}, status_code=exc.status)

    @app.get("/api/jobs", tags=["jobs"])
    def list_jobs(_p: Any = Depends(reader)) -> dict:
        """Jobs, newest first: kind, state (running, cancelling, done, failed, cancelled), who started it, and
        per task its count, total, percent, rate and seconds left (`eta_seconds`)."""
        return {"jobs": jobs.list(), "kinds": list(JOB_KINDS)}

    @app.post("/api/jobs", tags=["jobs"], status_code=202)
    def start_job(body: JobRequest, principal: Any = Depends(admin)) -> dict:
        """Start a job (admin). 409 when one of the same kind is running."""
        job = jobs.start(body.kind, by=f"web:{principal.via}", sources=body.sources)
        return {"job": job.as_json()}

    @app.post("/api/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel_job(job_id: str, _p: Any = Depends(admin)) -> dict:
        """Cancel a running job (admin): it stops at its next safe point, keeping what it finished."""
        return {"job": jobs.cancel(job_id).as_json()}
