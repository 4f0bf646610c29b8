"""Operator actions (acknowledge, resolve) and the rule backtest behind ``voc alerts …``."""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from alerts._errors import AlertNotFoundError, AlertsError
from alerts._evaluate import collect_signals, deliveries_for
from alerts.detect import Match, SpikeDetector
from alerts.method import poisson_like
from alerts.novelty import detector_for
from alerts.lifecycle import AlertRecord, Transition, acknowledge, resolve_manually
from alerts.store import AlertStore, open_store
from configs.alerts import Rule
from configs.times import parse_utc

if TYPE_CHECKING:
    from configs import Settings
    from index import FeedbackIndex

__all__ = ["ack", "resolve", "backtest", "backtest_index", "read_series_csv", "AlertsError", "AlertNotFoundError"]


def _with_store(settings: Settings, store: AlertStore | None) -> tuple[AlertStore, bool]:
    return (store, False) if store is not None else (open_store(settings), True)


def ack(settings: Settings, fingerprint: str, *, by: str, now: datetime, store: AlertStore | None = None) -> AlertRecord:
    """Acknowledge an alert: its updates stop notifying until it resolves."""
    st, own = _with_store(settings, store)
    try:
        rec = st.get(fingerprint)
        if rec is None:
            raise AlertNotFoundError(fingerprint)
        tr = st.apply(rec.fingerprint, lambda r: acknowledge(r, by=by, now=now) if r else None,
                      lambda t: deliveries_for(settings, t), now=now)
        assert tr is not None
        return tr.record
    finally:
        if own:
            st.close()


def resolve(settings: Settings, fingerprint: str, *, now: datetime, store: AlertStore | None = None) -> AlertRecord:
    """Resolve an alert by hand; subscribers are told once (a no-op if already resolved)."""
    st, own = _with_store(settings, store)
    try:
        rec = st.get(fingerprint)
        if rec is None:
            raise AlertNotFoundError(fingerprint)

        def compute(r: AlertRecord | None) -> Transition | None:
            return resolve_manually(r, now=now) if r else None

        tr = st.apply(rec.fingerprint, compute, lambda t: deliveries_for(settings, t), now=now)
        return tr.record if tr else rec
    finally:
        if own:
            st.close()


def read_series_csv(text: str) -> list[tuple[datetime, float]]:
    """``timestamp,value`` rows (header optional; ISO timestamps, naive = UTC) → sorted series."""
    out = []
    for i, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if len(row) < 2:
            raise AlertsError(f"line {i}: expected timestamp,value, got {','.join(row)!r}")
        ts, value = row[0].strip(), row[1].strip()
        try:
            t = parse_utc(ts)
        except ValueError:
            if i == 1:
                continue  # header
            raise AlertsError(f"line {i}: bad timestamp {ts!r} (ISO 8601 expected)") from None
        try:
            v = float(value)
        except ValueError:
            raise AlertsError(f"line {i}: bad value {value!r}") from None
        out.append((t, v))
    return sorted(out)


def backtest(rule: Rule, series: Sequence[tuple[datetime, float]], *, start: datetime | None = None,
             end: datetime | None = None) -> list[tuple[Match, bool]]:
    """Replay a series through the rule's volume detector. ``method: novelty`` reads the series' samples
    as they are (one evaluation per row); ``method: ratio`` sums them per ``interval`` bucket and evaluates
    at every bucket end; ``method: auto`` runs both as a stream would and keeps, at each evaluation, the
    match of the method :func:`alerts.method.poisson_like` chooses from the baseline then (the
    ``baseline_samples`` samples before the last ``window`` of them): ratio on Poisson-like counts,
    novelty otherwise and from the first value that is not a count on.

    Returns ``(match, new)`` per firing; ``new`` marks the first firing of an episode (what would alert).
    """
    if rule.kind != "volume_spike":
        raise AlertsError(f"rule {rule.name!r} is {rule.kind}; a count series can only replay volume_spike rules "
                          f"(use --from/--to to replay it against the index)")
    if not series:
        return []
    if rule.method == "novelty":
        found = _novelty_replay(rule, series)
    elif rule.method == "ratio":
        found = _ratio_replay(rule, series)
    else:
        ratio_at = _auto_chooser(rule, series)
        found = sorted([(m, new) for m, new in _ratio_replay(rule, series) if ratio_at(m.at)]
                       + [(m, new) for m, new in _novelty_replay(rule, series) if not ratio_at(m.at)],
                       key=lambda mn: mn[0].at)
    return [(m, new) for m, new in found if (start is None or m.at >= start) and (end is None or m.at <= end)]


