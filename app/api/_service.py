"""What the API routes call: one function per question, over the agreed index interface.

Each function takes the index and plain values, parses the one query language with
:func:`index.parse_query` and returns JSON-ready dicts. Routes only parse HTTP input and map errors.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from configs.versions import version_key
from index import FeedbackIndex, Filters, QueryError, SearchQuery, parse_query
from index.query import EARLIEST, LATEST
from index.base import FACET_FIELDS, Interval, Sort, format_time, parse_time

__all__ = [
    "DEFAULT_FACETS", "TREND_GROUPS", "INTERVALS", "build_query", "search", "facets", "trends", "ratings_by_version",
    "public_doc", "pivot_buckets",
]

DEFAULT_FACETS = ("sentiment", "topics", "source", "intent", "platform", "product")
TREND_GROUPS = ("sentiment", "topics", "source", "app_version", "intent", "platform", "product", "rating", "risk")
#: interval → (bucket length, default window when the query has no since:)
INTERVALS: dict[Interval, tuple[timedelta, timedelta]] = {
    "minute": (timedelta(minutes=1), timedelta(hours=2)),
    "hour": (timedelta(hours=1), timedelta(days=3)),
    "day": (timedelta(days=1), timedelta(days=30)),
}
#: Fields a stored document keeps out of API answers (search-only shadow columns).
HIDDEN_FIELDS = ("tokens",)

_SORTS: dict[str, Sort] = {"relevance": "relevance", "time": "time"}


#: An ISO-8601 date or time in ASCII: 2026-11-24, 2026-11-24T03:05, …:05.123Z, …+08:00.
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                       r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?")


def _time_param(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    bad = QueryError(name, f"expected an ISO-8601 time such as 2026-11-24T03:05:00Z, got {value[:60]!r}")
    if not _ISO_TIME.fullmatch(value):
        raise bad
    try:
        dt = parse_time(value)
    except (ValueError, OverflowError) as exc:
        raise bad from exc
    assert dt is not None
    return dt


def _check_range(filters: Filters) -> None:
    for name in ("since", "until"):
        value = getattr(filters, name)
        if value is not None and not EARLIEST <= value <= LATEST:
            raise QueryError(name, f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")


def build_query(q: str, *, now: datetime, since: str | None = None, until: str | None = None,
                limit: int = 20, offset: int = 0, sort: str | None = None,
                facets: Sequence[str] = (), facet_sample: int = 0,
                topics: Mapping[str, str] | None = None) -> SearchQuery:
    """The query language text plus the API's paging and drill-down parameters → one SearchQuery.

    ``since``/``until`` (ISO times) narrow the query's own time filters; the page sends them when a chart
    bucket is clicked, so drill-down works at any interval."""
    query = parse_query(q or "", now=now, topics=topics)
    filters = query.filters
    since_dt, until_dt = _time_param("since", since), _time_param("until", until)
    if since_dt is not None and (filters.since is None or since_dt > filters.since):
        filters = dataclasses.replace(filters, since=since_dt)
    if until_dt is not None and (filters.until is None or until_dt < filters.until):
        filters = dataclasses.replace(filters, until=until_dt)
    _check_range(filters)
    for f in facets:
        if f not in FACET_FIELDS:
            raise QueryError("facets", f"unknown facet {f!r} (known: {', '.join(FACET_FIELDS)})")
    order: Sort = "relevance" if query.text.strip() else "time"
    if sort is not None:
        if sort not in _SORTS:
            raise QueryError("sort", f"expected relevance or time, got {sort!r}")
        order = _SORTS[sort]
    return dataclasses.replace(query, filters=filters, limit=limit, offset=offset, sort=order, facets=tuple(facets),
                               facet_sample=facet_sample)


def public_doc(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in HIDDEN_FIELDS}


def _filters_json(filters: Filters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(filters):
        value = getattr(filters, f.name)
        if isinstance(value, datetime):
            out[f.name] = format_time(value)
        elif value:
            out[f.name] = list(value)
    return out


def _facets_json(facets: dict[str, list[tuple[str, int]]]) -> dict[str, list[list[Any]]]:
    return {name: [[str(value), int(count)] for value, count in values] for name, values in facets.items()}


def search(index: FeedbackIndex, query: SearchQuery) -> dict[str, Any]:
    result = index.search(query)
    return {
        "total": result.total,
        "limit": query.limit,
        "offset": query.offset,
        "sort": query.sort,
        "text": query.text,
        "filters": _filters_json(query.filters),
        "hits": [
            {"doc": public_doc(hit.doc), "score": float(hit.score),
             "highlight": [[str(segment), bool(matched)] for segment, matched in hit.highlight]}
            for hit in result.hits
        ],
        "facets": _facets_json(result.facets),
        # None: the facets count every match; N: they count the newest N matches (a sample; show proportions)
        "facets_sampled": result.facets_sampled,
    }


def facets(index: FeedbackIndex, query: SearchQuery) -> dict[str, Any]:
    result = index.search(dataclasses.replace(query, limit=0, offset=0))
    return {"total": result.total, "filters": _filters_json(query.filters), "facets": _facets_json(result.facets),
            "facets_sampled": result.facets_sampled}


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def _zone(tz: str) -> ZoneInfo:
    """A time zone from the system's list only: ZoneInfo itself opens any path-like key it is given."""
    if tz not in _zone_names():
        raise QueryError("tz", f"unknown time zone {tz[:64]!r} (e.g. Asia/Shanghai, UTC)")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise QueryError("tz", f"unknown time zone {tz[:64]!r} (e.g. Asia/Shanghai, UTC)") from exc


