"""Signals: what each rule kind's detector finds in the stored feedback at ``now``, with what a message
needs (title, sources, representative posts, search query). Reads the index; writes nothing.

``collect_signals(rule, settings, index, now=…)`` runs one rule (``RUNNERS`` maps each kind to its
collector); :mod:`alerts._evaluate` turns the signals into alert state changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from alerts.detect import (Figures, Match, RatingStats, SpikeDetector, emerging_terms, is_generic, ngrams, rating_drop)
from alerts.method import poisson_like
from alerts.novelty import detector_for
from alerts._phrases import configured, group_terms, whole_phrases
from alerts._sample import sample_grams, sample_windows
from alerts.lifecycle import fingerprint
from configs.alerts import Rule
from configs.times import format_utc as _iso

if TYPE_CHECKING:
    from configs import Settings
    from index import FeedbackIndex

__all__ = ["Signal", "collect_signals", "RUNNERS"]

_HOUR = timedelta(hours=1)
#: Emerging terms: exact history counts for at most this many candidates (after the sample pre-filter).
_MAX_EXACT = 16


@dataclass(frozen=True)
class Signal:
    """A detector match with what the message needs (title, sources, samples, search query)."""

    rule: str
    kind: str
    product: str
    match: Match
    title: str
    detail: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.product, self.match.key)


def _topic_names(settings: Settings) -> dict[str, str]:
    return {t.id: t.name for t in settings.topics.topics}


def _product_names(settings: Settings) -> dict[str, str]:
    return {p.id: p.name for p in settings.sources.products}


def _until(now: datetime) -> datetime:
    """The exclusive end of a window that includes ``now`` (whole seconds, as the query language writes it)."""
    return now.astimezone(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)


def _filters(**kw: Any) -> Any:
    from index import Filters

    return Filters(**{k: v for k, v in kw.items() if v is not None})


#: Post ids kept per signal (the newest): what incidents are grouped by (overlapping posts) and list.
POST_CAP = 500


def evidence(index: FeedbackIndex, filters: Any, *, text: str = "", pool: int = POST_CAP, limit: int = 5) -> dict[str, Any]:
    """What a signal's posts are, from one search: the ids of the ``pool`` newest (what incidents are
    grouped by), the source mix (exact), the platform / version mix (of those newest posts), the total,
    and up to ``limit`` representative posts — most engagement first, near-duplicates collapsed into one
    with their count (``similar``)."""
    from alerts.incidents import collapse_samples
    from index import SearchQuery

    res = index.search(SearchQuery(text=text, filters=filters, limit=pool, sort="time", facets=("source",)))
    docs = [h.doc for h in res.hits]
    platforms = Counter(str(d["platform"]) for d in docs if d.get("platform"))
    versions = Counter(str(d["app_version"]) for d in docs if d.get("app_version"))
    return {"post_ids": [str(d.get("id")) for d in docs if d.get("id") is not None],
            "total": res.total,
            "sources": [[k, n] for k, n in res.facets.get("source", [])],
            "platforms": [[k, n] for k, n in platforms.most_common()],
            "versions": [[k, n] for k, n in versions.most_common()],
            "samples": collapse_samples(docs, limit=limit)}


def _products(rule: Rule, index: FeedbackIndex, since: datetime, until: datetime, sentiment: str | None) -> list[str]:
    if rule.products:
        return list(rule.products)
    buckets = index.histogram(_filters(sentiment=(sentiment,) if sentiment else None), interval="day", tz="UTC",
                              group_by="product", start=since, end=until)
    return sorted({b.key for b in buckets if b.key and b.count})


def _volume_match(rule: Rule, key: str, points: list[tuple[datetime, int]], *, origin: datetime, end: datetime,
                  step: timedelta, now: datetime) -> Match | None:
    """The rule's detector over one count series (buckets from ``origin`` to ``end``, the one holding
    ``now`` last), evaluated at ``now``. ``method: auto`` chooses by what the series is
    (:func:`alerts.method.poisson_like` on the buckets before the window): the ratio detector on low
    Poisson-like counts (most feedback), the novelty detector, rises only, on over- or under-dispersed ones."""
    counts = {int(t.timestamp()): c for t, c in points}
    s = int(step.total_seconds())
    first, stop = int(origin.timestamp()) // s, int(end.timestamp()) // s
    samples = [counts.get(i * s, 0) for i in range(first, stop)]  # every bucket, empty ones as 0
    method = rule.method
    if method == "auto":
        k = rule.window_samples
        method = "ratio" if poisson_like(samples[max(0, len(samples) - k - rule.baseline_samples):
                                                 max(0, len(samples) - k)]) else "novelty"
        # feedback volume: a rise is an incident, a drop in complaints is not (``direction`` is for the
        # series ``voc alerts backtest --series`` replays, which may be anything)
        rule = replace(rule, direction="up")
    if method == "novelty":
        nov = detector_for(rule, key=key, available=stop - first)
        for i, c in enumerate(samples):
            nov.observe(datetime.fromtimestamp((first + i) * s, timezone.utc), c)
        return nov.advance(now)
    det = SpikeDetector(key=key, bucket=step, window=rule.window, history=rule.history, warmup=rule.warmup,
                        min_count=rule.min_count, ratio=rule.ratio, threshold=rule.threshold, origin=origin)
    for t, c in points:
        if c:
            det.observe(t, c)
    return det.advance(now)


def _volume(rule: Rule, settings: Settings, index: FeedbackIndex, now: datetime) -> list[Signal]:
    step = _HOUR if rule.interval == "hour" else timedelta(days=1)
    window, history = rule.window, rule.history
    end = datetime.fromtimestamp(-(-now.timestamp() // step.total_seconds()) * step.total_seconds(), timezone.utc)
    start = end - history - window
    sentiment = (rule.sentiment,) if rule.sentiment else None
    topics = _topic_names(settings)
    names = _product_names(settings)
    out: list[Signal] = []
    for product in _products(rule, index, start, end, rule.sentiment):
        older = index.count(_filters(product=(product,), until=start))
        series: dict[str, list[tuple[datetime, int]]] = {"": []}
        for b in index.histogram(_filters(product=(product,), sentiment=sentiment), interval=rule.interval, tz="UTC",
                                 start=start, end=end):
            series[""].append((b.start, b.count))
        if rule.per_topic:
            for b in index.histogram(_filters(product=(product,), sentiment=sentiment, topic=rule.topics or None),
                                     interval=rule.interval, tz="UTC", group_by="topics", start=start, end=end):
                if b.key and (not rule.topics or b.key in rule.topics):
                    series.setdefault(b.key, []).append((b.start, b.count))
        first = [t for t, c in series[""] if c]
        origin = start if older or not first else min(first)
        for key, points in series.items():
            m = _volume_match(rule, key, points, origin=origin, end=end, step=step, now=now)
            if m is None:
                continue
            f = m.figures
            # the detector counted whole buckets up to ``end`` (the bucket holding ``now`` included): the query
            # covers exactly those, so it finds exactly the posts counted
            until = end
            flt = _filters(product=(product,), sentiment=sentiment, topic=(key,) if key else None,
                           since=f.window_start, until=until)
            ev = evidence(index, flt)
            what = f"{names.get(product, product)}" + (f" · {topics.get(key, key)}" if key else "")
            feeling = {"negative": "负面", "positive": "正面", "neutral": "中性"}.get(rule.sentiment or "", "")
            query = " ".join(x for x in (f"product:{product}", f"topic:{key}" if key else "",
                                         f"sentiment:{rule.sentiment}" if rule.sentiment else "",
                                         f"since:{_iso(f.window_start)}", f"until:{_iso(until)}") if x)
            out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                              title=f"{what} {feeling}反馈激增",
                              detail={**ev, "query": query, "topics": [key] if key else [],
                                      "topic_names": [topics.get(key, key)] if key else [],
                                      "sentiment": rule.sentiment or "", "trend_filters": {
                                          "product": product, "topic": key, "sentiment": rule.sentiment or ""}}))
    return out


def _terms(rule: Rule, settings: Settings, index: FeedbackIndex, now: datetime) -> list[Signal]:
    from index import SearchQuery

    window, history = rule.window, rule.history
    since = now - window
    sentiment = (rule.sentiment,) if rule.sentiment else None
    names = _product_names(settings)
    keywords = {k for t in settings.topics.topics for k in t.keywords}
    out: list[Signal] = []
    for product in _products(rule, index, now - history - window, now + timedelta(seconds=1), rule.sentiment):
        cur: Counter[str] = Counter()
        grams: list[set[str]] = []
        ids: list[str] = []
        toks: list[list[str]] = []
        for doc in index.scan(_filters(product=(product,), sentiment=sentiment, since=since, until=_until(now)),
                              fields=["id", "tokens"], batch_size=1000):
            g = ngrams(doc.get("tokens") or "", max_n=rule.max_ngram)
            grams.append(g)
            toks.append(str(doc.get("tokens") or "").split())
            ids.append(str(doc.get("id")))
            cur.update(g)
        candidates = [t for t, c in cur.most_common(200)
                      if c >= rule.min_count and not configured(t, keywords) and not is_generic(t)]
        if not candidates:
            continue
        hist: dict[str, int] = {}
        hflt = _filters(product=(product,), sentiment=sentiment, since=since - history, until=since)
        # Cheap pre-filter: a sample of the history — the window just before this one and the same window a
        # day earlier — already uses a term at ≥ 1/ratio of its current rate → it is not emerging; only the
        # rest get an exact phrase count over the whole history.
        # (whole hours, kept between cycles: alerts/_sample.py)
        sample, n_sample = sample_grams(index, _filters(product=(product,), sentiment=sentiment),
                                        max_n=rule.max_ngram, windows=sample_windows(since, window))
        n_sample = max(n_sample, 1)
        n_cur = max(len(grams), 1)
        candidates = [t for t in candidates
                      if sample[t] < 3 or cur[t] / n_cur >= rule.ratio * sample[t] / n_sample][:_MAX_EXACT]
        for term in candidates:
            res = index.search(SearchQuery(text=_phrase(term, index), filters=hflt, limit=0))
            hist[term] = res.total
        days = [b.start for b in index.histogram(hflt, interval="day", tz="UTC") if b.count]
        covered = since - max(since - history, min(days)) if days else history  # history actually held
        found = emerging_terms({t: cur[t] for t in candidates}, hist, current_span=window,
                               history_span=max(covered, window),
                               min_count=rule.min_count, ratio=rule.ratio, max_terms=rule.max_terms)
        if not found:
            continue
        found, related = group_terms(found, grams)
        every = {t.term for t in found} | {r for rel in related.values() for r in rel}
        term_docs = {t: [ids[i] for i, g in enumerate(grams) if t in g] for t in every}
        found, related, term_docs = whole_phrases(found, related, term_docs, grams, toks, ids)
        top = found[0]
        total = sum(cur[t.term] for t in found)
        fig = Figures(current=top.current, expected=top.expected, low=0.0, high=max(top.expected, 1.0) * rule.ratio,
                      ratio=top.ratio, window_start=since, window_end=now, unit="items", samples=1)
        until = _until(now)
        flt = _filters(product=(product,), sentiment=sentiment, since=since, until=until)
        ev = evidence(index, flt, text=_phrase(top.term, index))
        # the posts of every reported term (not only the top one's): what the incident is grouped by
        ev["post_ids"] = sorted({i for t in every for i in term_docs.get(t, ())})[:POST_CAP]
        sev = "warning" if top.current >= 3 * rule.min_count else "info"
        m = Match(key=top.term, at=now, severity=sev, figures=fig,
                  detail={"terms": [t.term for t in found]})
        out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                          title=f"{names.get(product, product)} 负面反馈中出现新词：{'、'.join(t.term for t in found[:3])}",
                          detail={**ev, "terms": [t.term for t in found],
                                  "related_terms": related,
                                  "term_figures": [[t.term, t.current, round(t.expected, 3), round(t.ratio, 2)] for t in found],
                                  "term_queries": {t.term: f"{_phrase(t.term, index)} product:{product}"
                                                   + (f" sentiment:{rule.sentiment}" if rule.sentiment else "")
                                                   + f" since:{_iso(since)} until:{_iso(until)}" for t in found},
                                  "query": f"{_phrase(top.term, index)} product:{product}"
                                           + (f" sentiment:{rule.sentiment}" if rule.sentiment else "")
                                           + f" since:{_iso(since)} until:{_iso(until)}", "docs": total}))
    return out


def _phrase(term: str, index: FeedbackIndex) -> str:
    return '"' + " ".join(_split_term(term, getattr(index, "tokenizer", None))) + '"'


def _split_term(term: str, tokenizer: Callable[[str], Sequence[str]] | None) -> list[str]:
    """An n-gram back into its words (the index's own tokenizer) for a phrase search."""
    return [t for t in (tokenizer(term) if tokenizer else [term]) if t.strip()]


def _rating(rule: Rule, settings: Settings, index: FeedbackIndex, now: datetime) -> list[Signal]:
    window = rule.window
    since = now - window
    names = _product_names(settings)
    out: list[Signal] = []
    for product in _products(rule, index, since, now + timedelta(seconds=1), None):
        counts: dict[str, Counter[int]] = {}
        for r in range(1, 6):
            for b in index.histogram(_filters(product=(product,), rating=(r,)), interval="day", tz="UTC",
                                     group_by="app_version", start=since, end=now + timedelta(seconds=1)):
                if b.key and b.count:
                    counts.setdefault(b.key, Counter())[r] += b.count
        stats = [RatingStats(version=v, counts=dict(c)) for v, c in counts.items()]
        m = rating_drop(stats, min_reviews=rule.min_reviews, low_share_increase=rule.low_share_increase,
                        mean_drop=rule.mean_drop, window_start=since, window_end=now)
        if m is None:
            continue
        until = _until(now)
        flt = _filters(product=(product,), app_version=(m.key,), rating=(1, 2), since=since, until=until)
        ev = evidence(index, flt)
        d = m.detail
        low = sum(counts[m.key].get(r, 0) for r in (1, 2))
        out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                          title=(f"{names.get(product, product)} {m.key} 版本评分下降：差评占比 "
                                 f"{m.figures.current:.0%}（此前 {m.figures.expected:.0%}），均分 {d['mean']}（此前 {d['earlier_mean']}）"),
                          detail={**ev, **dict(d), "low_reviews": low, "versions": [[m.key, d["reviews"]]],
                                  "query": f"product:{product} version:{m.key} rating:1,2 since:{_iso(since)} "
                                           f"until:{_iso(until)}"}))
    return out