def _auto_chooser(rule: Rule, series: Sequence[tuple[datetime, float]]) -> Callable[[datetime], bool]:
    """``at -> True`` where ``method: auto`` evaluates with the ratio detector at ``at`` (the samples
    before ``at``, as a stream would have them)."""
    times = [t for t, _ in series]
    values = [float(v) for _, v in series]
    first_measure = next((i for i, v in enumerate(values) if v < 0 or not v.is_integer()), len(values))
    k, base = rule.window_samples, rule.baseline_samples
    memo: dict[int, bool] = {}

    def ratio_at(at: datetime) -> bool:
        j = bisect.bisect_left(times, at)  # the samples before ``at``
        if j > first_measure:
            return False
        if j not in memo:
            stop = max(0, j - k)
            memo[j] = poisson_like(values[max(0, stop - base):stop] or values[:j])
        return memo[j]

    return ratio_at


def _novelty_replay(rule: Rule, series: Sequence[tuple[datetime, float]]) -> list[tuple[Match, bool]]:
    nov = detector_for(rule)
    out = []
    for t, v in series:
        onset = nov.observe(t, v) is not None  # an episode's first novel sample: what alerts
        m = nov.advance(t)
        if m is not None:
            out.append((m, onset))
    return out


def _ratio_replay(rule: Rule, series: Sequence[tuple[datetime, float]]) -> list[tuple[Match, bool]]:
    step = timedelta(hours=1) if rule.interval == "hour" else timedelta(days=1)
    det = SpikeDetector(bucket=step, window=rule.window, history=rule.history,
                        warmup=rule.warmup, min_count=rule.min_count, ratio=rule.ratio,
                        threshold=rule.threshold, origin=series[0][0])
    s = int(step.total_seconds())
    buckets: dict[int, float] = {}
    for t, v in series:
        i = int(t.timestamp()) // s
        buckets[i] = buckets.get(i, 0) + v
    lo, hi = min(buckets), max(buckets)
    out = []
    firing = False
    for i in range(lo, hi + 1):
        t = datetime.fromtimestamp(i * s, timezone.utc)
        if i in buckets:
            det.observe(t, buckets[i])
        at = t + step
        m = det.advance(at)
        if m is not None:
            out.append((m, not firing))
        firing = m is not None
    return out


def backtest_index(rule: Rule, settings: Settings, index: FeedbackIndex, *, start: datetime, end: datetime,
                   step: timedelta = timedelta(hours=1),
                   progress: Callable[[int, int | None], None] | None = None) -> list[tuple[Any, bool]]:
    """Replay any rule against the stored feedback: run its detector at every ``step`` in [start, end];
    ``progress(evaluations done, total)`` after each."""
    out = []
    firing: set[tuple[str, str]] = set()
    t = start
    total, done = int((end - start) / step) + 1 if end >= start else 0, 0
    while t <= end:
        now_firing = set()
        for sig in collect_signals(rule, settings, index, now=t):
            k = (sig.product, sig.match.key)
            now_firing.add(k)
            out.append((sig, k not in firing))
        firing = now_firing
        t += step
        done += 1
        if progress is not None:
            progress(done, total)
    return out


_ = Iterable
