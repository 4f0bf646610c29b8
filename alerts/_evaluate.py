"""``evaluate``: read counts from the index, run each enabled rule's detector, apply the lifecycle in the
store and queue one outbox row per (state change × subscriber × channel).

Detector state is derived from the stored feedback on every run (the baseline is re-read from the index
history), so a restart loses nothing; the lifecycle state lives in the store, so a restart does not
re-raise open alerts.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from alerts.detect import Figures, Match, RatingStats, SpikeDetector, emerging_terms, ngrams, rating_drop
from alerts.lifecycle import AlertRecord, Policy, Transition, fingerprint, on_match, on_quiet, SEVERITY_RANK
from alerts.message import from_record
from alerts.store import AlertStore, OutboxEntry, open_store
from configs.alerts import Rule

__all__ = ["EvaluationReport", "Signal", "evaluate", "collect_signals", "policy_for", "deliveries_for", "channel_ready"]

log = logging.getLogger("voc.alerts")

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


@dataclass
class EvaluationReport:
    now: datetime
    raised: list[AlertRecord] = field(default_factory=list)
    updated: list[AlertRecord] = field(default_factory=list)
    resolved: list[AlertRecord] = field(default_factory=list)
    #: Matches that changed nothing worth telling (already open, silenced or acknowledged).
    unchanged: int = 0
    #: Per rule: signals found.
    signals: dict[str, int] = field(default_factory=dict)
    #: Per rule: seconds spent.
    timings: dict[str, float] = field(default_factory=dict)
    queued: int = 0
    #: Per rule that raised: ``"<ExceptionType>: <message>"``. The other rules still ran; the failed
    #: rule's open alerts were left as they were (not resolved for lack of a signal).
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = (f"{len(self.raised)} raised, {len(self.updated)} updated, {len(self.resolved)} resolved, "
                f"{self.unchanged} unchanged; {self.queued} deliveries queued")
        if self.errors:
            text += f"; {len(self.errors)} rule(s) failed: {', '.join(self.errors)}"
        return text


def policy_for(rule: Rule) -> Policy:
    return Policy(resolve_after=rule.resolve_after, realert=rule.realert,
                  realert_max=rule.realert_max, update_growth=rule.update_growth,
                  notify_resolve=rule.kind != "high_risk")


def _topic_names(settings: Any) -> dict[str, str]:
    return {t.id: t.name for t in settings.topics.topics}


def _product_names(settings: Any) -> dict[str, str]:
    return {p.id: p.name for p in settings.sources.products}


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filters(**kw: Any) -> Any:
    from index import Filters

    return Filters(**{k: v for k, v in kw.items() if v is not None})


def _samples(index: Any, filters: Any, *, limit: int = 3, text: str = "",
             pool: int = 200) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """Representative posts (most engagement among the ``pool`` most recent, distinct texts) and the
    source mix of ``filters`` (and ``text``: a phrase search), from one search with a source facet."""
    from index import SearchQuery

    res = index.search(SearchQuery(text=text, filters=filters, limit=pool, sort="time", facets=("source",)))
    docs = [h.doc for h in res.hits]
    sources = res.facets.get("source", [])
    docs.sort(key=lambda d: (-((d.get("likes") or 0) + 2 * (d.get("replies") or 0) + 3 * (d.get("reposts") or 0)),
                             d.get("created_at") or ""), reverse=False)
    seen: set[str] = set()
    out = []
    for d in docs:
        text = " ".join(str(d.get("text") or "").split())
        if not text or text[:40] in seen:
            continue
        seen.add(text[:40])
        out.append({"text": text[:300], "url": d.get("url") or "", "source": d.get("source") or "",
                    "created_at": d.get("created_at") or "", "id": d.get("id")})
        if len(out) >= limit:
            break
    return out, [[src, n] for src, n in sources]


def _products(rule: Rule, index: Any, since: datetime, until: datetime, sentiment: str | None) -> list[str]:
    if rule.products:
        return list(rule.products)
    buckets = index.histogram(_filters(sentiment=(sentiment,) if sentiment else None), interval="day", tz="UTC",
                              group_by="product", start=since, end=until)
    return sorted({b.key for b in buckets if b.key and b.count})


def _volume(rule: Rule, settings: Any, index: Any, now: datetime) -> list[Signal]:
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
            det = SpikeDetector(key=key, bucket=step, window=window, history=history, warmup=rule.warmup,
                                min_count=rule.min_count, ratio=rule.ratio, threshold=rule.threshold, origin=origin)
            for t, c in points:
                if c:
                    det.observe(t, c)
            m = det.advance(now)
            if m is None:
                continue
            f = m.figures
            flt = _filters(product=(product,), sentiment=sentiment, topic=(key,) if key else None,
                           since=f.window_start, until=max(f.window_end, now))
            samples, sources = _samples(index, flt)
            what = f"{names.get(product, product)}" + (f" · {topics.get(key, key)}" if key else "")
            feeling = {"negative": "负面", "positive": "正面", "neutral": "中性"}.get(rule.sentiment or "", "")
            query = " ".join(x for x in (f"product:{product}", f"topic:{key}" if key else "",
                                         f"sentiment:{rule.sentiment}" if rule.sentiment else "",
                                         f"since:{_iso(f.window_start)}") if x)
            out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                              title=f"{what} {feeling}反馈激增",
                              detail={"sources": sources, "samples": samples, "query": query,
                                      "topics": [key] if key else []}))
    return out


def _terms(rule: Rule, settings: Any, index: Any, now: datetime) -> list[Signal]:
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
        for doc in index.scan(_filters(product=(product,), sentiment=sentiment, since=since, until=now + timedelta(seconds=1)),
                              fields=["tokens"], batch_size=1000):
            g = ngrams(doc.get("tokens") or "", max_n=rule.max_ngram)
            grams.append(g)
            cur.update(g)
        candidates = [t for t, c in cur.most_common(200) if c >= rule.min_count and not _configured(t, keywords)]
        if not candidates:
            continue
        hist: dict[str, int] = {}
        hflt = _filters(product=(product,), sentiment=sentiment, since=since - history, until=since)
        # Cheap pre-filter: a sample of the history — the window just before this one and the same window a
        # day earlier — already uses a term at ≥ 1/ratio of its current rate → it is not emerging; only the
        # rest get an exact phrase count over the whole history.
        sample: Counter[str] = Counter()
        n_sample = 0
        for lo in (since - window, since - timedelta(days=1)):
            sflt = _filters(product=(product,), sentiment=sentiment, since=lo, until=lo + window)
            for doc in index.scan(sflt, fields=["tokens"], batch_size=1000):
                sample.update(ngrams(doc.get("tokens") or "", max_n=rule.max_ngram))
                n_sample += 1
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
        found, related = _group_terms(found, grams)
        top = found[0]
        total = sum(cur[t.term] for t in found)
        fig = Figures(current=top.current, expected=top.expected, low=0.0, high=max(top.expected, 1.0) * rule.ratio,
                      ratio=top.ratio, window_start=since, window_end=now, unit="items", samples=1)
        flt = _filters(product=(product,), sentiment=sentiment, since=since, until=now + timedelta(seconds=1))
        samples, sources = _samples(index, flt, text=_phrase(top.term, index))
        sev = "warning" if top.current >= 3 * rule.min_count else "info"
        m = Match(key=top.term, at=now, severity=sev, figures=fig,
                  detail={"terms": [t.term for t in found]})
        out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                          title=f"{names.get(product, product)} 负面反馈中出现新词：{'、'.join(t.term for t in found[:3])}",
                          detail={"sources": sources, "samples": samples, "terms": [t.term for t in found],
                                  "related_terms": related,
                                  "term_figures": [[t.term, t.current, round(t.expected, 3), round(t.ratio, 2)] for t in found],
                                  "query": f"{top.term} product:{product} since:{_iso(since)}", "docs": total}))
    return out


def _configured(term: str, keywords: set[str]) -> bool:
    """A topic keyword (or a pair of them) is already watched by the per-topic volume rule."""
    if term in keywords:
        return True
    return any(term[:i] in keywords and term[i:] in keywords for i in range(1, len(term)))


def _group_terms(found: list[Any], grams: list[set[str]]) -> tuple[list[Any], dict[str, list[str]]]:
    """Terms that occur in (nearly) the same posts are one phrase ("新版本 打开 相册"): keep the most
    specific (longest) per group, the others listed as related. Jaccard of the post sets ≥ 0.7."""
    docs = {t.term: {i for i, g in enumerate(grams) if t.term in g} for t in found}
    groups: list[list[Any]] = []
    for t in found:
        for grp in groups:
            a, b = docs[t.term], docs[grp[0].term]
            if a and b and len(a & b) / len(a | b) >= 0.7:
                grp.append(t)
                break
        else:
            groups.append([t])
    heads, related = [], {}
    for grp in groups:
        head = max(grp, key=lambda t: (len(t.term), t.current, t.term))
        heads.append(head)
        related[head.term] = [t.term for t in grp if t is not head]
    return heads, related


def _phrase(term: str, index: Any) -> str:
    return '"' + " ".join(_split_term(term, getattr(index, "tokenizer", None))) + '"'


def _split_term(term: str, tokenizer: Callable[[str], Sequence[str]] | None) -> list[str]:
    """An n-gram back into its words (the index's own tokenizer) for a phrase search."""
    return [t for t in (tokenizer(term) if tokenizer else [term]) if t.strip()]


def _rating(rule: Rule, settings: Any, index: Any, now: datetime) -> list[Signal]:
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
        flt = _filters(product=(product,), app_version=(m.key,), rating=(1, 2), since=since)
        samples, sources = _samples(index, flt)
        d = m.detail
        out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                          title=(f"{names.get(product, product)} {m.key} 版本评分下降：差评占比 "
                                 f"{m.figures.current:.0%}（此前 {m.figures.expected:.0%}），均分 {d['mean']}（此前 {d['earlier_mean']}）"),
                          detail={"sources": sources, "samples": samples, **dict(d),
                                  "query": f"product:{product} rating:1,2 since:{_iso(since)}"}))
    return out


