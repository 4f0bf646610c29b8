"""``voc digest``: a day's or week's summary — top issues, change against the previous period, new
topics, sentiment mix and the alerts raised — rendered as Markdown, HTML and plain text, and queued to
every subscriber with ``digest: true`` through the same outbox as alerts (so it is queued once; delivery is at
least once, like every alert).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from alerts.message import Notification, md_escape, search_url
from alerts.store import AlertStore, OutboxEntry, open_store
from configs.times import format_utc

if TYPE_CHECKING:
    from configs import Settings
    from index import FeedbackIndex

__all__ = ["Digest", "build_digest", "render_digest", "send_digest", "PERIODS"]

PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7)}


@dataclass(frozen=True)
class Digest:
    period: str
    start: datetime
    end: datetime
    total: int
    previous_total: int
    sentiment: dict[str, int]
    previous_sentiment: dict[str, int]
    #: (topic id, name, negative count now, negative count in the previous period)
    top_issues: list[tuple[str, str, int, int]]
    #: (topic id, name) of topics with negative feedback now and none in the previous period
    new_topics: list[tuple[str, str]]
    alerts: list[tuple[str, str, str]] = field(default_factory=list)  # (severity, title, state)
    base_url: str = ""

    @property
    def title(self) -> str:
        label = "日报" if self.period == "day" else "周报"
        return f"用户反馈{label} {self.start:%Y-%m-%d} – {(self.end - timedelta(seconds=1)):%Y-%m-%d}"


def _facets(index: FeedbackIndex, since: datetime, until: datetime, **flt: Any) -> tuple[int, dict[str, dict[str, int]]]:
    from index import Filters, SearchQuery

    res = index.search(SearchQuery(filters=Filters(since=since, until=until, **flt), limit=0,
                                   facets=("sentiment", "topics")))
    return res.total, {k: dict(v) for k, v in res.facets.items()}


def build_digest(settings: Settings, index: FeedbackIndex, *, period: str = "day", now: datetime,
                 store: AlertStore | None = None) -> Digest:
    """The digest of the day or week ending at ``now``, compared with the period before it."""
    if period not in PERIODS:
        raise ValueError(f"period must be day or week, got {period!r}")
    span = PERIODS[period]
    end = now.astimezone(timezone.utc)
    start = end - span
    prev = start - span
    total, facets = _facets(index, start, end)
    ptotal, pfacets = _facets(index, prev, start)
    _neg, nfacets = _facets(index, start, end, sentiment=("negative",))
    _pneg, pnfacets = _facets(index, prev, start, sentiment=("negative",))
    names = {t.id: t.name for t in settings.topics.topics}
    now_topics, prev_topics = nfacets.get("topics", {}), pnfacets.get("topics", {})
    top = sorted(now_topics.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    issues = [(t, names.get(t, t), n, prev_topics.get(t, 0)) for t, n in top]
    new_topics = sorted((t, names.get(t, t)) for t, n in now_topics.items() if n and not prev_topics.get(t))
    alerts: list[tuple[str, str, str]] = []
    st = store if store is not None else open_store(settings)
    try:
        for rec in st.list(limit=500):
            if start <= rec.opened_at < end or (rec.state == "open" and rec.opened_at < end):
                alerts.append((rec.severity, rec.title, rec.state))
    finally:
        if store is None:
            st.close()
    return Digest(period=period, start=start, end=end, total=total, previous_total=ptotal,
                  sentiment=facets.get("sentiment", {}), previous_sentiment=pfacets.get("sentiment", {}),
                  top_issues=issues, new_topics=new_topics, alerts=alerts[:20], base_url=settings.web.base_url)


def _change(now: int, before: int) -> str:
    if before == 0:
        return "新增" if now else "持平"
    pct = (now - before) / before * 100
    return f"{pct:+.0f}%"


def _mix(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return "，".join(f"{label} {counts.get(k, 0)}（{counts.get(k, 0) / total:.0%}）"
                    for k, label in (("negative", "负面"), ("neutral", "中性"), ("positive", "正面")))


def render_digest(d: Digest) -> Notification:
    """Markdown, HTML and plain text bodies of a digest (crawled/configured text escaped)."""
    since = format_utc(d.start)
    md = [f"### {md_escape(d.title, 100)}", "",
          f"- **反馈总量**：{d.total}（上期 {d.previous_total}，{_change(d.total, d.previous_total)}）",
          f"- **情感分布**：{_mix(d.sentiment)}",
          f"- **上期情感**：{_mix(d.previous_sentiment)}", "", "**主要问题（负面反馈）**："]
    txt = [d.title, f"反馈总量：{d.total}（上期 {d.previous_total}，{_change(d.total, d.previous_total)}）",
           f"情感分布：{_mix(d.sentiment)}", "主要问题（负面反馈）："]
    h = [f"<h3>{html.escape(d.title)}</h3><ul>",
         f"<li><b>反馈总量</b>：{d.total}（上期 {d.previous_total}，{_change(d.total, d.previous_total)}）</li>",
         f"<li><b>情感分布</b>：{html.escape(_mix(d.sentiment))}</li></ul><h4>主要问题（负面反馈）</h4><ol>"]
    for i, (tid, name, n, before) in enumerate(d.top_issues, 1):
        link = search_url(d.base_url, f"topic:{tid} sentiment:negative since:{since}")
        md.append(f"{i}. [{md_escape(name)}]({link})：{n} 条（上期 {before}，{_change(n, before)}）")
        txt.append(f"{i}. {name}：{n} 条（上期 {before}，{_change(n, before)}） {link}")
        h.append(f'<li><a href="{html.escape(link)}">{html.escape(name)}</a>：{n} 条（上期 {before}，{_change(n, before)}）</li>')
    if not d.top_issues:
        md.append("（无）")
        txt.append("（无）")
    h.append("</ol>")
    if d.new_topics:
        new = "、".join(f"{name}（{tid}）" for tid, name in d.new_topics)
        md += ["", f"**新出现的问题**：{md_escape(new)}"]
        txt.append("新出现的问题：" + new)
        h.append(f"<p><b>新出现的问题</b>：{html.escape(new)}</p>")
    if d.alerts:
        md += ["", "**本期告警**："] + [f"- [{s}] {md_escape(t, 120)}（{st}）" for s, t, st in d.alerts]
        txt += ["本期告警："] + [f"- [{s}] {t}（{st}）" for s, t, st in d.alerts]
        h.append("<h4>本期告警</h4><ul>" + "".join(f"<li>[{html.escape(s)}] {html.escape(t)}（{html.escape(st)}）</li>"
                                                for s, t, st in d.alerts) + "</ul>")
    key = f"digest-{d.period}-{d.start:%Y%m%dT%H%M}"
    return Notification(id=f"{key}:1", event="digest", title=d.title, fingerprint=key, version=1, kind="digest",
                        at=format_utc(d.end), body_markdown="\n".join(md), body_html="\n".join(h),
                        body_text="\n".join(txt), search_url=search_url(d.base_url, f"since:{since}"))


def send_digest(settings: Settings, digest: Digest, *, now: datetime, store: AlertStore | None = None) -> int:
    """Queue the digest for every subscriber with ``digest: true``; returns rows queued (0 if already)."""
    note = render_digest(digest)
    from alerts._evaluate import channel_ready

    entries = [OutboxEntry(subscriber=s.name, channel=c, notification=note.to_json())
               for s in settings.alerts.subscribers if s.digest for c in s.channels if channel_ready(settings, c)]
    st = store if store is not None else open_store(settings)
    try:
        return st.enqueue(note.fingerprint, 1, entries, now=now)
    finally:
        if store is None:
            st.close()
