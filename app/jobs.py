"""Long work started from the web page or the API — a crawl, a retag, a training run — as background jobs
whose progress the page shows (the same :class:`app.progress.Task` figures the CLI prints) and an admin
may cancel.

A job runs on a thread of the server (a crawl's thread follows its crawler child process). Cancelling asks
it to stop at its next safe point, exactly as Ctrl-C does on the command line: a retag after its current
batch (its resume point kept: the next retag continues), a training run between two steps (its checkpoint
kept: the next run resumes), a crawl through Scrapy's clean shutdown (cursors kept). States: ``running`` →
``done`` | ``failed`` | ``cancelling`` → ``cancelled``. One job of a kind runs at a time.
"""

from __future__ import annotations

import builtins  # the method Jobs.list shadows the builtin inside the class
import collections
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from app.progress import Cancelled, Reporter, Task
from configs import Settings
from configs.times import format_utc

__all__ = ["Jobs", "Job", "JobSink", "JobError", "JOB_KINDS"]

JOB_KINDS = ("retag", "crawl", "train")
logger = logging.getLogger(__name__)
_FINISHED_KEPT = 20


class JobError(ValueError):
    """A job that cannot start or be found: ``status`` is the HTTP status to answer with (400, 404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> str:
    return format_utc(datetime.now(timezone.utc))


@dataclass
class Job:
    id: str
    kind: str
    by: str
    params: dict[str, Any]
    state: str = "running"
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    message: str = ""
    tasks: list[Task] = field(default_factory=list)
    log: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self) -> BaseException | None:
        return Cancelled() if self.cancel_requested.is_set() else None

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            tasks = [t.snapshot() | {"closed": t.closed} for t in self.tasks]
            log = list(self.log)
        return {"id": self.id, "kind": self.kind, "state": self.state, "by": self.by, "params": self.params,
                "started_at": self.started_at, "finished_at": self.finished_at, "message": self.message,
                "progress": tasks, "log": log}


class JobSink:
    """Where a job's tasks report: kept on the job for ``GET /api/jobs``."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def update(self, task: Task) -> None:
        with self.job.lock:
            if task not in self.job.tasks:
                self.job.tasks.append(task)

    def close(self, task: Task) -> None:
        self.update(task)

    def echo(self, message: str) -> None:
        with self.job.lock:
            self.job.log.append(message)


