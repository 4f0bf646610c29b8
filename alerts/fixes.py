"""Fix, then verify: an incident marked fixed (``voc alerts fix ID --version V [--date D]``) is checked
in the data once its observation window is over.

The incident's own signal — its ``query`` (topics, terms, sources, sentiment) without its time bounds and
without any version filter — is counted over ``fixes.observe`` before the fix and over the same length of
time after it. The fix starts at ``--date`` (a day starts at 00:00 Asia/Shanghai) or, without one, when it
was marked. A post carrying an app version (app stores) counts *after* only on versions ≥ the fix version
and *before* only on versions below it (``configs.versions.version_key``), so users still on the broken
version do not make a working fix look ineffective; other posts count by their date alone.

No verdict while the fix has too few users to judge it: the fixed version (a fix by date: the product) needs
``fixes.min_posts`` posts of any kind after the fix, else the check waits another ``observe`` (no message; the
incident shows what it waits for), so a fix nobody installed yet is never "verified" by its silence.

Verdict: ``fix_verified`` when the rate after is at most ``fixes.max_ratio`` × the rate before, else
``fix_ineffective``; both with the numbers in words ("登录相关负面反馈：3.2.1 上 2 条/天，3.2.0 上 41 条/天")
and one message to each subscriber (the outbox). A verified incident whose signal comes back reopens.

States: ``open`` ─fix─► ``fixed`` (no message; while fixed, the old signal fading out neither updates nor
resolves it) ─window over─► ``fix_verified`` | ``fix_ineffective``. ``fix_ineffective`` stays until its
signal fades (then ``resolved``) or a new fix is marked; ``fix_verified`` reopens when the signal returns.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from alerts._errors import AlertNotFoundError, AlertsError
from alerts.lifecycle import AlertRecord, Transition
from alerts.message import one_line
from configs.times import format_utc, parse_utc
from configs.versions import version_key

if TYPE_CHECKING:
    from configs import Settings
    from index import FeedbackIndex

    from alerts.store import AlertStore

__all__ = ["FIX_STATES", "FixRates", "mark_fixed", "fix_rates", "verdict_transition", "verify_fixes", "fix_view",
           "parse_fix_date"]

#: States of an incident after someone marked it fixed.
FIX_STATES = ("fixed", "fix_verified", "fix_ineffective")
_MAX_VERSION = 64
_LOCAL = ZoneInfo("Asia/Shanghai")


def parse_fix_date(text: str) -> datetime:
    """``2026-11-25`` (00:00 Asia/Shanghai) or an ISO time; AlertsError naming the value otherwise."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            d = datetime.strptime(raw, "%Y-%m-%d")
            return d.replace(tzinfo=_LOCAL).astimezone(timezone.utc)
        return parse_utc(raw)
    except ValueError:
        raise AlertsError(f"bad fix date {text[:40]!r}: expected YYYY-MM-DD or an ISO time") from None


def mark_fixed(settings: Settings, fingerprint: str, *, version: str = "", date: datetime | None = None,
               note: str = "", ticket: str = "", by: str = "", now: datetime,
               store: AlertStore | None = None) -> AlertRecord:
    """Mark an incident fixed in ``version`` (app stores) and/or on ``date``; verified later by evaluation."""
    from alerts.store import open_store

    version = version.strip()
    if not version and date is None:
        raise AlertsError("a fix needs --version (app stores) or --date (other sources), or both")
    if len(version) > _MAX_VERSION or any(not c.isprintable() for c in version):
        raise AlertsError(f"bad fix version {version[:_MAX_VERSION]!r}: at most {_MAX_VERSION} printable characters")
    if ticket and not ticket.startswith(("https://", "http://")):
        raise AlertsError(f"bad ticket URL {ticket[:80]!r}: expected http(s)://…")
    st = store if store is not None else open_store(settings)
    try:
        rec = st.get(fingerprint)
        if rec is None:
            raise AlertNotFoundError(fingerprint)
        start = date if date is not None else now
        fix = {"version": version, "date": format_utc(start), "marked_at": format_utc(now), "note": note[:500],
               "ticket": ticket, "by": by[:100], "verdict": "pending", "before_rate": None, "after_rate": None,
               "due_at": format_utc(start + settings.alerts.fixes.observe)}

        def compute(r: AlertRecord | None) -> Transition | None:
            if r is None:
                return None
            detail = {**dict(r.detail), "fix": fix}
            new = dataclasses.replace(r, state="fixed", version=r.version + 1, updated_at=now, detail=detail,
                                      resolved_at=None)
            return Transition(new, "fixed", False)

        tr = st.apply(rec.fingerprint, compute, lambda t: [], now=now)
        assert tr is not None
        return tr.record
    finally:
        if store is None:
            st.close()


