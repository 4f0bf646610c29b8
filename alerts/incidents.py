"""Incidents: the signals of every detector that describe one problem, joined — what users see and
subscribers receive. Pure functions; no I/O, no clock.

A signal (one detector's match: a volume spike of a product or topic, emerging terms, a version's rating
drop, a high-risk post) carries the ids of its posts. :func:`group` joins signals of one product whose
posts overlap: the most specific signals lead (a topic's spike before the terms, the rating drop, the
product-level spike and single risky posts), and each later signal joins the group it shares the most
posts with, if ``|its posts ∩ the group's posts| ≥ OVERLAP × min(sizes)`` — so a product-level spike
never bridges two problems. :func:`continues` finds the open incident a group continues (a shared member signal, or
overlapping posts); :func:`summarize` builds what the incident says: title, topics, terms, versions,
sources, figures, trend, representative posts (near-duplicates collapsed, with their count), the query
that shows its posts, and :func:`evidence_lines` the figures in words a PM reads.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.detect import Figures, is_generic

__all__ = ["Member", "OVERLAP", "group", "continues", "summarize", "title_for", "collapse_samples",
           "evidence_lines", "incident_id", "member_from_signal", "SEVERITY_RANK", "attach", "risk_only"]

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
#: A signal joins a group when this share of the smaller post set is shared.
OVERLAP = 0.3
#: Post ids an incident keeps (for grouping the next run and for ``voc alerts show``).
MAX_POSTS = 2000

_RISK_LABELS = {"media_threat": "扬言曝光媒体", "regulator_threat": "扬言投诉监管", "legal_threat": "扬言起诉",
                "viral": "高传播"}


@dataclass(frozen=True)
class Member:
    """One signal as an incident sees it."""

    fingerprint: str
    rule: str
    kind: str
    product: str
    key: str
    severity: str
    title: str
    figures: Figures
    posts: frozenset[str]
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> tuple[int, float]:
        """Who leads: a topic's volume spike, then terms, rating drop, the product's spike, risky posts."""
        rank = {"volume_spike": 0 if self.key else 3, "emerging_terms": 1, "rating_drop": 2, "high_risk": 4}
        return rank.get(self.kind, 5), -float(self.figures.current if self.kind == "volume_spike" else len(self.posts))

    def as_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "rule": self.rule, "kind": self.kind, "key": self.key,
                "severity": self.severity, "title": self.title, "figures": self.figures.as_dict(),
                "query": self.detail.get("query", ""), "posts": len(self.posts),
                "words": member_words(self)}


def member_from_signal(sig: Any) -> Member:
    d = dict(sig.detail)
    posts = frozenset(str(i) for i in d.pop("post_ids", ()) or ())
    return Member(fingerprint=sig.fingerprint, rule=sig.rule, kind=sig.kind, product=sig.product,
                  key=sig.match.key, severity=sig.match.severity, title=sig.title, figures=sig.match.figures,
                  posts=posts, detail=d)


def _overlap(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def group(members: Iterable[Member], *, overlap: float = OVERLAP) -> list[list[Member]]:
    """Members of one product whose posts overlap, joined; the first member of a group leads it."""
    groups: list[list[Member]] = []
    posts: list[set[str]] = []
    for m in sorted(members, key=lambda m: (m.product, m.order, m.fingerprint)):
        best, shared = None, 0
        for i, g in enumerate(groups):
            if g[0].product != m.product:
                continue
            n = len(m.posts & posts[i])
            if n > shared:
                best, shared = i, n
        if best is None or _overlap(m.posts, posts[best]) < overlap:
            best = _about(m, groups) if m.kind == "high_risk" else None
        if best is not None:
            groups[best].append(m)
            posts[best] |= m.posts
        else:
            groups.append([m])
            posts.append(set(m.posts))
    return groups


def _topics_of(m: Member) -> set[str]:
    return {m.key} if m.kind == "volume_spike" and m.key else set()


def _about(m: Member, groups: Sequence[Sequence[Member]]) -> int | None:
    """The group a risky post is about although not one of its posts (a new post, or another sentiment):
    same product, and a topic of the post is a topic the group spikes on (the biggest such group)."""
    mine = set(m.detail.get("topics", ()))
    best, size = None, -1
    for i, g in enumerate(groups):
        if g[0].product == m.product and mine & set().union(*(_topics_of(x) for x in g)):
            n = sum(len(x.posts) for x in g)
            if n > size:
                best, size = i, n
    return best


def risk_only(members: Sequence[Member]) -> bool:
    return all(m.kind == "high_risk" for m in members)


def attach(detail: Mapping[str, Any], members: Sequence[Member]) -> dict[str, Any]:
    """An open incident's detail with risky posts attached (its figures, title and query unchanged)."""
    out = dict(detail)
    held = {str(x.get("fingerprint")) for x in out.get("members", ())}
    new = [m for m in members if m.fingerprint not in held]
    out["members"] = [*out.get("members", ()), *(m.as_json() for m in new)]
    out["risk"] = list(dict.fromkeys([*out.get("risk", ()), *(r for m in new for r in m.detail.get("risk", ()))]))
    out["risk_posts"] = [*out.get("risk_posts", ()), *({**(m.detail.get("samples") or [{}])[0],
                                                       "risk": list(m.detail.get("risk", ()))} for m in new)]
    out["evidence"] = [*out.get("evidence", ()), *evidence_lines(new)]
    out["rules"] = sorted({*out.get("rules", ()), *(m.rule for m in new)})
    out["kinds"] = sorted({*out.get("kinds", ()), *(m.kind for m in new)})
    ids = list(out.get("post_ids", ()))
    out["post_ids"] = ids + [p for m in new for p in sorted(m.posts) if p not in set(ids)][: max(0, MAX_POSTS - len(ids))]
    return out


