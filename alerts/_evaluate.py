"""``evaluate``: run each enabled rule's detector (:mod:`alerts._signals`), apply the lifecycle in the store
and queue one outbox row per (state change × subscriber × channel). Each rule runs on its own: one that
raises is recorded in the report and the others still run.

Detector state is derived from the stored feedback on every run (the baseline is re-read from the index
history), so a restart loses nothing; the lifecycle state lives in the store, so a restart does not
re-raise open alerts.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts._signals import Signal, collect_signals
from alerts.lifecycle import SEVERITY_RANK, AlertRecord, Policy, Transition, on_match, on_quiet
from alerts.message import from_record
from alerts.store import AlertStore, OutboxEntry, open_store
from configs.alerts import Rule

__all__ = ["EvaluationReport", "Signal", "evaluate", "collect_signals", "policy_for", "deliveries_for", "channel_ready"]

log = logging.getLogger("voc.alerts")


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