_RISK_LABELS = {"media_threat": "扬言曝光媒体", "regulator_threat": "扬言投诉监管", "legal_threat": "扬言起诉",
                "viral": "高传播"}


def _risk(rule: Rule, settings: Settings, index: FeedbackIndex, now: datetime) -> list[Signal]:
    window = rule.window
    since = now - window
    names = _product_names(settings)
    out: list[Signal] = []
    flt = _filters(product=rule.products or None, risk=tuple(rule.risk), since=since, until=now + timedelta(seconds=1))
    for doc in index.scan(flt, fields=["id", "product", "source", "url", "text", "created_at", "risk", "likes",
                                       "replies", "reposts", "topics"]):
        flags = [r for r in (doc.get("risk") or []) if r in rule.risk]
        if not flags:
            continue
        eng = (doc.get("likes") or 0) + (doc.get("replies") or 0) + (doc.get("reposts") or 0)
        fig = Figures(current=1, expected=0, low=0, high=0, ratio=1.0, window_start=since, window_end=now,
                      unit=f"post ({eng} engagements)", samples=0)
        m = Match(key=str(doc["id"]), at=now, severity=rule.severity, figures=fig, detail={"risk": flags})
        product = doc.get("product") or ""
        sample = {"text": " ".join(str(doc.get("text") or "").split())[:300], "url": doc.get("url") or "",
                  "source": doc.get("source") or "", "created_at": doc.get("created_at") or "", "id": doc["id"],
                  "similar": 1}
        out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                          title=f"{names.get(product, product)} 高风险反馈：{'、'.join(_RISK_LABELS.get(f, f) for f in flags)}",
                          detail={"sources": [[sample["source"], 1]], "samples": [sample], "risk": flags,
                                  "post_ids": [str(doc["id"])], "total": 1,
                                  "engagement": eng, "topics": list(doc.get("topics") or []),
                                  "query": f"product:{product} risk:{','.join(flags)} since:{_iso(since)}"}))
    return out


RUNNERS: dict[str, Callable[[Rule, Any, Any, datetime], list[Signal]]] = {
    "volume_spike": _volume, "emerging_terms": _terms, "rating_drop": _rating, "high_risk": _risk}


def collect_signals(rule: Rule, settings: Settings, index: FeedbackIndex, *, now: datetime) -> list[Signal]:
    """Run one rule's detector against the index at ``now`` (no store, no side effects)."""
    return RUNNERS[rule.kind](rule, settings, index, now)