def continues(members: Sequence[Member], open_incidents: Sequence[Any], *, overlap: float = OVERLAP,
              taken: set[str] | None = None) -> Any | None:
    """The open incident (an ``AlertRecord`` of kind ``incident``) this group continues: one that already
    holds one of its signals, else the one whose posts overlap most (≥ ``overlap``); a group of risky
    posts only also continues (is attached to) an open incident spiking on one of its posts' topics."""
    taken = taken or set()
    product = members[0].product
    mine = {m.fingerprint for m in members}
    posts = set().union(*(m.posts for m in members))
    best, score = None, 0.0
    for rec in open_incidents:
        if rec.product != product or rec.fingerprint in taken:
            continue
        held = {m.get("fingerprint") for m in rec.detail.get("members", ())}
        if mine & held:
            return rec
        s = _overlap(posts, set(rec.detail.get("post_ids", ())))
        if s > score:
            best, score = rec, s
    if score >= overlap:
        return best
    if risk_only(members):
        topics = {t for m in members for t in m.detail.get("topics", ())}
        about = [r for r in open_incidents if r.product == product and r.fingerprint not in taken
                 and topics & set(r.detail.get("topics", ())) and not set(r.detail.get("kinds", ())) <= {"high_risk"}]
        if about:
            return max(about, key=lambda r: (r.updated_at, r.fingerprint))
    return None


def incident_id(members: Sequence[Member]) -> str:
    """A new incident's id: derived from its leading signal (a problem that returns reopens it)."""
    import hashlib

    return hashlib.sha1(f"incident\x1f{members[0].fingerprint}".encode()).hexdigest()[:16]


# --- what an incident says -----------------------------------------------------------------------------

def _n(x: float) -> str:
    return str(int(round(x))) if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def _span(f: Figures) -> str:
    hours = math.ceil((f.window_end - f.window_start).total_seconds() / 3600 - 1e-9)
    return f"{hours} 小时" if hours < 48 else f"{round(hours / 24)} 天"


def member_words(m: Member) -> str:
    """One member's figures in words a product manager reads."""
    f, d = m.figures, m.detail
    if m.kind == "rating_drop":
        low = d.get("low_reviews") or round(f.current * (d.get("reviews") or 0))
        return (f"{m.key} 版本 {low} 条 1–2 星评价，占 {f.current:.0%}，此前 {f.expected:.0%}"
                f"（均分 {d.get('mean')}，此前 {d.get('earlier_mean')}）")
    if m.kind == "high_risk":
        flags = "、".join(_RISK_LABELS.get(x, x) for x in d.get("risk", ()))
        return f"1 条帖子{flags}（互动 {d.get('engagement', 0)}）"
    if m.kind == "emerging_terms":
        figs = d.get("term_figures") or []
        parts = [f"“{t}” {c} 条（此前同期约 {_n(e)} 条）" for t, c, e, _r in figs[:3]]
        return "新出现的说法：" + "，".join(parts)
    feeling = {"negative": "负面", "positive": "正面", "neutral": "中性"}.get(d.get("sentiment", ""), "")
    what = "、".join(d.get("topic_names", ())) or ""
    return (f"近 {_span(f)} {_n(f.current)} 条{what}{feeling}反馈，此前同期通常 {_n(f.expected)} 条"
            f"（正常 {_n(f.low)}–{_n(f.high)} 条），是平时的 {f.ratio:.1f} 倍")


