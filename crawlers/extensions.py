"""``RunStateExtension`` (``VOC_STATE_*``): per-source lock and run summary in the crawl state database.

On ``spider_opened`` it takes the source's lock (a second crawl of the same source is skipped and recorded
as ``skipped``) and records the run as ``running``; on ``spider_closed`` it stores the summary: pages,
new/updated, dropped by reason, errors, blocked reason and fix, duration, and the final status
(``ok`` | ``blocked`` | ``failed`` | ``skipped``). The run id comes from ``VOC_RUN_ID`` (``voc crawl``) or is
made up (``scrapy crawl``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawlers.state import CrawlState, LockHeld, SourceLock, SourceRun
from crawlers.tracking import DROPPED_PREFIX, tracker

__all__ = ["RunStateExtension", "new_run_id"]

logger = logging.getLogger(__name__)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


class RunStateExtension:
    def __init__(self, *, state: CrawlState, run_id: str, crawler: Any) -> None:
        self.state, self.run_id, self.crawler = state, run_id, crawler
        self.lock: SourceLock | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunStateExtension:
        s = crawler.settings
        if not s.getbool("VOC_STATE_ENABLED", True) or not s.get("VOC_STATE_PATH"):
            raise NotConfigured("VOC_STATE_ENABLED is off")
        ext = cls(state=CrawlState(s.get("VOC_STATE_PATH")), run_id=s.get("VOC_RUN_ID") or new_run_id(), crawler=crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def spider_opened(self, spider: Any) -> None:
        t = tracker(self.crawler)
        t.started_at = datetime.now(UTC)
        try:
            self.lock = self.state.acquire_lock(t.source, owner=f"crawl {self.run_id}")
        except LockHeld as exc:
            t.skipped = str(exc)
            logger.warning("skipping %s: %s", t.source, exc)
            return
        self.state.start_run(self.run_id, t.source, product=getattr(spider, "product", None), started_at=t.started_at)

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        meta = getattr(getattr(response, "request", None), "meta", {}) or {}
        cursor = meta.get("voc_cursor")
        tracker(self.crawler).error(f"{getattr(response, 'url', '?')}: {failure.getErrorMessage()}",
                                    target=tuple(cursor) if cursor else None)

    def summary(self, reason: str) -> SourceRun:
        t = tracker(self.crawler)
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        dropped = {k[len(DROPPED_PREFIX):]: int(v) for k, v in stats.items() if k.startswith(DROPPED_PREFIX)}
        now = datetime.now(UTC)
        started = t.started_at or now
        if t.skipped:
            status = "skipped"
        elif t.blocked:
            status = "blocked"
        elif reason != "finished" or t.failed_targets or (t.errors and not t.pages):
            status = "failed"
        else:
            status = "ok"
        messages = list(t.error_messages)
        if reason != "finished":
            messages.append(f"crawl ended early: {reason}")
        if t.skipped:
            messages.append(t.skipped)
        messages.extend(t.notes)
        return SourceRun(run_id=self.run_id, source=t.source, product=getattr(self.crawler.spider, "product", None),
                         status=status, started_at=started, finished_at=now, duration=(now - started).total_seconds(),
                         pages=t.pages, new=t.new, updated=t.updated, dropped=dropped, errors=t.errors,
                         error_messages=tuple(messages),
                         blocked_reason=t.blocked[0] if t.blocked else None, blocked_fix=t.blocked[1] if t.blocked else None)

    def spider_closed(self, spider: Any, reason: str) -> None:
        try:
            run = self.summary(reason)
            self.state.finish_run(run)
            logger.info("%s: %s — pages %d, new %d, updated %d, dropped %s, errors %d%s", run.source, run.status,
                        run.pages, run.new, run.updated, run.dropped or "{}", run.errors,
                        f", blocked: {run.blocked_reason} — {run.blocked_fix}" if run.blocked else "")
        finally:
            if self.lock is not None:
                self.lock.release()
            self.state.close()
