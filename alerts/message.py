"""What a notification says, built once from an alert state change; every notifier renders from it.

:class:`Notification` is plain data (JSON round-trips through the outbox). The text helpers here are
pure and escape crawled text for each target syntax: :func:`md_escape` (DingTalk / WeCom / Feishu
markdown), :func:`slack_escape` (Slack mrkdwn and its top-level ``text``: ``<!channel>`` arrives inert),
``html.escape`` for email bodies, and :func:`header_text` for anything placed in a header line (mail
``Subject``, HTTP headers, card titles): one line, no control characters. Every helper first folds the
text to one line without control characters (CR/LF, C0/C1, DEL, Unicode line/paragraph separators and
bidirectional overrides), so no crawled value can start a new header, line or Markdown block.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any
from urllib.parse import quote, urlsplit

from alerts.lifecycle import AlertRecord

__all__ = ["Notification", "from_record", "headline", "numbers_line", "md_escape", "slack_escape", "header_text",
           "one_line", "safe_url", "to_markdown", "to_plain", "to_html", "search_url", "EVENT_LABELS", "held_batch"]

EVENT_LABELS = {"opened": "新告警", "updated": "告警升级", "reopened": "告警再次出现", "resolved": "已恢复",
                "digest": "摘要", "held": "静默时段汇总",
                "fix_verified": "修复已验证", "fix_ineffective": "修复未见效", "escalated": "无人确认，已上报"}
_SEVERITY_LABELS = {"info": "提示", "warning": "警告", "critical": "严重"}


@dataclass(frozen=True, kw_only=True)
class Notification:
    #: Delivery id, ``<fingerprint>:<version>`` (receivers can de-duplicate on it).
    id: str
    event: str
    title: str
    severity: str = "info"
    fingerprint: str = ""
    version: int = 0
    rule: str = ""
    kind: str = ""
    product: str = ""
    key: str = ""
    state: str = ""
    at: str = ""
    figures: Mapping[str, Any] | None = None
    sources: Sequence[Sequence[Any]] = ()
    #: Representative posts: ``{"text", "url", "source", "created_at"}``.
    samples: Sequence[Mapping[str, Any]] = ()
    terms: Sequence[str] = ()
    search_url: str = ""
    #: Digests carry their own body (already escaped per format).
    body_markdown: str = ""
    body_html: str = ""
    body_text: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["sources"] = [list(s) for s in self.sources]
        d["samples"] = [dict(s) for s in self.samples]
        d["terms"] = list(self.terms)
        d["figures"] = dict(self.figures) if self.figures is not None else None
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Notification:
        """Back from the outbox; ValueError naming the fields when the row has another shape (queued by
        another release, or damaged)."""
        if "unreadable" in d:
            raise ValueError(f"the stored notification is not valid JSON: {str(d['unreadable'])[:80]!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        missing = sorted(f.name for f in fields(cls) if f.name not in d and f.default is MISSING
                         and f.default_factory is MISSING)
        if unknown or missing:
            raise ValueError("the stored notification has another shape: "
                             + "; ".join(x for x in (f"unknown field(s) {', '.join(unknown)}" if unknown else "",
                                                     f"missing {', '.join(missing)}" if missing else "") if x))
        return cls(**d)


def search_url(base_url: str, query: str) -> str:
    return f"{base_url.rstrip('/')}/?q={quote(query, safe='')}"


def from_record(rec: AlertRecord, event: str, *, base_url: str) -> Notification:
    d = rec.detail
    return Notification(
        id=f"{rec.fingerprint}:{rec.version}", event=event, title=rec.title, severity=rec.severity,
        fingerprint=rec.fingerprint, version=rec.version, rule=rec.rule, kind=rec.kind, product=rec.product,
        key=rec.key, state=rec.state, at=rec.to_json()["updated_at"], figures=rec.figures.as_dict(),
        sources=[list(s) for s in d.get("sources", ())], samples=[dict(s) for s in d.get("samples", ())][:3],
        terms=list(d.get("terms", ())), search_url=search_url(base_url, d.get("query", "")) if d.get("query") is not None else "",
        extra={k: v for k, v in d.items() if k not in _NOT_SENT})


#: Detail kept in the store but not sent: what only grouping and ``voc alerts show`` need.
_NOT_SENT = frozenset({"sources", "samples", "terms", "query", "post_ids", "members", "trend_filters"})


def held_batch(notes: Sequence[Notification], *, key: str) -> Notification:
    """The messages held during a subscriber's quiet hours, as one: the latest state of each incident
    (an incident opened and resolved meanwhile shows once, resolved), most severe first."""
    latest: dict[str, Notification] = {}
    for n in notes:
        latest[n.fingerprint or n.id] = n
    items = sorted(latest.values(), key=lambda n: (-_SEVERITY_RANK.get(n.severity, 0), n.at))
    sev = items[0].severity if items else "info"
    title = f"静默时段内的 {len(items)} 项告警"
    md, txt, h = [f"### {md_escape(title)}", ""], [title], [f"<h3>{html.escape(title)}</h3><ol>"]
    for i, n in enumerate(items, 1):
        link = safe_url(n.search_url)
        md.append(f"{i}. {md_escape(headline(n), 200)}" + (f" [查看]({link})" if link else ""))
        txt.append(f"{i}. {one_line(headline(n))} {link}".rstrip())
        h.append(f"<li>{html.escape(one_line(headline(n)))}" + (f' <a href="{html.escape(link)}">查看</a>' if link else "")
                 + "</li>")
        line = numbers_line(n)
        if line:
            md.append(f"   {md_escape(line, 300)}")
            txt.append(f"   {one_line(line)}")
            h.append(f"<p>{html.escape(one_line(line))}</p>")
    h.append("</ol>")
    return Notification(id=key, event="held", title=title, severity=sev, fingerprint=key.rsplit(":", 1)[0], version=1,
                        kind="held", at=items[-1].at if items else "", body_markdown="\n".join(md),
                        body_text="\n".join(txt), body_html="\n".join(h),
                        extra={"ids": [n.id for n in notes]})


_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def _num(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))
    return str(x)


def headline(n: Notification) -> str:
    label = EVENT_LABELS.get(n.event, n.event)
    return f"[{_SEVERITY_LABELS.get(n.severity, n.severity)}] {label}: {n.title}"


def numbers_line(n: Notification) -> str:
    """How much against the baseline, and over which window."""
    esc = n.extra.get("escalation") if isinstance(n.extra, Mapping) else None
    if n.event == "escalated" and isinstance(esc, Mapping) and esc.get("text"):
        return one_line(str(esc["text"]))
    fix = n.extra.get("fix") if isinstance(n.extra, Mapping) else None
    if n.event.startswith("fix_") and isinstance(fix, Mapping) and fix.get("text"):
        return one_line(str(fix["text"]))
    evidence = n.extra.get("evidence") if isinstance(n.extra, Mapping) else None
    if evidence:
        return "；".join(one_line(e.get("text", "")) for e in evidence if isinstance(e, Mapping))
    f = n.figures
    if not f:
        return ""
    ws, we = f["window_start"].replace("T", " ").replace("Z", ""), f["window_end"].replace("T", " ").replace("Z", "")
    unit = "条" if f.get("unit", "items") == "items" else f" ({f.get('unit')})"
    return (f"当前 {_num(f['current'])}{unit}，基线 {_num(f['expected'])}（正常范围 {_num(f['low'])}–{_num(f['high'])}），"
            f"比值 ×{_num(f['ratio'])}，窗口 {ws} – {we} UTC")


def sources_line(n: Notification) -> str:
    return "、".join(f"{s} {c}" for s, c in n.sources)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()|~])")
#: C0 controls (CR, LF, TAB, ESC …), DEL, C1 controls (NEL …), line/paragraph separators, bidi marks and
#: overrides (which can make a subject read backwards).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: object, limit: int | None = None) -> str:
    """Any value as one line of text: control characters become spaces, runs of spaces one space, and at
    most ``limit`` characters (then ``…``)."""
    text = " ".join(_CONTROL.sub(" ", str(text)).split())
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return text


def header_text(text: object, limit: int = 200) -> str:
    """A value for a header line (mail ``Subject``, HTTP header, card title): :func:`one_line`. Encoding
    non-ASCII text is the transport's job (``email`` writes RFC 2047 encoded-words)."""
    return one_line(text, limit)