_RISK_LABELS = {"media_threat": "扬言曝光媒体", "regulator_threat": "扬言投诉监管", "legal_threat": "扬言起诉",
                "viral": "高传播"}


def _risk(rule: Rule, settings: Any, index: Any, now: datetime) -> list[Signal]:
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
                  "source": doc.get("source") or "", "created_at": doc.get("created_at") or "", "id": doc["id"]}
        out.append(Signal(rule=rule.name, kind=rule.kind, product=product, match=m,
                          title=f"{names.get(product, product)} 高风险反馈：{'、'.join(_RISK_LABELS.get(f, f) for f in flags)}",
                          detail={"sources": [[sample["source"], 1]], "samples": [sample], "risk": flags,
                                  "engagement": eng, "topics": list(doc.get("topics") or []),
                                  "query": f"product:{product} risk:{','.join(flags)} since:{_iso(since)}"}))
    return out


RUNNERS: dict[str, Callable[[Rule, Any, Any, datetime], list[Signal]]] = {
    "volume_spike": _volume, "emerging_terms": _terms, "rating_drop": _rating, "high_risk": _risk}


def collect_signals(rule: Rule, settings: Any, index: Any, *, now: datetime) -> list[Signal]:
    """Run one rule's detector against the index at ``now`` (no store, no side effects)."""
    return RUNNERS[rule.kind](rule, settings, index, now)