def evidence_lines(members: Sequence[Member]) -> list[dict[str, str]]:
    """``[{"kind", "text", "query"}]``: each member's figures in words and the query of exactly its posts."""
    seen: set[tuple[str, float, frozenset[str]]] = set()
    out = []
    for m in members:
        text = member_words(m)
        same = (m.kind, float(m.figures.current), m.posts)
        if same in seen:  # a product-level spike of the very posts of its topic's says nothing new
            continue
        seen.add(same)
        out.append({"kind": m.kind, "text": text, "query": str(m.detail.get("query", ""))})
    return out


_NORM = re.compile(r"[\W_]+", re.UNICODE)


def _shingles(text: str) -> set[str]:
    t = _NORM.sub("", text.lower())
    return {t[i:i + 2] for i in range(max(len(t) - 1, 1))} if t else set()


def collapse_samples(docs: Sequence[Mapping[str, Any]], *, limit: int = 5, similar: float = 0.6,
                     max_heads: int = 40) -> list[dict[str, Any]]:
    """Representative posts: near-duplicates (character-bigram Jaccard ≥ ``similar``) collapsed into the
    most engaged one, with ``similar`` = how many of ``docs`` it stands for; the biggest groups first.
    At most ``max_heads`` distinct texts are tracked (a post unlike all of them is not counted)."""
    heads: list[tuple[set[str], dict[str, Any], int]] = []

    def engagement(d: Mapping[str, Any]) -> int:
        return int(d.get("likes") or 0) + 2 * int(d.get("replies") or 0) + 3 * int(d.get("reposts") or 0)

    for d in sorted(docs, key=lambda d: (-engagement(d), str(d.get("created_at") or "")), reverse=False):
        text = " ".join(str(d.get("text") or "").split())
        if not text:
            continue
        sh = _shingles(text)
        for i, (hs, head, n) in enumerate(heads):
            if sh and hs and len(sh & hs) / len(sh | hs) >= similar:
                heads[i] = (hs, head, n + 1)
                break
        else:
            if len(heads) < max_heads:
                eng = engagement(d)
                heads.append((sh, {"text": text[:300], "url": d.get("url") or "", "source": d.get("source") or "",
                                   "created_at": d.get("created_at") or "", "id": d.get("id"), "engagement": eng}, 1))
    heads.sort(key=lambda h: (-h[2], -h[1]["engagement"], h[1]["created_at"]))
    return [{**h, "similar": n} for _s, h, n in heads[:limit]]


def _merge_counts(lists: Iterable[Sequence[Sequence[Any]]]) -> list[list[Any]]:
    c: Counter[str] = Counter()
    for lst in lists:
        for k, n in lst:
            c[str(k)] = max(c[str(k)], int(n))
    return [[k, n] for k, n in c.most_common()]


def _title_terms(terms: Sequence[str], topic_words: Sequence[str], limit: int = 2) -> tuple[str, list[str]]:
    """(head, others): the head is the strongest term naming the topic (``登录失败``); others are the next
    strongest terms not contained in it. Generic words never lead."""
    usable = [t for t in terms if not is_generic(t)]
    head = next((t for t in usable if any(w and w in t for w in topic_words)), "") if topic_words else ""
    others = [t for t in usable if t != head and t not in head and head not in t][:limit]
    return head, others