@dataclass(frozen=True)
class FixRates:
    """Posts of the incident's signal before and after the fix: with an app version (``ver_*``) and without."""

    ver_before: int
    ver_after: int
    other_before: int
    other_after: int
    days: float
    before_versions: tuple[str, ...]
    after_versions: tuple[str, ...]
    #: Posts of any kind after the fix on the fixed version (a fix by date: the product's), the signal's or not.
    adopters: int = 0

    @property
    def before(self) -> int:
        return self.ver_before + self.other_before

    @property
    def after(self) -> int:
        return self.ver_after + self.other_after

    def rate(self, n: int) -> float:
        return round(n / self.days, 1)

    @property
    def before_rate(self) -> float:
        return self.rate(self.before)

    @property
    def after_rate(self) -> float:
        return self.rate(self.after)


def fix_rates(index: FeedbackIndex, rec: AlertRecord, fix: Mapping[str, Any]) -> FixRates:
    """Count the incident's posts before and after the fix (see the module docstring)."""
    from index.base import Filters, SearchQuery
    from index.query import parse_query

    start = parse_utc(str(fix["date"]))
    due = parse_utc(str(fix["due_at"]))
    window = due - start
    q = parse_query(str(rec.detail.get("query") or f"product:{rec.product}"), now=start, tz="UTC")
    fixed_in = version_key(fix.get("version") or "")
    flt = dataclasses.replace(q.filters, app_version=(), since=start - window, until=due)
    n = Counter[str]()
    bv: Counter[str] = Counter()
    av: Counter[str] = Counter()
    limit, offset = 1000, 0
    while True:
        res = index.search(SearchQuery(text=q.text, filters=flt, limit=limit, offset=offset, sort="time"))
        for h in res.hits:
            try:
                at = parse_utc(str(h.doc.get("created_at")))
            except ValueError:
                continue
            ver = h.doc.get("app_version")
            is_after = at >= start
            if ver and fix.get("version"):
                newer = version_key(ver) >= fixed_in
                if is_after and newer:
                    n["ver_after"] += 1
                    av[one_line(str(ver), 32)] += 1
                elif not is_after and not newer:
                    n["ver_before"] += 1
                    bv[one_line(str(ver), 32)] += 1
            else:
                n["other_after" if is_after else "other_before"] += 1
        offset += limit
        if len(res.hits) < limit or offset >= res.total:
            break
    everything = Filters(product=q.filters.product, since=start, until=due)
    res = index.search(SearchQuery(filters=everything, limit=0, facets=("app_version",)))
    if fix.get("version"):
        adopters = sum(c for v, c in res.facets.get("app_version", ()) if version_key(v) >= fixed_in)
    else:
        adopters = res.total
    return FixRates(ver_before=n["ver_before"], ver_after=n["ver_after"], other_before=n["other_before"],
                    other_after=n["other_after"], days=max(window / timedelta(days=1), 1 / 24),
                    before_versions=tuple(v for v, _ in bv.most_common(3)),
                    after_versions=tuple(v for v, _ in av.most_common(3)), adopters=adopters)


def _subject(rec: AlertRecord) -> str:
    names = [str(n) for n in rec.detail.get("topic_names") or ()]
    terms = [str(t) for t in rec.detail.get("terms") or ()]
    return f"{(names or terms or [rec.product])[0]}相关负面反馈"


def _describe(rec: AlertRecord, fix: Mapping[str, Any], r: FixRates) -> str:
    """"登录相关负面反馈：3.2.1 上 2 条/天，3.2.0 上 41 条/天" (app versions), then the other sources by date
    ("其他渠道修复后 1 条/天，修复前 9 条/天")."""
    ver = str(fix.get("version") or "")
    parts = []
    if ver and (r.ver_before or r.ver_after):
        before = "、".join(r.before_versions) or "更早版本"
        parts.append(f"{ver} 上 {r.rate(r.ver_after):g} 条/天，{before} 上 {r.rate(r.ver_before):g} 条/天")
    if r.other_before or r.other_after or not parts:
        label = "其他渠道" if parts else ""
        parts.append(f"{label}修复后 {r.rate(r.other_after):g} 条/天，修复前 {r.rate(r.other_before):g} 条/天")
    return f"{_subject(rec)}：" + "；".join(parts)


