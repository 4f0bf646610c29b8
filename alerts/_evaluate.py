"""``evaluate``: run each enabled rule's detector (:mod:`alerts._signals`), join the signals that describe
one problem into an incident (:mod:`alerts.incidents`), apply each incident's lifecycle in the store and
queue one outbox row per (incident state change × subscriber × channel). Each rule runs on its own: one
that raises is recorded in the report and the others still run.

Detector state is derived from the stored feedback on every run (the baseline is re-read from the index
history), so a restart loses nothing; the lifecycle state lives in the store, so a restart does not
re-raise open alerts.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts._signals import Signal, collect_signals
from alerts.detect import Match
from alerts.escalation import escalate_due, escalation_level
from alerts.fixes import came_back, verify_fixes
from alerts.incidents import (Member, attach, continues, group, incident_id, member_from_signal, risk_only,
                              summarize)
from alerts.lifecycle import SEVERITY_RANK, AlertRecord, Policy, Transition, on_match, on_quiet
from alerts.message import from_record
from alerts.replies import draft_replies
from alerts.store import AlertStore, OutboxEntry, SqliteAlertStore, open_store
from configs.times import format_utc as _iso

if TYPE_CHECKING:
    from configs import Settings
    from index import FeedbackIndex

__all__ = ["EvaluationReport", "Signal", "evaluate", "collect_signals", "policy_for_members", "deliveries_for", "channel_ready"]

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
    #: Incidents the signals of this run formed (each open, updated or unchanged).
    incidents: int = 0
    #: Fixed incidents that got their verdict in this run (``fix_verified`` / ``fix_ineffective``).
    verdicts: list[AlertRecord] = field(default_factory=list)
    #: Reply drafts added for the App Store reviews of incidents verified in this run (``voc replies``).
    drafted: int = 0
    #: Incidents nobody acknowledged in time, escalated in this run (``escalation.ack_within``).
    escalated: list[AlertRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = (f"{len(self.raised)} raised, {len(self.updated)} updated, {len(self.resolved)} resolved, "
                f"{self.unchanged} unchanged; {self.queued} deliveries queued")
        if self.errors:
            text += f"; {len(self.errors)} rule(s) failed: {', '.join(self.errors)}"
        return text


def _wants(sub: Any, rec: AlertRecord) -> bool:
    if sub.products and rec.product not in sub.products:
        return False
    if sub.topics:
        topics = set(rec.detail.get("topics", ()))
        if not topics & set(sub.topics):
            return False
    return SEVERITY_RANK.get(rec.severity, 0) >= SEVERITY_RANK[sub.min_severity]


def deliveries_for(settings: Settings, tr: Transition) -> list[OutboxEntry]:
    """One outbox entry per subscriber (filtered by product, topic, severity; none for ``mode: digest``)
    × channel. In a subscriber's quiet hours the entry waits until they end (``not_before``) and is marked
    ``held_until``: delivery then sends everything held for that subscriber × channel as one message."""
    note = from_record(tr.record, tr.event or "updated", base_url=settings.web.base_url).to_json()
    now = tr.record.updated_at
    out: list[OutboxEntry] = []
    level = escalation_level(tr.record)
    for sub in settings.alerts.subscribers:
        if sub.mode == "digest" or not _wants(sub, tr.record):
            continue
        if sub.level > level or (tr.event == "escalated" and sub.level != level):
            continue  # the escalation group hears of an incident once it escalated; the escalation only they
        until = sub.quiet_until(now)
        mine = note if until is None else {**note, "extra": {**note["extra"], "held_until": _iso(until)}}
        out.extend(OutboxEntry(subscriber=sub.name, channel=ch, notification=mine, not_before=until)
                   for ch in sub.channels if channel_ready(settings, ch))
    return out


def channel_ready(settings: Settings, name: str) -> bool:
    """False for a URL channel whose ``url_env`` is unset: nothing is queued for it (``voc alerts
    channels`` lists it as not configured) rather than filling the outbox with certain failures."""
    ch = settings.alerts.channel(name)
    if ch is None:
        return False
    if not ch.needs_url:
        return True
    return bool(ch.url or settings.secrets.get(ch.url_env))


def evaluate(settings: Settings, index: FeedbackIndex, *, now: datetime, store: AlertStore | None = None,
             rules: Iterable[str] | None = None) -> EvaluationReport:
    """Run every enabled rule (or the named ``rules``) at ``now``, join their signals into incidents
    (:mod:`alerts.incidents`) and apply each incident's lifecycle; see the module docstring.

    Each rule runs on its own: one that raises is recorded in ``report.errors`` (and logged with its
    traceback) and the rules after it still run; an open incident holding a signal of a rule that failed
    (or was not run) is left as it is, never resolved for lack of that signal. Callers surface
    ``report.errors`` (``voc alerts evaluate`` prints them and exits 1)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    own = store is None
    st = store if store is not None else open_store(settings)
    report = EvaluationReport(now=now)
    wanted = set(rules) if rules is not None else None
    signals: list[Signal] = []
    ran: set[str] = set()
    try:
        for rule in settings.alerts.rules:
            if (wanted is None and not rule.enabled) or (wanted is not None and rule.name not in wanted):
                continue
            t0 = time.perf_counter()
            try:
                found = collect_signals(rule, settings, index, now=now)
            except Exception as exc:  # one rule's failure (a bug, hostile data, a failed query) never stops the others
                report.errors[rule.name] = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("alert rule %s failed; the other rules still run", rule.name)
            else:
                ran.add(rule.name)
                report.signals[rule.name] = len(found)
                signals.extend(found)
            report.timings[rule.name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _apply_incidents(settings, index, st, signals, report, now=now, ran=ran)
        report.timings["(incidents)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            for tr in verify_fixes(settings, index, st, now=now, deliveries=lambda t: deliveries_for(settings, t)):
                report.verdicts.append(tr.record)
                _count(report, tr, settings)
                if tr.record.state == "fix_verified" and isinstance(st, SqliteAlertStore):
                    report.drafted += draft_replies(settings, index, st, tr.record, now=now)
        except Exception as exc:  # noqa: BLE001 - recorded; detection and delivery still went on
            report.errors["(fixes)"] = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("verifying fixes failed")
        report.timings["(fixes)"] = time.perf_counter() - t0
        try:
            for tr in escalate_due(settings, st, now=now, deliveries=lambda t: deliveries_for(settings, t)):
                report.escalated.append(tr.record)
                _count(report, tr, settings)
        except Exception as exc:  # noqa: BLE001 - recorded; the rest of the run stands
            report.errors["(escalation)"] = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("escalating incidents failed")
    finally:
        if own:
            st.close()
    return report


def policy_for_members(settings: Settings, members: Sequence[Member]) -> Policy:
    """An incident's lifecycle keys: its leading rule's, resolving only when every member rule would;
    an incident of single risky posts resolves quietly (a post does not "recover")."""
    rules = [r for r in (settings.alerts.rule(m.rule) for m in members) if r is not None]
    if not rules:
        return Policy()
    lead = rules[0]
    return Policy(resolve_after=max(r.resolve_after for r in rules), realert=lead.realert,
                  realert_max=lead.realert_max, update_growth=lead.update_growth,
                  notify_resolve=any(m.kind != "high_risk" for m in members))


def _trend(index: FeedbackIndex, query: str, *, now: datetime, hours: int = 48) -> list[list[Any]]:
    """Hourly counts of the incident's posts (its query without its time bounds) over the last ``hours``."""
    import dataclasses as dc

    from index.query import parse_query

    if not query:
        return []
    q = parse_query(query, now=now, tz="UTC")
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    flt = dc.replace(q.filters, since=None, until=None)
    return [[_iso(b.start), b.count] for b in index.histogram(flt, interval="hour", tz="UTC", start=start, end=end,
                                                               text=q.text)]


def _apply_incidents(settings: Settings, index: FeedbackIndex, st: AlertStore, signals: list[Signal], report: EvaluationReport, *,
                     now: datetime, ran: set[str]) -> None:
    """Signals → incidents → lifecycle transitions; open incidents without a signal go quiet."""
    open_recs = [r for state in ("open", "fix_ineffective", "fixed") for r in st.list(state=state, limit=100_000)
                 if r.kind == "incident"]
    # risky posts already attached to an incident about something else (open or resolved): nothing new
    attached = {str(m.get("fingerprint")) for r in st.list(limit=5_000) if r.kind == "incident"
                and not risk_only_record(r) for m in r.detail.get("members", ()) if m.get("kind") == "high_risk"}
    groups = group(member_from_signal(s) for s in signals)
    report.incidents = len(groups)
    names = {p.id: p.name for p in settings.sources.products}
    topics = {t.id: t.name for t in settings.topics.topics}
    matched: set[str] = set()
    for members in groups:
        if risk_only(members) and all(m.fingerprint in attached for m in members):
            continue
        prior = continues(members, open_recs, taken=matched)
        fp = prior.fingerprint if prior is not None else incident_id(members)
        matched.add(fp)
        try:
            if prior is not None and risk_only(members) and prior.detail.get("members") \
                    and not risk_only_record(prior):
                _attach_risk(settings, st, members, prior, report, now=now)
            else:
                _apply_group(settings, index, st, members, fp, report, now=now, names=names, topics=topics)
        except Exception as exc:  # one incident's failure (a bug, a value nobody foresaw) never stops the others
            report.errors[f"incident {fp}"] = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("incident %s failed; the other incidents still go on", fp)
    for rec in open_recs:
        if rec.fingerprint in matched:
            continue
        if not set(rec.detail.get("rules", ())) <= ran:
            continue  # a member rule failed or was not run: its signal may still be there
        policy = policy_for_members(settings, [_member_stub(m, rec.product) for m in rec.detail.get("members", ())])

        if rec.state == "fixed":
            continue  # its verdict comes from the data after the fix, not from the signal fading

        def quiet(cur: AlertRecord | None, policy: Policy = policy) -> Transition | None:
            if cur is not None and cur.state == "fix_ineffective":  # an ineffective fix resolves as open ones do
                cur = dataclasses.replace(cur, state="open")
            return on_quiet(cur, now=now, policy=policy) if cur is not None else None

        try:
            tr = st.apply(rec.fingerprint, quiet, lambda t: deliveries_for(settings, t), now=now)
        except Exception as exc:  # noqa: BLE001 - recorded; the other incidents go on
            report.errors[f"incident {rec.fingerprint}"] = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("incident %s failed to resolve; the others go on", rec.fingerprint)
            continue
        if tr is not None:
            _count(report, tr, settings)


def risk_only_record(rec: AlertRecord) -> bool:
    return set(rec.detail.get("kinds", ())) <= {"high_risk"}


def _attach_risk(settings: Settings, st: AlertStore, members: list[Member], prior: AlertRecord, report: EvaluationReport,
                 *, now: datetime) -> None:
    """Risky posts about an open incident whose own signals are quiet now: attached to it (its figures,
    title and query stay); the severity rises to the risk rule's (one "updated" message)."""
    severity = max([prior.severity, *(m.severity for m in members)], key=lambda s: SEVERITY_RANK.get(s, 0))

    def compute(rec: AlertRecord | None) -> Transition | None:
        if rec is None or rec.state != "open":
            return None
        detail = attach(rec.detail, members)
        match = Match(key=rec.key, at=now, severity=severity, figures=rec.figures)
        policy = policy_for_members(settings, [_member_stub(m, rec.product) for m in detail.get("members", ())])
        tr = on_match(dataclasses.replace(rec, last_match_at=rec.last_match_at), match, rule=rec.rule,
                      kind="incident", product=rec.product, title=rec.title, detail=detail, now=now, policy=policy)
        # the incident's own signals are quiet: attaching a post must not keep it open forever
        record = dataclasses.replace(tr.record, fingerprint=rec.fingerprint, last_match_at=rec.last_match_at)
        return dataclasses.replace(tr, record=record)

    _count(report, st.apply(prior.fingerprint, compute, lambda t: deliveries_for(settings, t), now=now), settings)


def _apply_group(settings: Settings, index: FeedbackIndex, st: AlertStore, members: list[Member], fp: str,
                 report: EvaluationReport, *, now: datetime, names: dict[str, str], topics: dict[str, str]) -> None:
    """One group of signals: the incident ``fp`` opens, updates or stays as it is."""
    lead = members[0]
    detail = summarize(members, product_name=names.get(lead.product, lead.product), topic_names=topics)
    try:  # a single risky post has no trend worth drawing
        detail["trend"] = _trend(index, detail["query"], now=now) if lead.kind != "high_risk" else []
    except Exception as exc:  # noqa: BLE001 - a trend is decoration; the incident still opens
        log.warning("incident %s: no trend (%s)", fp, exc)
        detail["trend"] = []
    title = detail.pop("title")
    severity = max((m.severity for m in members), key=lambda s: SEVERITY_RANK.get(s, 0))
    match = Match(key=lead.key, at=now, severity=severity, figures=lead.figures)
    policy = policy_for_members(settings, members)

    def compute(rec: AlertRecord | None) -> Transition | None:
        if rec is not None and rec.state in ("fixed", "fix_ineffective"):
            # the old signal fading out after a fix: figures refreshed, no message, the fix kept
            return Transition(dataclasses.replace(rec, figures=match.figures, last_match_at=now,
                                                  detail={**detail, "fix": rec.detail.get("fix"),
                                                          "tickets": rec.detail.get("tickets") or []}), None, False)
        if rec is not None and rec.state == "fix_verified":
            if not came_back(index, rec, members):
                return None
            rec = dataclasses.replace(rec, state="resolved", resolved_at=rec.resolved_at or now)
            detail["fix"] = {**dict(rec.detail.get("fix") or {}), "reopened_at": _iso(now)}
        for key in ("fix", "tickets"):  # what people recorded on the incident stays with it
            if rec is not None and rec.detail.get(key) and key not in detail:
                detail[key] = rec.detail[key]
        if rec is not None and rec.state == "open" and rec.detail.get("escalation"):
            detail["escalation"] = rec.detail["escalation"]  # a reopened incident starts a new episode
        if rec is not None and rec.figures.unit != match.figures.unit:
            rec = dataclasses.replace(rec, peak=match.figures.current)  # another lead: growth restarts from here
        tr = on_match(rec, match, rule=lead.rule, kind="incident", product=lead.product, title=title,
                      detail=detail, now=now, policy=policy)
        record = dataclasses.replace(tr.record, fingerprint=fp)
        if rec is not None and tr.event is None:  # the title subscribers saw stays until the next message
            record = dataclasses.replace(record, title=rec.title)
        return dataclasses.replace(tr, record=record)

    tr = st.apply(fp, compute, lambda t: deliveries_for(settings, t), now=now)
    _count(report, tr, settings)


def _member_stub(m: Any, product: str) -> Member:
    """A stored member (``detail.members[i]``), enough for its rule's lifecycle keys."""
    from alerts.detect import Figures as F

    fig = F.from_dict(m["figures"]) if isinstance(m.get("figures"), dict) else None
    return Member(fingerprint=str(m.get("fingerprint", "")), rule=str(m.get("rule", "")), kind=str(m.get("kind", "")),
                  product=product, key=str(m.get("key", "")), severity=str(m.get("severity", "info")),
                  title=str(m.get("title", "")), figures=fig, posts=frozenset())  # type: ignore[arg-type]


def _count(report: EvaluationReport, tr: Transition | None, settings: Settings) -> None:
    if tr is None:
        return
    if tr.event in ("opened", "reopened"):
        report.raised.append(tr.record)
    elif tr.event == "updated":
        report.updated.append(tr.record)
    elif tr.event == "resolved":
        report.resolved.append(tr.record)
    elif tr.event in ("fix_verified", "fix_ineffective", "escalated"):
        pass  # listed in report.verdicts
    else:
        report.unchanged += 1
    if tr.notify:
        report.queued += len(deliveries_for(settings, tr))
