"""Acknowledgement of frontier requests (:mod:`crawlers.frontier`): a request leaves its worker's in-flight list only
once everything it produced is safe — its items in the item queue (or dropped with a reason), its follow-up requests in
the frontier's queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from scrapy import signals

from crawlers.frontier import OnFrontier

__all__ = ["AckMiddleware", "ack_middleware"]


def _queue(crawler: Any) -> Any:
    """The frontier scheduler's queue (crawlers.frontier.ReliableQueue), or None before the engine opened."""
    return getattr(getattr(crawler.engine, "scheduler", None), "queue", None)


class AckMiddleware(OnFrontier):
    """Spider middleware: a request's in-flight entry is removed once its callback (or errback) finished, every item
    it yielded left the item pipelines (queued, or dropped with a reason) and every request it yielded is in the queue
    (or was filtered) — so a worker killed before that leaves the request to be crawled again by another, and the
    frontier never looks empty while a follow-up is on its way."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.pending: dict[bytes, int] = {}  # raw request → items not through the pipelines yet
        self.done: set[bytes] = set()  # raw requests whose callback finished
        self.children: dict[int, bytes] = {}  # id(follow-up request) → raw request that yielded it
        for sig in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self._item_done, signal=sig)
        for sig in (signals.request_scheduled, signals.request_dropped):
            crawler.signals.connect(self._request_done, signal=sig)

    def _tag(self, raw: bytes | None, out: Any) -> None:
        if raw is None:
            return
        self.pending[raw] = self.pending.get(raw, 0) + 1
        if _is_request(out):  # a follow-up: the parent is done only once it is in the queue
            self.children[id(out)] = raw
            return
        try:
            out._voc_ack = raw
        except AttributeError:
            self.pending[raw] -= 1

    def _request_done(self, request: Any, **_: Any) -> None:
        raw = self.children.pop(id(request), None)
        if raw is None:
            return
        # request_scheduled comes just before the scheduler pushes the request: count it done right after that.
        asyncio.get_running_loop().call_soon(self._decrement, raw)

    def _decrement(self, raw: bytes) -> None:
        self.pending[raw] = self.pending.get(raw, 1) - 1
        self._maybe_ack(raw)

    def finished(self, raw: bytes | None) -> None:
        """The callback (or errback) of the request ``raw`` is done: ack once its items are through too."""
        if raw is not None:
            self.done.add(raw)
            self._maybe_ack(raw)

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        raw = response.meta.get("voc_frontier_raw")
        try:  # a callback that raised is done too (crawling the page again would raise again)
            async for out in result:
                self._tag(raw, out)
                yield out
        finally:
            self.finished(raw)

    def process_spider_output(self, response: Any, result: Any) -> Any:  # sync callbacks of other middlewares
        raw = response.meta.get("voc_frontier_raw")
        try:
            for out in result:
                self._tag(raw, out)
                yield out
        finally:
            self.finished(raw)

    def _item_done(self, item: Any, **_: Any) -> None:
        raw = getattr(item, "_voc_ack", None)
        if raw is not None:
            self._decrement(raw)

    def _maybe_ack(self, raw: bytes) -> None:
        if raw in self.done and self.pending.get(raw, 0) <= 0:
            self.done.discard(raw)
            self.pending.pop(raw, None)
            queue = _queue(self.crawler)
            if queue is not None:
                queue.ack(raw)


def ack_middleware(crawler: Any) -> AckMiddleware | None:
    manager = getattr(getattr(crawler.engine, "scraper", None), "spidermw", None)
    for mw in getattr(manager, "middlewares", ()):
        if isinstance(mw, AckMiddleware):
            return mw
    return None


def _is_request(out: Any) -> bool:
    from scrapy import Request

    return isinstance(out, Request)