def title_for(*, product_name: str, version: str, topic_names: Sequence[str], terms: Sequence[str],
              kinds: Sequence[str], risk: Sequence[str], share: tuple[float, float] | None = None) -> str:
    """A Chinese title naming the problem: version, what (the strongest term naming the topic, else the
    topic's name), how (激增 for a volume spike, 评分下降 for a rating drop alone) and the next strongest
    terms: ``3.2.0 登录失败激增：收不到验证码、一直转圈``."""
    topic_words = [w for name in topic_names for w in re.split(r"[/、,，\s]+", name) if w]
    head, others = _title_terms(terms, topic_words)
    what = head or (topic_words[0] + "问题" if topic_words else "")
    if "volume_spike" not in kinds and "emerging_terms" in kinds and not head:
        usable = [t for t in terms if not is_generic(t)]
        what, how, others = "", "负面反馈出现新说法：" + "、".join(usable[:3]), []
    elif "volume_spike" in kinds or "emerging_terms" in kinds:
        how = "激增"
    elif "rating_drop" in kinds:
        what = what or "版本"
        how = "评分下降" + (f"：1–2 星评价占 {share[0]:.0%}（此前 {share[1]:.0%}）" if share else "")
    elif risk:
        what, how = "高风险反馈", "：" + "、".join(_RISK_LABELS.get(r, r) for r in risk)
    else:
        how = "异常"
    if not what:
        what = "负面反馈" if how == "激增" else ("" if how == "评分下降" else what)
    lead = " ".join(x for x in (product_name if not version else "", version) if x)
    title = f"{lead} {what}{how}".strip()
    if others and "：" not in how:
        title += "：" + "、".join(others)
    return title


def summarize(members: Sequence[Member], *, product_name: str, topic_names: Mapping[str, str]) -> dict[str, Any]:
    """What an incident carries (its ``detail``) from its members; ``members[0]`` leads."""
    lead = members[0]
    kinds = [m.kind for m in members]
    topics: list[str] = []
    for m in members:
        if m.kind == "volume_spike" and m.key and m.key not in topics:
            topics.append(m.key)
    if not topics:
        for m in members:
            for t in m.detail.get("topics", ()):
                if t not in topics:
                    topics.append(t)
    terms: list[str] = []
    for m in members:
        if m.kind == "emerging_terms":
            terms += [t for t in m.detail.get("terms", ()) if t not in terms and not is_generic(t)]
    versions: list[str] = []
    for m in members:
        if m.kind == "rating_drop" and m.key not in versions:
            versions.append(m.key)
    lead_versions = lead.detail.get("versions") or []
    versioned = sum(n for _v, n in lead_versions)
    for v, n in lead_versions:
        if versioned and n / versioned >= 0.5 and v not in versions:
            versions.append(v)
    risk = list(dict.fromkeys(r for m in members if m.kind == "high_risk" for r in m.detail.get("risk", ())))
    risk_posts = [{**(m.detail.get("samples") or [{}])[0], "risk": list(m.detail.get("risk", ()))}
                  for m in members if m.kind == "high_risk"]
    posts: list[str] = []
    seen: set[str] = set()
    for m in members:
        for p in sorted(m.posts):
            if p not in seen and len(posts) < MAX_POSTS:
                seen.add(p)
                posts.append(p)
    names = [topic_names.get(t, t) for t in topics]
    rating = next((m for m in members if m.kind == "rating_drop"), None)
    title = title_for(product_name=product_name, version=versions[0] if versions else "", topic_names=names[:1],
                      terms=terms, kinds=kinds, risk=risk,
                      share=(rating.figures.current, rating.figures.expected) if rating is not None else None)
    f = lead.figures
    count, baseline, rng = float(f.current), float(f.expected), [round(f.low, 3), round(f.high, 3)]
    if lead.kind == "rating_drop":  # in reviews: the low-star ones, and how many the earlier share predicts
        n = float(lead.detail.get("reviews") or 0)
        count = float(lead.detail.get("low_reviews") or round(f.current * n))
        baseline, rng = f.expected * n, [round(f.low * n, 1), round(f.high * n, 1)]
    return {
        "title": title, "topics": topics, "topic_names": names, "terms": terms[:8], "versions": versions,
        "sources": _merge_counts([lead.detail.get("sources", ())] + [m.detail.get("sources", ()) for m in members
                                                                   if m.kind == "high_risk"]),
        "platforms": _merge_counts([lead.detail.get("platforms", ())]),
        "count": int(count) if count.is_integer() else count, "baseline": round(baseline, 3), "range": rng,
        "unit": f.unit, "ratio": round(f.ratio, 3),
        "samples": list(lead.detail.get("samples", ()))[:5], "query": str(lead.detail.get("query", "")),
        "trend_filters": dict(lead.detail.get("trend_filters") or {}),
        "risk": risk, "risk_posts": risk_posts, "post_ids": posts, "posts": len(seen),
        "members": [m.as_json() for m in members], "evidence": evidence_lines(members),
        "rules": sorted({m.rule for m in members}), "kinds": sorted(set(kinds)),
    }