def _wants(sub: Any, rec: AlertRecord) -> bool:
    if sub.products and rec.product not in sub.products:
        return False
    if sub.topics:
        topics = set(rec.detail.get("topics", ()))
        if not topics & set(sub.topics):
            return False
    return SEVERITY_RANK.get(rec.severity, 0) >= SEVERITY_RANK[sub.min_severity]


def deliveries_for(settings: Any, tr: Transition) -> list[OutboxEntry]:
    """One outbox entry per subscriber (filtered by product, topic, severity) × channel."""
    note = from_record(tr.record, tr.event or "updated", base_url=settings.web.base_url).to_json()
    out: list[OutboxEntry] = []
    for sub in settings.alerts.subscribers:
        if _wants(sub, tr.record):
            out.extend(OutboxEntry(subscriber=sub.name, channel=ch, notification=note) for ch in sub.channels
                       if channel_ready(settings, ch))
    return out


def channel_ready(settings: Any, name: str) -> bool:
    """False for a URL channel whose ``url_env`` is unset: nothing is queued for it (``voc alerts
    channels`` lists it as not configured) rather than filling the outbox with certain failures."""
    ch = settings.alerts.channel(name)
    if ch is None:
        return False
    if not ch.needs_url:
        return True
    return bool(ch.url or settings.secrets.get(ch.url_env))


