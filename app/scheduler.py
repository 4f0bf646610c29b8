"""`voc schedule`: crawls on their cron expressions, alert evaluation after each crawl, digests on theirs.

Jobs come from the settings:

* one ``crawl`` job per enabled source with ``sources.<name>.schedule`` in sources.yaml; it runs
  ``crawlers.runner.run_crawl(settings, sources=[name])`` and then ``alerts.evaluate`` + ``alerts.deliver``;
* ``alerts`` (``web.schedule.alerts``): evaluate + deliver between crawls;
* ``digest:day`` / ``digest:week`` (``web.schedule.digest_day`` / ``digest_week``).

Cron expressions are read in voc.yaml's ``time_zone``. :class:`Scheduler` holds the logic and takes an injected
clock and injected job functions, so tests drive it with :meth:`Scheduler.tick`; ``run_forever`` is the loop
the CLI runs. Guarantees:

* never two runs of the same source at once: a source whose previous run is still going in this process, or
  whose crawl-state lock (:meth:`crawlers.state.CrawlState.is_locked`) is held by another live process, is
  skipped and the skip is recorded;
* a missed fire time (the machine slept, a run took long) runs once, not once per missed time;
* every run (ok, failed, skipped) is kept in the run history (:class:`RunHistory`, SQLite file
  ``schedule.db`` next to the crawl state), pruned to ``web.schedule.history_keep`` rows;
* :meth:`Scheduler.stop` (SIGTERM/SIGINT in the CLI) starts nothing new and waits for running jobs.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from configs import Settings
from configs.sqlite_wal import use_wal
from configs.times import format_utc, parse_utc

__all__ = ["Job", "RunRecord", "RunHistory", "Scheduler", "next_run", "history_path", "default_actions"]

log = logging.getLogger("voc.schedule")


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got {dt!r}")
    return dt.astimezone(timezone.utc)


def next_run(expr: str, after: datetime, *, tz: str = "Asia/Shanghai") -> datetime:
    """The first fire time of cron ``expr`` strictly after ``after``, read in ``tz``; aware UTC."""
    local = _utc(after).astimezone(ZoneInfo(tz))
    return _utc(croniter(expr, local).get_next(datetime))


@dataclass(frozen=True)
class Job:
    #: "crawl:<source>", "alerts", "digest:day", "digest:week"
    name: str
    kind: str  # crawl | alerts | digest
    cron: str
    source: str | None = None
    period: str | None = None


@dataclass
class RunRecord:
    job: str
    kind: str
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime | None = None
    #: ok | failed | skipped
    status: str = "running"
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "job": self.job, "kind": self.kind, "scheduled_for": format_utc(self.scheduled_for),
                "started_at": format_utc(self.started_at), "finished_at": format_utc(self.finished_at),
                "status": self.status, "detail": self.detail}


def history_path(settings: Settings) -> Path:
    """``schedule.db`` in the folder of the crawl state file."""
    return settings.resolve(settings.crawl.state_path).parent / "schedule.db"


class RunHistory:
    """Run history of the scheduler: one row per job run, in its own SQLite file (WAL)."""

    def __init__(self, path: str | Path, *, keep: int = 1000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        use_wal(self._db)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS scheduler_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL,"
            " kind TEXT NOT NULL, scheduled_for TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,"
            " status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}')")

    def start(self, record: RunRecord) -> RunRecord:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO scheduler_runs (job, kind, scheduled_for, started_at, finished_at, status, detail)"
                " VALUES (?,?,?,?,?,?,?)",
                (record.job, record.kind, format_utc(record.scheduled_for), format_utc(record.started_at),
                 format_utc(record.finished_at), record.status,
                 json.dumps(record.detail, ensure_ascii=False, default=str)))
            record.id = cur.lastrowid
        return record

    def finish(self, record: RunRecord) -> None:
        with self._lock:
            self._db.execute("UPDATE scheduler_runs SET finished_at=?, status=?, detail=? WHERE id=?",
                             (format_utc(record.finished_at), record.status,
                              json.dumps(record.detail, ensure_ascii=False, default=str), record.id))
            self._db.execute("DELETE FROM scheduler_runs WHERE id <= (SELECT MAX(id) FROM scheduler_runs) - ?",
                             (self.keep,))

    def recent(self, limit: int = 50, *, job: str | None = None) -> list[RunRecord]:
        sql = "SELECT id, job, kind, scheduled_for, started_at, finished_at, status, detail FROM scheduler_runs"
        args: tuple[Any, ...] = ()
        if job:
            sql += " WHERE job=?"
            args = (job,)
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [RunRecord(id=r[0], job=r[1], kind=r[2], scheduled_for=parse_utc(r[3]), started_at=parse_utc(r[4]),
                          finished_at=parse_utc(r[5]) if r[5] else None, status=r[6], detail=json.loads(r[7]))
                for r in rows]

    def close(self) -> None:
        self._db.close()




#: The job functions a Scheduler calls; tests inject their own.
#: crawl(source) -> JSON-able summary; evaluate(now) -> summary; deliver(now) -> summary;
#: digest(period, now) -> summary; is_locked(source) -> bool (another process is crawling it).
Actions = dict[str, Callable[..., Any]]


def _summary(value: Any) -> Any:
    """What the run history keeps of a job's result: its one-line ``summary()`` when it has one."""
    from app.api._ops import to_json

    if callable(getattr(value, "summary", None)):
        return {"summary": str(value.summary())}
    try:
        return to_json(value)
    except Exception:  # a summary is informational; never fail a run for it
        return repr(value)