def md_escape(text: str, limit: int = 140) -> str:
    """Crawled text made inert for markdown: no links, emphasis, headings, HTML, mentions or line breaks."""
    text = one_line(text, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def slack_escape(text: str, limit: int = 140) -> str:
    """Slack's three control characters escaped (``<!channel>``, ``<@U…>`` and ``<url|…>`` arrive as text)."""
    return one_line(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str:
    """Only http(s) links, with characters that could break out of markdown/HTML link syntax encoded."""
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return ""
    return quote(url, safe=":/?&=%#@!$',;~+*.-_")  # ( ) [ ] < > " space are encoded


def to_markdown(n: Notification) -> str:
    if n.body_markdown:
        return n.body_markdown
    lines = [f"### {md_escape(headline(n), 200)}", ""]
    if n.figures:
        lines += [f"- **多少**：{numbers_line(n)}"]
    if n.terms:
        lines += [f"- **新出现的词**：{md_escape('、'.join(n.terms), 200)}"]
    if n.sources:
        lines += [f"- **来源**：{md_escape(sources_line(n), 200)}"]
    lines += [f"- **产品**：{md_escape(n.product)}　**规则**：{md_escape(n.rule)}"]
    if n.samples:
        lines += ["", "**代表性反馈**："]
        for i, s in enumerate(n.samples[:3], 1):
            url = safe_url(s.get("url", ""))
            src = md_escape(s.get("source", ""))
            text = md_escape(s.get("text", ""))
            lines.append(f"{i}. {text}（{src}）" + (f" [原文]({url})" if url else ""))
    if n.search_url:
        lines += ["", f"[查看全部相关反馈]({safe_url(n.search_url)})"]
    return "\n".join(lines)


def to_plain(n: Notification) -> str:
    if n.body_text:
        return n.body_text
    lines = [one_line(headline(n))]  # crawled values never add a line of their own
    if n.figures:
        lines.append(numbers_line(n))
    if n.terms:
        lines.append("新出现的词：" + one_line("、".join(n.terms)))
    if n.sources:
        lines.append("来源：" + one_line(sources_line(n)))
    lines.append(f"产品：{one_line(n.product)}  规则：{n.rule}")
    for i, s in enumerate(n.samples[:3], 1):
        text = one_line(s.get("text", ""))[:140]
        lines.append(f"{i}. {text} ({one_line(s.get('source', ''))}) {safe_url(s.get('url', ''))}".rstrip())
    if n.search_url:
        lines.append("查看全部：" + n.search_url)
    return "\n".join(lines)


def to_html(n: Notification) -> str:
    if n.body_html:
        return n.body_html
    def e(text: object) -> str:
        return html.escape(one_line(text))

    parts = [f"<h3>{e(headline(n))}</h3>", "<ul>"]
    if n.figures:
        parts.append(f"<li><b>多少</b>：{e(numbers_line(n))}</li>")
    if n.terms:
        parts.append(f"<li><b>新出现的词</b>：{e('、'.join(n.terms))}</li>")
    if n.sources:
        parts.append(f"<li><b>来源</b>：{e(sources_line(n))}</li>")
    parts.append(f"<li><b>产品</b>：{e(n.product)} <b>规则</b>：{e(n.rule)}</li></ul>")
    if n.samples:
        parts.append("<ol>")
        for s in n.samples[:3]:
            url = safe_url(s.get("url", ""))
            link = f' <a href="{e(url)}">原文</a>' if url else ""
            parts.append(f"<li>{e(one_line(s.get('text', ''))[:140])}（{e(s.get('source', ''))}）{link}</li>")
        parts.append("</ol>")
    if n.search_url:
        parts.append(f'<p><a href="{e(safe_url(n.search_url))}">查看全部相关反馈</a></p>')
    return "\n".join(parts)
