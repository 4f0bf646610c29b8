"""``RunStateExtension`` (``VOC_STATE_*``): per-source lock and run summary in the crawl state database.

On ``spider_opened`` it takes the source's lock (a second crawl of the same source is skipped and recorded
as ``skipped``) and records the run as ``running`` — one record per forum (``forum:<name>``) for the forum
spider, so ``voc status`` tells forums apart; on ``spider_closed`` it stores the summary: pages,
new/updated, dropped by reason, errors, blocked reason and fix, duration, and the final status
(``ok`` | ``blocked`` | ``failed`` | ``skipped``). The run id comes from ``VOC_RUN_ID`` (``voc crawl``) or is
made up (``scrapy crawl``). The figures are the run's :class:`crawlers.tracking.RunTracker` (the
``RunTracking`` extension, which also hears Scrapy's item and spider errors).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.extensions import corestats

from crawlers.state import CrawlState, LockHeld, SourceLock, SourceRun, new_run_id
from crawlers.tracking import PartTally, tracker

__all__ = ["RunStateExtension", "CoreStats"]

logger = logging.getLogger(__name__)


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
        return ext

    def spider_opened(self, spider: Any) -> None:
        t = tracker(self.crawler)
        t.started_at = datetime.now(UTC)
        try:  # on the Redis frontier several workers crawl one source at once (VOC_STATE_LOCK off)
            if self.crawler.settings.getbool("VOC_STATE_LOCK", True):
                self.lock = self.state.acquire_lock(t.source, owner=f"crawl {self.run_id}")
        except LockHeld as exc:
            t.skipped = str(exc)
            logger.warning("skipping %s: %s", t.source, exc)
            return
        for name in self.names(spider):
            self.state.start_run(self.run_id, name, product=getattr(spider, "product", None), started_at=t.started_at)

    def names(self, spider: Any) -> list[str]:
        """The run records of this crawl: one per document source (``forum:<name>`` for each forum), else the
        spider's source."""
        names = list(getattr(spider, "doc_sources", lambda: [])()) if spider is not None else []
        return names or [tracker(self.crawler).source]

    def summary(self, reason: str) -> list[SourceRun]:
        """The run records to store: one per name of :meth:`names` (a forum's share of the counts each)."""
        t = tracker(self.crawler)
        now = datetime.now(UTC)
        started = t.started_at or now
        names = self.names(getattr(self.crawler, "spider", None))
        if names == [t.source]:  # the run's own tally (every drop and error, with a document source or not)
            return [self._run(t.source, t, reason, started, now, failed=bool(t.failed_targets))]
        return [self._run(name, t.parts.get(name, PartTally()), reason, started, now,
                          failed=any(key[0] == name for key in t.failed_targets)) for name in names]

    def silent_targets(self, name: str) -> list[str]:
        """Warnings for the targets of ``name`` that yielded items last time and none now (walk not cut short);
        records this run's yields for the next run to compare with."""
        t = tracker(self.crawler)
        if t.skipped:
            return []
        now = {target: n for (src, target), n in t.target_items.items() if src == name}
        before = self.state.previous_yields(name, self.run_id)
        self.state.record_yields(name, self.run_id, now)
        return [f"warning: {name} target {target!r} yielded {before[target]} items or threads last run and none now — "
                f"check the page (the site may have changed its layout) or the target in configs/sources.yaml"
                for target, n in sorted(now.items())
                if n == 0 and before.get(target, 0) > 0 and (name, target) not in t.incomplete_targets]

    def _run(self, name: str, part: PartTally, reason: str, started: datetime, now: datetime, *,
             failed: bool) -> SourceRun:
        t = tracker(self.crawler)
        if t.skipped:
            status = "skipped"
        elif part.blocked:
            status = "blocked"
        elif reason != "finished" or failed or part.failures or (part.errors and not part.pages):
            status = "failed"
        else:
            status = "ok"
        messages = list(part.error_messages)
        if reason != "finished":
            messages.append(f"crawl ended early: {reason}")
        if t.skipped:
            messages.append(t.skipped)
        messages.extend(t.notes)
        return SourceRun(run_id=self.run_id, source=name, product=getattr(self.crawler.spider, "product", None),
                         status=status, started_at=started, finished_at=now, duration=(now - started).total_seconds(),
                         pages=part.pages, new=part.new, updated=part.updated, dropped=dict(part.dropped),
                         errors=part.errors, error_messages=tuple(messages),
                         blocked_reason=part.blocked[0] if part.blocked else None,
                         blocked_fix=part.blocked[1] if part.blocked else None,
                         failures=tuple(dict(f) for f in part.failures), warnings=tuple(self.silent_targets(name)))

    def spider_closed(self, spider: Any, reason: str) -> None:
        try:
            for run in self.summary(reason):
                self.state.finish_run(run)
                logger.info("%s: %s — pages %d, new %d, updated %d, dropped %s, errors %d%s", run.source, run.status,
                            run.pages, run.new, run.updated, run.dropped or "{}", run.errors,
                            f", blocked: {run.blocked_reason} — {run.blocked_fix}" if run.blocked else "")
        finally:
            if self.lock is not None:
                self.lock.release()
            self.state.close()


class CoreStats(corestats.CoreStats):
    """Scrapy's core stats, but ``item_scraped_count`` is counted by :class:`crawlers.pipelines.ItemPipelines`
    as an item leaves the last pipeline, not by an ``item_scraped`` receiver: Scrapy runs every receiver of
    that per-item signal as an asyncio task of its own — about 0.13 s of the crawl process's CPU per 5,000
    items, the extension's only per-item receiver. Its other stats are Scrapy's."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> CoreStats:
        ext = super().from_crawler(crawler)
        crawler.signals.disconnect(ext.item_scraped, signal=signals.item_scraped)
        return ext
