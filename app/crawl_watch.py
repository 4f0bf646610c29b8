"""Follow a running crawl (:func:`crawlers.runner.start_crawl`): a progress task per source from the counts
the crawl child writes (:mod:`crawlers._progress`), and a clean stop on Ctrl-C or a cancelled job.

Stopping sends the child SIGINT — Scrapy's graceful shutdown: requests in flight finish, every spider
closes and records its run. Cursors only move after a finished crawl, so a stopped source starts where it
was on the next run. When this process is in the foreground of a terminal, Ctrl-C reached the child as
well and is not sent again (a second SIGINT would make Scrapy quit uncleanly).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from app.progress import Reporter, Task

__all__ = ["watch_crawl", "describe_interruption"]


def _terminal_sent_it() -> bool:
    """Whether a Ctrl-C typed at our terminal went to the child too (we are its foreground process group)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def _update(tasks: dict[str, Task], reporter: Reporter, live: dict[str, dict[str, Any]]) -> None:
    for source, c in sorted(live.items()):
        if not isinstance(c, dict):
            continue
        task = tasks.get(source)
        if task is None:
            task = tasks[source] = reporter.task(source, unit="items")
        task.notes.update(pages=int(c.get("pages", 0)), blocked=int(c.get("blocked", 0)))
        if c.get("dropped"):
            task.notes["dropped"] = int(c["dropped"])
        task(int(c.get("items", 0)))  # may raise the stop request
        if c.get("done"):
            task.close()


def watch_crawl(job: Any, reporter: Reporter, *, timeout: float | None = None, poll: float = 0.5,
                from_terminal: bool | None = None) -> tuple[Any, bool]:
    """Wait for ``job`` showing per-source progress; returns ``(CrawlReport, interrupted)``.

    ``from_terminal``: whether a Ctrl-C also reached the child (default: worked out from the terminal);
    a cancelled job (:class:`app.progress.Cancelled`) always signals the child."""
    from crawlers._progress import progress_path, read_progress

    path = progress_path(job.settings.resolve(job.settings.crawl.state_path), job.run_id)
    tasks: dict[str, Task] = {}
    deadline = time.monotonic() + timeout if timeout else None
    interrupted = False
    try:
        while job.proc is not None and job.proc.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                break
            _update(tasks, reporter, read_progress(path))
            for task in tasks.values():
                if not task.closed:
                    task.check()
            if reporter.stop is not None:
                exc = reporter.stop()
                if exc is not None:
                    raise exc
            time.sleep(poll)
    except KeyboardInterrupt as exc:
        interrupted = True
        terminal = _terminal_sent_it() if from_terminal is None else from_terminal
        if not terminal or exc.__class__ is not KeyboardInterrupt:
            job.kill(signal.SIGINT)
        reporter.echo("stopping the crawl: every source finishes what it is fetching and records its run")
    remaining = None if deadline is None else max(1.0, deadline - time.monotonic())
    while True:
        try:
            report = job.wait(timeout=remaining if not interrupted else (remaining or 120))
            break
        except KeyboardInterrupt:  # asked again: stop now (nothing committed is lost; see crawlers.runner)
            interrupted = True
            job.kill(signal.SIGKILL)
    try:
        _update(tasks, reporter, read_progress(path))
    except KeyboardInterrupt:
        pass
    for task in tasks.values():
        task.close()
    path.unlink(missing_ok=True)
    return report, interrupted


def describe_interruption(report: Any) -> str:
    """What an interrupted crawl finished and what it left for the next run."""
    finished = [r.source for r in report.runs if r.status == "ok"]
    stopped = [r.source for r in report.runs if r.status != "ok"]
    parts = [f"finished: {', '.join(finished) or 'none'}"]
    if stopped:
        parts.append(f"stopped early: {', '.join(stopped)} — their cursors stay where they were, so the next "
                     "`voc crawl` collects what they missed")
    return "; ".join(parts)
