"""The emerging-terms rule's history sample: n-gram document counts of a product's feedback per whole UTC
hour, kept between evaluation cycles.

The rule compares the current window with a sample of the history (the window just before it and the
same window a day earlier) to choose which candidates get an exact count over the whole history. Those
sample hours are in the past, so the next cycle (an hour later) needs all but one of them again: each
hour is read once and its counts kept (per index, in memory, for the hours a cycle can still ask for).
A document that arrives late for an hour already counted is missed by the sample only — it is a
pre-filter; the exact history counts and the current window are always read from the index.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import weakref
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from alerts.detect import ngrams
from configs.times import parse_utc

if TYPE_CHECKING:
    from index import FeedbackIndex

__all__ = ["sample_windows", "sample_grams"]

_HOUR = 3600
#: Hours kept per index: a day and a window back from the newest asked for, with room for a 7-day window.
_KEEP_HOURS = 24 * 9

_Key = tuple[str, int, int]  # the filters (repr), max_n, hour
_caches: weakref.WeakKeyDictionary[Any, dict[_Key, tuple[Counter[str], int]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def sample_windows(since: datetime, window: timedelta) -> list[tuple[int, int]]:
    """The sample's hours ``[lo, hi)`` (epoch hours): the ``window`` (rounded up to whole hours) before the
    whole hour at or before ``since``, and the same a day earlier."""
    end = int(since.timestamp()) // _HOUR
    width = max(1, math.ceil(window.total_seconds() / _HOUR))
    return [(end - width, end), (end - 24 - width, end - 24)]


def sample_grams(index: FeedbackIndex, filters: Any, *, max_n: int,
                 windows: Iterable[tuple[int, int]]) -> tuple[Counter[str], int]:
    """Documents per n-gram, and documents, matching ``filters`` (an :class:`index.Filters` without a
    time range) over the hours of ``windows``; hours read before come from memory."""
    hours = sorted({h for lo, hi in windows for h in range(lo, hi)})
    try:
        with _lock:
            cache = _caches.setdefault(index, {})
    except TypeError:  # an index that cannot be weakly referenced: no cache
        cache = {}
    key = (repr(filters), max_n)
    with _lock:
        have = {h: cache[(*key, h)] for h in hours if (*key, h) in cache}
    missing = [h for h in hours if h not in have]
    for lo, hi in _runs(missing):  # one scan per run of consecutive hours
        got: dict[int, tuple[Counter[str], int]] = {h: (Counter(), 0) for h in range(lo, hi)}
        flt = dataclasses.replace(filters, since=datetime.fromtimestamp(lo * _HOUR, timezone.utc),
                                  until=datetime.fromtimestamp(hi * _HOUR, timezone.utc))
        for doc in index.scan(flt, fields=["tokens", "created_at"], batch_size=1000):
            h = _hour(doc.get("created_at"))
            h = h if h in got else lo  # (the range filter chose it: an odd time string counts in the run)
            c, n = got[h]
            c.update(ngrams(doc.get("tokens") or "", max_n=max_n))
            got[h] = (c, n + 1)
        have.update(got)
        with _lock:
            for h, v in got.items():
                cache[(*key, h)] = v
    if hours:
        with _lock:
            for old in [k for k in cache if k[2] < hours[-1] - _KEEP_HOURS]:
                del cache[old]
    total: Counter[str] = Counter()
    n = 0
    for h in hours:
        grams, docs = have[h]
        total.update(grams)
        n += docs
    return total, n


def _hour(value: Any) -> int | None:
    try:
        return int(parse_utc(value).timestamp()) // _HOUR
    except (TypeError, ValueError):
        return None


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for h in hours:
        if out and out[-1][1] == h:
            out[-1] = (out[-1][0], h + 1)
        else:
            out.append((h, h + 1))
    return out