def _floor(dt: datetime, interval: str, zone: ZoneInfo) -> datetime:
    local = dt.astimezone(zone)
    if interval == "day":
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif interval == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(second=0, microsecond=0)
    return local


def pivot_buckets(buckets: Sequence[Any], *, step: timedelta) -> dict[str, Any]:
    """Histogram buckets → ``{"starts": [...], "ends": [...], "series": [{"key", "counts", "total"}]}``.

    Every series gets a value for every start seen (0 where the backend returned none), series are
    ordered by total, largest first, so a chart can take the top N."""
    starts = sorted({b.start for b in buckets})
    position = {s: i for i, s in enumerate(starts)}
    series: dict[str | None, list[int]] = {}
    for b in buckets:
        counts = series.setdefault(b.key, [0] * len(starts))
        counts[position[b.start]] += int(b.count)
    ordered = sorted(series.items(), key=lambda kv: (-sum(kv[1]), str(kv[0])))
    return {
        "starts": [s.isoformat() for s in starts],
        "ends": [(s + step).isoformat() for s in starts],
        "series": [{"key": key, "counts": counts, "total": sum(counts)} for key, counts in ordered],
    }


def trends(index: FeedbackIndex, q: str, *, now: datetime, interval: str = "day", tz: str = "Asia/Shanghai",
           group_by: str | None = None, since: str | None = None, until: str | None = None,
           topics: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Volume over time of the documents the query matches (free words and filters), optionally one series
    per value of ``group_by``; ``text`` echoes the free words."""
    iv = next((i for i in INTERVALS if i == interval), None)
    if iv is None:
        raise QueryError("interval", f"expected one of {', '.join(INTERVALS)}, got {interval!r}")
    if group_by is not None and group_by not in TREND_GROUPS:
        raise QueryError("group_by", f"expected one of {', '.join(TREND_GROUPS)}, got {group_by!r}")
    zone = _zone(tz)
    query = build_query(q, now=now, since=since, until=until, limit=0, topics=topics)
    step, window = INTERVALS[iv]
    end = query.filters.until or now
    start = _floor(query.filters.since or (end - window), interval, zone)
    if (end - start) / step > 2000:
        raise QueryError("interval", f"{interval} buckets over {end - start} would be more than 2000; "
                                     "use a larger interval or a shorter since:")
    buckets = index.histogram(query.filters, interval=iv, tz=tz, group_by=group_by, start=start, end=end,
                              text=query.text)
    out = pivot_buckets(buckets, step=step)
    out.update({"interval": interval, "tz": tz, "group_by": group_by, "filters": _filters_json(query.filters),
                "start": start.isoformat(), "end": end.astimezone(zone).isoformat(), "text": query.text})
    return out


def ratings_by_version(index: FeedbackIndex, q: str, *, now: datetime, since: str | None = None, until: str | None = None,
                       top: int = 12, topics: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Rating distribution (1–5 stars) and mean rating per app version, for the versions with most ratings."""
    query = build_query(q, now=now, since=since, until=until, limit=0, facets=("app_version", "rating"),
                        topics=topics)
    per_rating: dict[int, dict[str, int]] = {}
    for stars in range(1, 6):
        filters = dataclasses.replace(query.filters, rating=(stars,))
        result = index.search(dataclasses.replace(query, filters=filters, facets=("app_version",)))
        per_rating[stars] = {str(v): int(c) for v, c in result.facets.get("app_version", [])}
    totals: dict[str, int] = {}
    for counts in per_rating.values():
        for version, c in counts.items():
            totals[version] = totals.get(version, 0) + c
    versions = sorted(sorted(totals, key=lambda v: -totals[v])[:top], key=version_key)
    rows = []
    for v in versions:
        dist = [per_rating[s].get(v, 0) for s in range(1, 6)]
        n = sum(dist)
        rows.append({"app_version": v, "counts": dist, "total": n,
                     "mean": round(sum((i + 1) * c for i, c in enumerate(dist)) / n, 2) if n else None})
    return {"versions": rows, "filters": _filters_json(query.filters)}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
