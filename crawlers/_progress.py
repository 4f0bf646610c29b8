"""Live counts of a running crawl, for the parent process to show: ``ProgressExtension`` (``VOC_LIVE_*``).

Every ``VOC_LIVE_INTERVAL`` seconds (default 1) and when a spider closes, the crawl child replaces one small
JSON file beside its log — ``<state dir>/logs/crawl-<run id>.progress.json`` — with each source's counts
so far: ``{"appstore": {"pages": 12, "items": 480, "new": 400, "updated": 80, "dropped": 3, "blocked": 0,
"errors": 0, "done": false}}``. :func:`read_progress` reads it back (a missing or half-written file reads as
no news). The figures are the run tracker's (:mod:`crawlers.tracking`), the same the run summary stores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawlers.tracking import tracker

__all__ = ["ProgressExtension", "progress_path", "read_progress"]

#: Sources of this process (one crawler each) → their latest counts; one file holds them all.
_LIVE: dict[str, dict[str, Any]] = {}


def progress_path(state_path: str | os.PathLike[str], run_id: str) -> Path:
    return Path(state_path).parent / "logs" / f"crawl-{run_id}.progress.json"


def read_progress(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class ProgressExtension:
    def __init__(self, *, path: Path, crawler: Any, interval: float = 1.0) -> None:
        self.path, self.crawler, self.interval = path, crawler, interval
        self._loop: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressExtension:
        s = crawler.settings
        if not s.getbool("VOC_LIVE_ENABLED", True) or not s.get("VOC_STATE_PATH") or not s.get("VOC_RUN_ID"):
            raise NotConfigured("VOC_LIVE_ENABLED is off or the crawl has no state path / run id")
        ext = cls(path=progress_path(s.get("VOC_STATE_PATH"), s.get("VOC_RUN_ID")), crawler=crawler,
                  interval=s.getfloat("VOC_LIVE_INTERVAL", 1.0))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        self.write(done=False)
        self._loop = task.LoopingCall(self.write, done=False)
        self._loop.start(self.interval, now=False)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.write(done=True, reason=reason)

    def write(self, *, done: bool, reason: str | None = None) -> None:
        t = tracker(self.crawler)
        _LIVE[t.source] = {"pages": t.pages, "items": t.new + t.updated, "new": t.new, "updated": t.updated,
                           "dropped": sum(t.dropped.values()), "blocked": 1 if t.blocked else 0,
                           "errors": t.errors, "done": done, **({"reason": reason} if reason else {})}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(_LIVE), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # progress is for show: a full disk must not stop the crawl
            pass
