"""A small time-to-live cache for read answers (search, facets, trends) shared by all clients of one server.

Dashboards ask the same questions over and over (every viewer of the trends page sends the same histograms);
the feedback changes only when a crawl lands. Answers are kept ``web.cache_seconds`` (0 turns the cache off),
keyed by the endpoint and the fully parsed query — relative times (``since:7d``) are resolved against "now"
rounded down to the minute, so the same question asked within a minute has the same key. A label correction
through the API clears the cache. At most ``max_entries`` answers are kept (least recently used dropped).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["TTLCache"]


class TTLCache:
    def __init__(self, *, ttl: float, max_entries: int = 512, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.ttl <= 0:
            return compute()
        now = self._clock()
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[0] > now:
                self._data.move_to_end(key)
                self.hits += 1
                return entry[1]
            self.misses += 1
        value = compute()  # outside the lock: a slow query never blocks other keys
        with self._lock:
            self._data[key] = (now + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
