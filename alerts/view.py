"""What an incident looks like to the CLI (``voc alerts list|show --json``), the HTTP API and the web page:
one flat JSON object per incident, built here once so every interface says the same.

``incident_view(rec)``: ``id, state, title, severity, product, opened_at, updated_at, resolved_at,
acked_at, acked_by, version, topics, topic_names, terms, versions, sources, platforms, count, baseline,
range, ratio, unit, trend, samples, query, evidence, risk, risk_posts, members, summary`` (an alert stored
before incidents existed shows the same keys, filled from what it holds). ``incident_detail(rec, events,
index)`` adds ``posts`` (exactly what its ``query`` finds, newest first) and ``history`` (its state
changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from alerts.fixes import fix_view
from alerts.lifecycle import AlertRecord

if TYPE_CHECKING:
    from index import FeedbackIndex

__all__ = ["incident_view", "incident_detail", "incident_posts"]

_POST_FIELDS = ("id", "source", "url", "created_at", "title", "text", "rating", "app_version", "platform",
                "sentiment", "topics", "risk")


def incident_view(rec: AlertRecord) -> dict[str, Any]:
    d = dict(rec.detail)
    j = rec.to_json()
    f = rec.figures
    versions = list(d.get("versions") or ([d["version"]] if d.get("version") else []))
    if versions and isinstance(versions[0], (list, tuple)):  # a signal's facet ([[version, n]]) before incidents
        versions = [v for v, _n in versions]
    return {
        "id": rec.fingerprint, "state": rec.state, "title": rec.title, "severity": rec.severity,
        "product": rec.product, "opened_at": j["opened_at"], "updated_at": j["updated_at"],
        "resolved_at": j["resolved_at"], "acked_at": j["acked_at"], "acked_by": rec.acked_by,
        "version": rec.version, "kind": rec.kind, "rule": rec.rule, "key": rec.key,
        "topics": list(d.get("topics") or []), "topic_names": list(d.get("topic_names") or []),
        "terms": list(d.get("terms") or []), "versions": versions,
        "sources": [list(s) for s in d.get("sources") or []], "platforms": [list(s) for s in d.get("platforms") or []],
        "count": d.get("count", f.current), "baseline": d.get("baseline", round(f.expected, 3)),
        "range": list(d.get("range") or [round(f.low, 3), round(f.high, 3)]),
        "ratio": d.get("ratio", round(f.ratio, 3)), "unit": d.get("unit", f.unit),
        "trend": [list(t) for t in d.get("trend") or []],
        "samples": [dict(s) for s in d.get("samples") or []], "query": str(d.get("query") or ""),
        "evidence": [dict(e) for e in d.get("evidence") or []], "risk": list(d.get("risk") or []),
        "risk_posts": [dict(p) for p in d.get("risk_posts") or []],
        "members": [dict(m) for m in d.get("members") or []], "posts_count": d.get("posts", 0),
        "figures": f.as_dict(), "summary": rec.summary,
        "fix": fix_view(rec),
        "tickets": [dict(t) for t in d.get("tickets") or [] if isinstance(t, dict)],
        "escalation": dict(d["escalation"]) if isinstance(d.get("escalation"), dict) else None,
        # the fingerprint under its old name, for scripts written before incidents
        "fingerprint": rec.fingerprint,
    }


def incident_posts(index: FeedbackIndex, rec: AlertRecord, *, limit: int = 500) -> list[dict[str, Any]]:
    """The incident's posts, newest first: exactly what its ``query`` finds (the query has absolute time
    bounds, so it finds the same posts later). An alert without a readable query lists the posts its
    signals found (``post_ids``; posts deleted since are skipped)."""
    query = str(rec.detail.get("query") or "")
    if query:
        from index.query import QueryError, parse_query

        try:
            q = parse_query(query, now=rec.updated_at, tz="UTC", limit=max(limit, 0), sort="time")
        except (QueryError, ValueError):
            q = None
        if q is not None:
            return [{k: h.doc.get(k) for k in _POST_FIELDS} for h in index.search(q).hits]
    out = []
    for pid in list(rec.detail.get("post_ids") or [])[: max(limit, 0) * 2]:
        doc = index.get(str(pid))
        if doc is not None:
            out.append({k: doc.get(k) for k in _POST_FIELDS})
    out.sort(key=lambda p: str(p.get("created_at") or ""), reverse=True)
    return out[:limit]


def incident_detail(rec: AlertRecord, events: Sequence[dict[str, Any]], *, index: FeedbackIndex | None = None,
                    deliveries: Sequence[Any] = (), limit: int = 500) -> dict[str, Any]:
    out = incident_view(rec)
    out["history"] = [dict(e) for e in events]
    out["posts"] = incident_posts(index, rec, limit=limit) if index is not None else []
    out["deliveries"] = [{"version": d.version, "subscriber": d.subscriber, "channel": d.channel,
                          "status": d.status, "attempts": d.attempts, "error": d.last_error} for d in deliveries]
    return out