def default_actions(settings: Settings) -> Actions:
    """The real job functions: crawlers.runner, alerts.evaluate/deliver/digest, the crawl-state lock."""
    from app.context import AppContext

    ctx = AppContext(settings)

    def crawl(source: str) -> Any:
        from crawlers.runner import run_crawl

        return run_crawl(settings, sources=[source])

    def evaluate(now: datetime) -> Any:
        import alerts

        if settings.crawl.health.notify:  # crawl health operations alerts (app/health.py) at the same beat
            from app.health import check

            try:
                log.info("%s", check(settings, now=now).summary())
            except Exception:  # noqa: BLE001 - never let the ops check stop product alert evaluation
                log.exception("crawl health check failed")
        return alerts.evaluate(settings, ctx.index, now=now)

    def deliver(now: datetime) -> Any:
        import alerts

        return alerts.deliver(settings, now=now)

    def digest(period: str, now: datetime) -> Any:
        import alerts

        built = alerts.build_digest(settings, ctx.index, period=period, now=now)
        queued = alerts.send_digest(settings, built, now=now)
        return {"queued": queued, "delivery": alerts.deliver(settings, now=now)}

    def is_locked(source: str) -> bool:
        from crawlers.state import CrawlState

        state = CrawlState(settings.resolve(settings.crawl.state_path))
        try:
            return bool(state.is_locked(source))
        finally:
            state.close()

    return {"crawl": crawl, "evaluate": evaluate, "deliver": deliver, "digest": digest, "is_locked": is_locked,
            "close": ctx.close}


