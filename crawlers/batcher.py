"""``Batcher``: values gathered into batches for one function, run off the event loop (the crawl's classify
and index pipelines, and the frontier's tag workers)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

__all__ = ["Batcher"]

logger = logging.getLogger(__name__)


class Batcher:
    """Collects values and runs ``flush(values) -> results`` in batches of at most ``size``.

    ``await batcher.add(value)`` returns that value's result (or raises the batch's exception, which
    ``on_error`` hears of once for the whole batch). Without an
    ``executor`` a batch goes when it is full or ``wait`` seconds after its first value. With one, the flush
    runs there (one batch at a time, in order), so the event loop — downloads, parsing, normalization,
    indexing — goes on meanwhile; a full batch goes at once (queued behind the running one), and a partial
    batch goes as soon as the executor has nothing in hand (after ``gather`` seconds, so the items of one
    page travel together), else ``wait`` seconds after its first value at the latest. Under load batches
    grow to ``size`` while the previous one runs; when the executor idles, nothing waits for the timer.
    """

    def __init__(self, flush: Callable[[list[Any]], Sequence[Any]], *, size: int, wait: float,
                 executor: Executor | None = None, gather: float = 0.01,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._flush, self.size, self.wait, self.executor = flush, size, wait, executor
        self.on_error = on_error
        self.gather = min(gather, wait)
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # loop time the timer fires at
        #: Batches handed to the executor and not finished yet.
        self.in_flight = 0

    def add(self, value: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((value, fut))
        if len(self._pending) >= self.size:
            self.flush()
        else:
            self._schedule(loop)
        return fut

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """(Re)arm the timer: ``gather`` while the executor idles, else ``wait`` after the batch's first value."""
        if not self._pending:
            return
        delay = self.gather if self.executor is not None and self.in_flight == 0 else self.wait
        due = loop.time() + delay
        if self._timer is not None:
            if self._due <= due:
                return
            self._timer.cancel()
        self._timer, self._due = loop.call_at(due, self.flush), due

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[:self.size], self._pending[self.size:]
        if not batch:
            return
        values = [v for v, _ in batch]
        if self.executor is None:
            try:
                results = self._flush(values)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting item
                self._settle(batch, None, exc)
            else:
                self._settle(batch, results, None)
        else:
            loop = asyncio.get_running_loop()
            try:
                job = loop.run_in_executor(self.executor, self._flush, values)
            except RuntimeError as exc:  # the executor takes no more work (a worker gone for good)
                self._settle(batch, None, exc)
            else:
                self.in_flight += 1
                job.add_done_callback(functools.partial(self._done, batch))
        if self._pending:
            self._schedule(asyncio.get_running_loop())

    def _done(self, batch: list[tuple[Any, asyncio.Future[Any]]], job: asyncio.Future[Any]) -> None:
        self.in_flight -= 1
        exc: BaseException | None = asyncio.CancelledError() if job.cancelled() else job.exception()
        self._settle(batch, None if exc is not None else job.result(), exc)
        if self.in_flight == 0 and self._pending:
            self.flush()  # the executor is free: what piled up meanwhile goes now

    def _settle(self, batch: list[tuple[Any, asyncio.Future[Any]]], results: Sequence[Any] | None,
                exc: BaseException | None) -> None:
        if exc is None and results is not None and len(results) != len(batch):
            exc = RuntimeError(f"batch of {len(batch)} gave {len(results)} results")
        if exc is not None and self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:  # noqa: BLE001 - a failing report must not leave the batch's items waiting
                logger.exception("reporting a failed batch failed")
        for i, (_, fut) in enumerate(batch):
            if fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(results[i])  # type: ignore[index]

    def __len__(self) -> int:
        return len(self._pending)