class Jobs:
    """The server's jobs. ``index`` gives the open feedback index; ``on_change`` runs when a job that
    changed documents ends (the API clears its answer cache)."""

    def __init__(self, settings: Settings, *, index: Callable[[], Any],
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self._index = index
        self._on_change = on_change
        self._jobs: dict[str, Job] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    # -- queries ---------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [j.as_json() for j in reversed(jobs)]

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobError(404, f"no job with id {job_id!r}")
        return job

    # -- actions ---------------------------------------------------------------------------------
    def start(self, kind: str, *, by: str, sources: builtins.list[str] | None = None) -> Job:
        if kind not in JOB_KINDS:
            raise JobError(400, f"kind must be one of {', '.join(JOB_KINDS)}, got {kind!r}")
        params: dict[str, Any] = {}
        if kind == "crawl":
            params["sources"] = self._check_sources(sources)
        elif sources:
            raise JobError(400, f"sources only apply to a crawl, not a {kind}")
        with self._lock:
            running = [j for j in self._jobs.values() if j.kind == kind and j.state in ("running", "cancelling")]
            if running:
                raise JobError(409, f"a {kind} is already running (job {running[0].id}); cancel it or wait")
            job = Job(id=uuid.uuid4().hex[:12], kind=kind, by=by, params=params)
            self._jobs[job.id] = job
            self._forget_old()
            thread = threading.Thread(target=self._run, args=(job,), name=f"voc-job-{kind}", daemon=True)
            self._threads[job.id] = thread
        thread.start()
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        with job.lock:
            if job.state == "running":
                job.state = "cancelling"
                job.cancel_requested.set()
        return job

    def close(self, timeout: float = 30.0) -> None:
        """Cancel every running job and wait for them (server shutdown)."""
        with self._lock:
            jobs, threads = list(self._jobs.values()), list(self._threads.values())
        for job in jobs:
            job.cancel_requested.set()
        for thread in threads:
            thread.join(timeout=timeout)

    # -- running ---------------------------------------------------------------------------------
    def _check_sources(self, sources: builtins.list[str] | None) -> builtins.list[str]:
        from configs.sources import SOURCE_NAMES

        for name in sources or []:
            if name not in SOURCE_NAMES:
                raise JobError(400, f"unknown source {name!r} (known: {', '.join(SOURCE_NAMES)})")
        return list(sources or [])

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state not in ("running", "cancelling")]
        for job in finished[:-_FINISHED_KEPT] if len(finished) > _FINISHED_KEPT else []:
            self._jobs.pop(job.id, None)
            self._threads.pop(job.id, None)

    def _run(self, job: Job) -> None:
        sink = JobSink(job)
        reporter = Reporter(sink, stop=job.stop)
        try:
            message = getattr(self, f"_run_{job.kind}")(job, reporter)
            state = "cancelled" if job.cancel_requested.is_set() and message.startswith("cancelled") else "done"
        except Cancelled:
            state, message = "cancelled", _CANCELLED[job.kind]
        except Exception as exc:  # noqa: BLE001 - a failed job says why on the page; the server goes on
            state, message = "failed", f"{type(exc).__name__}: {exc}"
            logger.warning("job %s (%s) failed", job.id, job.kind, exc_info=True)
        with job.lock:
            job.state, job.message, job.finished_at = state, message, _now()
            for task in job.tasks:
                task.closed = True
        if job.kind != "train":
            self._on_change()

    def _run_retag(self, job: Job, reporter: Reporter) -> str:
        from app.resume import resume_point, retag
        from classifier import load_classifier
        from classifier.corrections import open_store

        s = self.settings
        clf = load_classifier(s)
        point = resume_point(s, "retag", s.index.url, s.index.name)
        with open_store(s) as corrections, reporter.task("retag", unit="docs") as task:
            report = retag(self._index(), clf, point, corrections=corrections, resume=None, progress=task,
                           viral=s.classifier.viral_engagement, say=reporter.echo)
        return (f"tagged {report.tagged} documents with {report.model_version}"
                + (f" ({report.resumed} by an earlier, cancelled retag)" if report.resumed else ""))

    def _run_train(self, job: Job, reporter: Reporter) -> str:
        from classifier.corrections import open_store
        from classifier.train import TrainingConfig, train

        s = self.settings
        model = s.classifier.model
        out = s.resolve("classifier/models/voc-small" if model == "rules" else model)
        with open_store(s) as store:
            corrections = tuple(store.training_rows())
        cfg = TrainingConfig(data_dir=s.resolve(s.classifier.training_data), output_dir=out, corrections=corrections)
        with reporter.task("train", unit="steps", limit=cfg.max_minutes * 60) as task:
            result = train(cfg, s, log=reporter.echo, resume=True, progress=task)
        return f"saved {result.path} in {result.seconds / 60:.1f} min; restart the server to use it"

    def _run_crawl(self, job: Job, reporter: Reporter) -> str:
        from app.crawl_watch import describe_interruption, watch_crawl
        from crawlers.runner import start_crawl

        crawl = start_crawl(self.settings, sources=job.params.get("sources") or None)
        report, interrupted = watch_crawl(crawl, reporter, timeout=self.settings.crawl.run_timeout or None,
                                          from_terminal=False)
        summary = ", ".join(f"{r.source} {r.status} (new {r.new})" for r in report.runs) or "nothing to crawl"
        if interrupted:
            return f"cancelled — {describe_interruption(report)}"
        return summary


_CANCELLED = {
    "retag": "cancelled — the next retag continues after the last batch done",
    "train": "cancelled — the next training run continues from its checkpoint",
    "crawl": "cancelled — every source kept its cursors",
}