class Scheduler:
    """Decides which jobs are due at ``clock()`` and runs them on worker threads.

    ``tick()`` starts every due job and returns the records it started (or skipped); ``drain()`` waits for
    running jobs. ``run_forever(stop_event)`` ticks until the event is set, sleeping until the next fire time
    (at most ``poll`` seconds at once).
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime], actions: Actions | None = None,
                 history: RunHistory | None = None, max_workers: int = 4) -> None:
        self.settings = settings
        self.clock = clock
        self.actions = actions if actions is not None else default_actions(settings)
        sched = settings.web.schedule
        self.tz = settings.time_zone
        self.history = history or RunHistory(history_path(settings), keep=sched.history_keep)
        self.jobs = self._jobs()
        start = self.clock()
        self._next: dict[str, datetime] = {job.name: next_run(job.cron, start, tz=self.tz) for job in self.jobs}
        self._running: dict[str, Future[Any]] = {}
        self._guard = threading.Lock()
        #: one alert evaluation at a time (crawls of different sources may finish together)
        self._alerts_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="voc-job")
        self._stopping = threading.Event()

    def _jobs(self) -> list[Job]:
        jobs = []
        for name, conf in sorted(self.settings.sources.sources.items()):
            if conf.enabled and conf.schedule:
                jobs.append(Job(name=f"crawl:{name}", kind="crawl", cron=conf.schedule, source=name))
        sched = self.settings.web.schedule
        if sched.alerts:
            jobs.append(Job(name="alerts", kind="alerts", cron=sched.alerts))
        if sched.digest_day:
            jobs.append(Job(name="digest:day", kind="digest", cron=sched.digest_day, period="day"))
        if sched.digest_week:
            jobs.append(Job(name="digest:week", kind="digest", cron=sched.digest_week, period="week"))
        for job in jobs:
            if not croniter.is_valid(job.cron):
                where = f"sources.yaml: sources.{job.source}.schedule" if job.source else f"voc.yaml: web.schedule ({job.name})"
                raise ValueError(f"{where}: invalid cron expression {job.cron!r}")
        return jobs

    # -- planning ------------------------------------------------------------------------------------
    def next_runs(self) -> dict[str, datetime]:
        return dict(self._next)

    def due(self, now: datetime) -> list[Job]:
        return [job for job in self.jobs if self._next[job.name] <= now]

    def seconds_until_next(self, now: datetime) -> float:
        if not self._next:
            return 3600.0
        return max(0.0, (min(self._next.values()) - now).total_seconds())

    # -- running -------------------------------------------------------------------------------------
    def tick(self) -> list[RunRecord]:
        """Start every job due now; a job still running (or a source locked elsewhere) is skipped."""
        now = self.clock()
        started = []
        for job in self.due(now):
            scheduled = self._next[job.name]
            # Coalesce missed fire times: the next one is the first after now.
            self._next[job.name] = next_run(job.cron, now, tz=self.tz)
            if self._stopping.is_set():
                break
            started.append(self._launch(job, scheduled, now))
        return started

    def run_now(self, job_name: str) -> RunRecord:
        """Start one job at once, whatever its schedule (``voc schedule --run JOB``)."""
        job = next((j for j in self.jobs if j.name == job_name), None)
        if job is None:
            raise KeyError(f"unknown job {job_name!r}; jobs: {', '.join(j.name for j in self.jobs)}")
        now = self.clock()
        return self._launch(job, now, now)

    def _launch(self, job: Job, scheduled: datetime, now: datetime) -> RunRecord:
        record = RunRecord(job=job.name, kind=job.kind, scheduled_for=scheduled, started_at=now)
        with self._guard:
            running = self._running.get(job.name)
            if running is not None and not running.done():
                reason = "previous run still going"
            elif job.kind == "crawl" and self._locked_elsewhere(job.source or ""):
                reason = "source is being crawled by another process (crawl-state lock held)"
            else:
                reason = None
            if reason:
                record.status, record.finished_at, record.detail = "skipped", now, {"reason": reason}
                self.history.start(record)
                log.warning("%s skipped: %s", job.name, reason)
                return record
            self.history.start(record)
            self._running[job.name] = self._pool.submit(self._run, job, record)
        return record

    def _locked_elsewhere(self, source: str) -> bool:
        fn = self.actions.get("is_locked")
        try:
            return bool(fn(source)) if fn else False
        except Exception:
            log.exception("could not read the crawl-state lock of %s; running anyway", source)
            return False

    def _run(self, job: Job, record: RunRecord) -> RunRecord:
        detail: dict[str, Any] = {}
        status = "ok"
        try:
            if job.kind == "crawl":
                log.info("crawl %s: starting", job.source)
                detail["crawl"] = _summary(self.actions["crawl"](job.source))
                detail.update(self._alerts(self.clock()))
            elif job.kind == "alerts":
                detail.update(self._alerts(self.clock()))
            elif job.kind == "digest":
                detail["digest"] = _summary(self.actions["digest"](job.period, self.clock()))
            if any(k.endswith("_error") for k in detail):
                status = "failed"
        except Exception as exc:  # one failed job never stops the scheduler
            status = "failed"
            detail["error"] = f"{type(exc).__name__}: {exc}"
            detail["traceback"] = traceback.format_exc(limit=5)
            log.error("%s failed: %s", job.name, detail["error"])
        record.status, record.finished_at, record.detail = status, self.clock(), detail
        self.history.finish(record)
        log.info("%s: %s", job.name, status)
        return record

    def _alerts(self, now: datetime) -> dict[str, Any]:
        """evaluate then deliver; a failure of one is recorded and does not hide the other."""
        out: dict[str, Any] = {}
        with self._alerts_lock:
            try:
                evaluation = self.actions["evaluate"](now)
                out["evaluate"] = _summary(evaluation)
                failed_rules = getattr(evaluation, "errors", None)  # rules that raised; the others ran
                if failed_rules:
                    out["evaluate_error"] = f"{len(failed_rules)} rule(s) failed: " + "; ".join(
                        f"{name}: {error}" for name, error in failed_rules.items())
            except Exception as exc:
                out["evaluate_error"] = f"{type(exc).__name__}: {exc}"
            try:
                out["deliver"] = _summary(self.actions["deliver"](now))
            except Exception as exc:
                out["deliver_error"] = f"{type(exc).__name__}: {exc}"
        return out

    def drain(self, timeout: float | None = None) -> None:
        """Wait for every running job to finish."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for fut in list(self._running.values()):
            fut.result(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))

    def running(self) -> list[str]:
        return [name for name, fut in self._running.items() if not fut.done()]

    def stop(self) -> None:
        """Start nothing new; ``run_forever`` returns after running jobs finish."""
        self._stopping.set()

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True)
        self.history.close()
        closer = self.actions.get("close")
        if closer:
            closer()

    def run_forever(self, stop: threading.Event, *, poll: float = 30.0) -> None:
        log.info("scheduler started: %s", ", ".join(f"{j.name} ({j.cron})" for j in self.jobs) or "no jobs")
        while not stop.is_set() and not self._stopping.is_set():
            self.tick()
            stop.wait(min(poll, max(0.2, self.seconds_until_next(self.clock()))))
        self.stop()
        log.info("stopping: waiting for %s", ", ".join(self.running()) or "nothing")
        self._pool.shutdown(wait=True)