def evaluate(settings: Any, index: Any, *, now: datetime, store: AlertStore | None = None,
             rules: Iterable[str] | None = None) -> EvaluationReport:
    """Run every enabled rule (or the named ``rules``) at ``now``; see the package docstring.

    Each rule runs on its own: one that raises is recorded in ``report.errors`` (and logged with its
    traceback) and the rules after it still run; callers surface ``report.errors`` (``voc alerts
    evaluate`` prints them and exits 1)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    own = store is None
    st = store if store is not None else open_store(settings)
    report = EvaluationReport(now=now)
    wanted = set(rules) if rules is not None else None
    try:
        for rule in settings.alerts.rules:
            if (wanted is None and not rule.enabled) or (wanted is not None and rule.name not in wanted):
                continue
            t0 = time.perf_counter()
            try:
                _evaluate_rule(rule, settings, index, st, report, now=now)
            except Exception as exc:  # one rule's failure (a bug, hostile data, a failed query) never stops the others
                report.errors[rule.name] = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("alert rule %s failed; the other rules still run", rule.name)
            report.timings[rule.name] = time.perf_counter() - t0
    finally:
        if own:
            st.close()
    return report


def _evaluate_rule(rule: Rule, settings: Any, index: Any, st: AlertStore, report: EvaluationReport, *,
                   now: datetime) -> None:
    """One rule: its signals become matches in the store; its open alerts without a signal go quiet."""
    signals = collect_signals(rule, settings, index, now=now)
    report.signals[rule.name] = len(signals)
    policy = policy_for(rule)
    matched = set()
    if rule.kind == "emerging_terms":
        signals = _keep_term_keys(signals, st.list(state="open", rule=rule.name, limit=1000))
    for sig in signals:
        matched.add(sig.fingerprint)

        def compute(rec: AlertRecord | None, sig: Signal = sig) -> Transition:
            return on_match(rec, sig.match, rule=sig.rule, kind=sig.kind, product=sig.product, title=sig.title,
                            detail=sig.detail, now=now, policy=policy)

        tr = st.apply(sig.fingerprint, compute, lambda t: deliveries_for(settings, t), now=now)
        _count(report, tr, settings)
    for rec in st.list(state="open", rule=rule.name, limit=100_000):
        if rec.fingerprint in matched:
            continue

        def quiet(cur: AlertRecord | None) -> Transition | None:
            return on_quiet(cur, now=now, policy=policy) if cur is not None else None

        tr = st.apply(rec.fingerprint, quiet, lambda t: deliveries_for(settings, t), now=now)
        if tr is not None:
            _count(report, tr, settings)


def _terms_of(detail: Any) -> set[str]:
    terms = set(detail.get("terms", ()))
    for rel in dict(detail.get("related_terms", {})).values():
        terms.update(rel)
    return terms


def _keep_term_keys(signals: list[Signal], open_recs: list[AlertRecord]) -> list[Signal]:
    """An emerging-terms signal sharing a term with an open alert of the same product continues that
    alert (same fingerprint) even when another term now leads the group."""
    out = []
    for sig in signals:
        terms = _terms_of(sig.detail)
        prior = next((r for r in open_recs if r.product == sig.product and terms & _terms_of(r.detail)), None)
        if prior is not None and prior.key != sig.match.key:
            sig = dataclasses.replace(sig, match=dataclasses.replace(sig.match, key=prior.key))
        out.append(sig)
    return out


def _count(report: EvaluationReport, tr: Transition | None, settings: Any) -> None:
    if tr is None:
        return
    if tr.event in ("opened", "reopened"):
        report.raised.append(tr.record)
    elif tr.event == "updated":
        report.updated.append(tr.record)
    elif tr.event == "resolved":
        report.resolved.append(tr.record)
    else:
        report.unchanged += 1
    if tr.notify:
        report.queued += len(deliveries_for(settings, tr))
