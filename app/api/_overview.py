"""The overview: is it getting worse, and why — for one product and period, against the period before.

:func:`overview` answers one JSON object: headline figures (volume, negative share, mean rating, open
alerts) with the previous period's values; top issues (the product's alerts, and topics ranked by growth
with a sparkline); new terms (from emerging-terms alerts); and breakdowns by source, platform and version.
Every number carries the exact search that finds its posts — ``q`` in the query language plus the
window's ``since``/``until`` — so the page's click-through lands on a search whose total is that number.

``q`` narrows everything (the page's drill chips, e.g. ``sentiment:negative topic:login``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from app.api import _service as service
from index import FeedbackIndex, QueryError
from configs.times import parse_utc
from index.base import Interval, format_time

__all__ = ["PERIODS", "BREAKDOWNS", "overview", "window"]

#: period → (length, sparkline bucket)
PERIODS: dict[str, tuple[timedelta, Interval]] = {
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
    "30d": (timedelta(days=30), "day"),
}
BREAKDOWNS = ("source", "platform", "app_version")
_QFIELD = {"source": "source", "platform": "platform", "app_version": "version", "topics": "topic"}
_FACETS = ("sentiment", "topics", "rating", *BREAKDOWNS)
_TOP = 8


def window(period: str, now: datetime) -> tuple[datetime, datetime, datetime]:
    """``(previous start, start, end)`` of ``period`` ending at ``now`` (UTC, whole minutes)."""
    if period not in PERIODS:
        raise QueryError("period", f"expected one of {', '.join(PERIODS)}, got {period!r}")
    span = PERIODS[period][0]
    end = now.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return end - 2 * span, end - span, end


def _join(*parts: str) -> str:
    return " ".join(p for p in (x.strip() for x in parts) if p)


def _value(value: str) -> str | None:
    """A facet value as a query-language value, or None when the language cannot say it (whitespace, a comma
    or a quote in a crawled value): such a row gets no click-through rather than a wrong one."""
    return None if not value or any(c.isspace() or c in ',"' for c in value) else value


def _filter(base: str, qfield: str, value: str) -> str | None:
    v = _value(value)
    return None if v is None else _join(base, f"{qfield}:{v}")


def _counts(index: FeedbackIndex, q: str, since: datetime, until: datetime, now: datetime) -> tuple[int, dict[str, dict[str, int]]]:
    query = service.build_query(q, now=now, since=format_time(since), until=format_time(until), limit=0,
                                facets=_FACETS)
    result = index.search(query)
    return result.total, {k: {str(v): int(n) for v, n in vals} for k, vals in result.facets.items()}


def _mean_rating(ratings: dict[str, int]) -> tuple[float | None, int]:
    """Mean and count over the 1–5 star ratings (what ``rating:1,2,3,4,5`` finds)."""
    stars = {int(r): c for r, c in ratings.items() if r in ("1", "2", "3", "4", "5")}
    n = sum(stars.values())
    return (round(sum(r * c for r, c in stars.items()) / n, 2), n) if n else (None, 0)


def _sparklines(index: FeedbackIndex, q: str, *, start: datetime, end: datetime, interval: Interval, tz: str,
                now: datetime) -> tuple[list[str], dict[str, list[int]]]:
    query = service.build_query(q, now=now, since=format_time(start), until=format_time(end), limit=0)
    buckets = index.histogram(query.filters, interval=interval, tz=tz, group_by="topics", start=start, end=end,
                              text=query.text)
    pivot = service.pivot_buckets(buckets, step=service.INTERVALS[interval][0])
    return pivot["starts"], {str(s["key"]): s["counts"] for s in pivot["series"] if s["key"] is not None}


def overview(index: FeedbackIndex, alerts: list[dict] | None, *, product: str, period: str, q: str, now: datetime, tz: str,
             topic_names: dict[str, str]) -> dict[str, Any]:
    """The overview of ``product`` ("" for all) over ``period`` ending at ``now``; ``alerts`` are the alert
    store's records as JSON (``Operations.list_alerts``), None when the store cannot be read (the alert
    figure is then None with ``unavailable: true``)."""
    prev_start, start, end = window(period, now)
    if product and _value(product) is None:
        raise QueryError("product", f"not a product id: {product!r}")
    base = _join(f"product:{product}" if product else "", q)
    service.build_query(base, now=now)  # a bad drill query is a 400 naming its field, before any work
    cur_total, cur = _counts(index, base, start, end, now)
    prev_total, prev = _counts(index, base, prev_start, start, now)
    span = {"since": format_time(start), "until": format_time(end)}

    def fig(key: str, value: Any, previous: Any, query: str, **extra: Any) -> dict[str, Any]:
        return {"key": key, "value": value, "previous": previous, "q": query, **span, **extra}

    neg, prev_neg = cur.get("sentiment", {}).get("negative", 0), prev.get("sentiment", {}).get("negative", 0)
    mean, rated = _mean_rating(cur.get("rating", {}))
    prev_mean, prev_rated = _mean_rating(prev.get("rating", {}))
    mine = [a for a in alerts or [] if not product or a.get("product") == product]
    is_open = [a for a in mine if a.get("state") != "resolved"]
    # an alert opened at the period's last instant (``now``) belongs to it: (start, end]
    opened = lambda lo, hi: sum(1 for a in mine if lo < format_time(_time(a.get("opened_at"))) <= hi)  # noqa: E731
    figures = [
        fig("volume", cur_total, prev_total, base),
        fig("negative_share", round(neg / cur_total, 4) if cur_total else None,
            round(prev_neg / prev_total, 4) if prev_total else None, _join(base, "sentiment:negative"),
            count=neg, previous_count=prev_neg),
        fig("mean_rating", mean, prev_mean, _join(base, "rating:1,2,3,4,5"), count=rated, previous_count=prev_rated),
        {"key": "open_alerts", "value": len(is_open) if alerts is not None else None,
         "opened": opened(span["since"], span["until"]), "previous_opened": opened(format_time(prev_start), span["since"]),
         "unavailable": alerts is None},
    ]

    interval = PERIODS[period][1]
    starts, sparks = _sparklines(index, base, start=prev_start, end=end, interval=interval, tz=tz, now=now)
    topics: list[dict[str, Any]] = []
    for topic in set(cur.get("topics", {})) | set(prev.get("topics", {})):
        n, before = cur.get("topics", {}).get(topic, 0), prev.get("topics", {}).get(topic, 0)
        if n:
            topics.append({"topic": topic, "name": topic_names.get(topic, topic), "count": n, "previous": before,
                           "growth": n - before, "spark": sparks.get(topic, []),
                           "q": _filter(base, "topic", topic), **span})
    topics.sort(key=lambda t: (-t["growth"], -t["count"], t["topic"]))

    severity = {"critical": 0, "warning": 1, "info": 2}
    alert_rows = sorted(is_open, key=lambda a: (severity.get(str(a.get("severity")), 3), str(a.get("opened_at"))))
    issues = [{"id": a.get("fingerprint"), "title": a.get("title"), "severity": a.get("severity"),
               "state": a.get("state"), "acked": bool(a.get("acked_at")), "kind": a.get("kind"),
               "opened_at": a.get("opened_at"), "q": (a.get("detail") or {}).get("query")} for a in alert_rows[:_TOP]]

    terms: dict[str, dict[str, Any]] = {}
    for a in mine:
        if a.get("kind") != "emerging_terms" or not span["since"] <= format_time(_time(a.get("updated_at"))):
            continue
        for term in (a.get("detail") or {}).get("terms", []):
            terms.setdefault(str(term), {"term": str(term), "alert": a.get("fingerprint"),
                                         "q": _join(base, _phrase(str(term))), **span})

    breakdowns = {}
    for field in BREAKDOWNS:
        rows = [{"value": v, "count": n, "previous": prev.get(field, {}).get(v, 0),
                 "q": _filter(base, _QFIELD[field], v), **span}
                for v, n in sorted(cur.get(field, {}).items(), key=lambda kv: (-kv[1], kv[0]))]
        breakdowns[field] = rows[:12]

    return {"product": product, "period": period, "q": q, "base_q": base, "tz": tz, **span,
            "previous_since": format_time(prev_start), "previous_until": span["since"],
            "interval": interval, "spark_starts": starts,
            "figures": figures, "top_issues": {"alerts": issues, "topics": topics[:_TOP]},
            "new_terms": list(terms.values())[:20], "breakdowns": breakdowns}


def _phrase(term: str) -> str:
    return '"' + term.replace('"', " ") + '"'


def _time(value: Any) -> datetime:
    try:
        return parse_utc(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)