def verdict_transition(settings: Settings, rec: AlertRecord, rates: FixRates, *, now: datetime) -> Transition:
    fix = dict(rec.detail.get("fix") or {})
    ok = rates.after_rate <= settings.alerts.fixes.max_ratio * rates.before_rate
    verdict = "verified" if ok else "ineffective"
    fix.pop("waiting", None)
    fix.update(verdict=verdict, before_rate=rates.before_rate, after_rate=rates.after_rate, before=rates.before,
               after=rates.after, days=round(rates.days, 3), checked_at=format_utc(now), adopters=rates.adopters,
               text=_describe(rec, fix, rates))
    state = f"fix_{verdict}"
    new = dataclasses.replace(rec, state=state, version=rec.version + 1, updated_at=now, last_notified_at=now,
                              notify_count=rec.notify_count + 1, detail={**dict(rec.detail), "fix": fix},
                              resolved_at=now if ok else None)
    return Transition(new, state, True)


def _wait(settings: Settings, rec: AlertRecord | None, *, rates: FixRates, now: datetime) -> Transition | None:
    """Too few posts after the fix to judge it: check again one ``observe`` later (no message)."""
    if rec is None or rec.state != "fixed":
        return None
    fix = dict(rec.detail.get("fix") or {})
    due = parse_utc(str(fix["due_at"])) + settings.alerts.fixes.observe
    who = f"{fix['version']} " if fix.get("version") else ""
    fix.update(due_at=format_utc(due), adopters=rates.adopters,
               waiting=f"修复后{who}仅 {rates.adopters} 条反馈（需 {settings.alerts.fixes.min_posts} 条），延后判定")
    new = dataclasses.replace(rec, version=rec.version + 1, updated_at=now, detail={**dict(rec.detail), "fix": fix})
    return Transition(new, None, False)


def verify_fixes(settings: Settings, index: FeedbackIndex, st: AlertStore, *, now: datetime,
                 deliveries: Any) -> list[Transition]:
    """Give a verdict on every fixed incident whose observation window is over."""
    out = []
    for rec in st.list(state="fixed", limit=100_000):
        fix = rec.detail.get("fix") or {}
        if not fix.get("due_at") or now < parse_utc(str(fix["due_at"])):
            continue
        rates = fix_rates(index, rec, fix)
        if rates.adopters < settings.alerts.fixes.min_posts:
            st.apply(rec.fingerprint, functools.partial(_wait, settings, rates=rates, now=now), lambda t: [], now=now)
            continue

        def compute(r: AlertRecord | None, rates: FixRates = rates) -> Transition | None:
            if r is None or r.state != "fixed":
                return None
            return verdict_transition(settings, r, rates, now=now)

        tr = st.apply(rec.fingerprint, compute, deliveries, now=now)
        if tr is not None:
            out.append(tr)
    return out


def came_back(index: FeedbackIndex, rec: AlertRecord, members: Any) -> bool:
    """Whether a verified incident's signal is back: its new signal holds posts written after the verdict
    that the fix should have stopped (on a version ≥ the fix version, or without a version). The old
    version's posts still inside a long window (a 30-day rating drop) do not reopen it."""
    fix = rec.detail.get("fix") or {}
    try:  # posts up to the verdict were counted in it (and were few enough): back means newer than that
        start = parse_utc(str(fix.get("checked_at") or fix.get("date")))
    except ValueError:
        return True
    fixed_in = version_key(fix.get("version") or "")
    ids = sorted({p for m in members for p in m.posts})[:500]
    for pid in ids:
        doc = index.get(pid)
        if doc is None:
            continue
        try:
            at = parse_utc(str(doc.get("created_at")))
        except ValueError:
            continue
        ver = doc.get("app_version")
        if at >= start and (not ver or not fix.get("version") or version_key(ver) >= fixed_in):
            return True
    return False


def fix_view(rec: AlertRecord) -> dict[str, Any] | None:
    """The ``fix`` object of ``voc alerts show --json``: version, date, before/after rates, verdict …"""
    fix = rec.detail.get("fix")
    if not isinstance(fix, Mapping):
        return None
    keys = ("version", "date", "before_rate", "after_rate", "verdict", "text", "note", "ticket", "marked_at",
            "due_at", "checked_at", "before", "after", "adopters", "waiting")
    return {k: fix.get(k) for k in keys}
