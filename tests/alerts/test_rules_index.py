"""Emerging terms, rating drop and high-risk rules against a real SQLite index."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import alerts
from alerts.store import open_store
from tests.helpers import ALERTS_NOW as NOW, make_doc


def _only(settings, kind):
    rules = tuple(r for r in settings.alerts.rules if r.kind == kind)
    return settings.replace(alerts=dataclasses.replace(settings.alerts, rules=rules))


HISTORY = ["登录有点慢", "验证码收不到", "广告太多了", "更新以后很卡", "客服不回复", "扣费了没到账", "闪退好几次"]


def test_emerging_terms_groups_new_words_with_representative_posts(settings, index):
    s = _only(settings, "emerging_terms")
    now = NOW
    docs = []
    for i in range(24 * 10 * 4):  # four negative posts an hour for ten days, the usual complaints
        docs.append(make_doc(i, at=now - timedelta(days=10) + timedelta(minutes=15 * i), text=HISTORY[i % len(HISTORY)]))
    for i in range(12):
        docs.append(make_doc(10_000 + i, at=now - timedelta(hours=5) + timedelta(minutes=20 * i),
                             text=f"新版本打开相册就闪退，第{i}次了", source="appstore" if i % 3 else "weibo",
                             likes=i))
    index.upsert(docs)
    [sig] = alerts.collect_signals(s.alerts.rules[0], s, index, now=now)
    terms = sig.detail["terms"]
    # one new phrase (its words and word pairs grouped); 闪退 alone is an old complaint at its usual rate
    grouped = [terms[0], *sig.detail["related_terms"][terms[0]]]
    assert len(terms) == 1 and "打开相册" in grouped and "闪退" not in grouped
    assert sig.match.key == terms[0] and sig.match.figures.current == 12 and sig.match.figures.expected == 0
    # the twelve posts differ only in a number: one representative post (the most engaged) stands for them
    assert [(x["text"], x["similar"]) for x in sig.detail["samples"]] == [("新版本打开相册就闪退，第11次了", 12)]
    assert dict(sig.detail["sources"]) == {"appstore": 8, "weibo": 4}
    assert len(sig.detail["post_ids"]) == 12
    report = alerts.evaluate(s, index, now=now)
    assert len(report.raised) == 1
    rec = report.raised[0]
    assert rec.kind == "incident" and rec.detail["terms"] == terms and terms[0] in rec.title
    assert alerts.evaluate(s, index, now=now + timedelta(minutes=5)).raised == []


def test_rating_drop_for_new_version(settings, index):
    s = _only(settings, "rating_drop")
    now = NOW
    docs = []
    for i in range(40):
        docs.append(make_doc(i, at=now - timedelta(days=20, hours=i), source="appstore", kind="review",
                             rating=5 if i % 5 else 2, app_version="3.9.0", sentiment="positive", text="好用"))
    for i in range(25):
        docs.append(make_doc(100 + i, at=now - timedelta(days=2, hours=i), source="appstore", kind="review",
                             rating=1 if i % 3 else 4, app_version="3.10.0", text=f"更新后闪退 {i}"))
    index.upsert(docs)
    [sig] = alerts.collect_signals(s.alerts.rules[0], s, index, now=now)
    assert sig.detail["mean"] == 2.08 and sig.detail["earlier_mean"] == 4.4 and sig.detail["low_reviews"] == 16
    report = alerts.evaluate(s, index, now=now)
    assert [r.key for r in report.raised] == ["3.10.0"]
    rec = report.raised[0]
    assert rec.figures.current == round(16 / 25, 4) and rec.figures.expected == 0.2 and rec.severity == "critical"
    assert rec.title == "3.10.0 版本评分下降：1–2 星评价占 64%（此前 20%）" and rec.detail["versions"] == ["3.10.0"]
    assert [e["text"] for e in rec.detail["evidence"]] == [
        "3.10.0 版本 16 条 1–2 星评价，占 64%，此前 20%（均分 2.08，此前 4.4）"]
    assert all(x["source"] == "appstore" for x in rec.detail["samples"])
    # the incident counts reviews: 16 low-star ones where the earlier share (20% of 25) predicts 5
    from alerts.view import incident_view
    view = incident_view(rec)
    assert (view["count"], view["baseline"], view["versions"]) == (16, 5.0, ["3.10.0"])
    # the link opens exactly those 16 reviews: the version is part of the query
    from index.query import parse_query
    q = parse_query(rec.detail["query"], now=now, tz="UTC", limit=100)
    assert "version:3.10.0" in rec.detail["query"] and index.search(q).total == 16


def test_high_risk_posts_alert_at_once_and_only_once(settings, index):
    s = _only(settings, "high_risk")
    now = NOW
    index.upsert([
        make_doc(1, at=now - timedelta(hours=1), text="再不退款我就去12315投诉，还要找媒体曝光", risk=["regulator_threat", "media_threat"]),
        make_doc(2, at=now - timedelta(hours=2), text="普通吐槽"),
        make_doc(3, at=now - timedelta(days=3), text="三天前的律师函", risk=["legal_threat"]),
    ])
    report = alerts.evaluate(s, index, now=now)
    assert len(report.raised) == 1
    rec = report.raised[0]
    assert rec.severity == "critical" and rec.detail["risk"] == ["regulator_threat", "media_threat"]
    assert "扬言投诉监管、扬言曝光媒体" in rec.title and rec.detail["samples"][0]["url"] == "https://example.com/p/1"
    again = alerts.evaluate(s, index, now=now + timedelta(hours=1))
    assert again.raised == [] and again.updated == []
    with open_store(s) as st:
        assert len(st.outbox()) == 1  # alert-log, once
    # the post leaves the 24h window; 6h later the alert resolves quietly (a post does not "recover")
    gone = alerts.evaluate(s, index, now=now + timedelta(hours=30))
    assert [r.state for r in gone.resolved] == ["resolved"]
    with open_store(s) as st:
        assert len(st.outbox()) == 1


def test_emerging_terms_alert_keeps_its_fingerprint_when_the_leading_term_changes(settings, index):
    s = _only(settings, "emerging_terms")
    now = NOW
    docs = [make_doc(i, at=now - timedelta(days=10) + timedelta(minutes=15 * i), text=HISTORY[i % len(HISTORY)])
            for i in range(24 * 10 * 4)]
    docs += [make_doc(10_000 + i, at=now - timedelta(hours=2) + timedelta(minutes=5 * i), text="相册同步失败")
             for i in range(10)]
    index.upsert(docs)
    first = alerts.evaluate(s, index, now=now)
    assert len(first.raised) == 1
    # later a longer word in the same posts leads the group (the most specific term heads it)
    index.upsert([make_doc(20_000 + i, at=now + timedelta(minutes=5 * i), text="PhotoSyncCrash 相册同步失败")
                  for i in range(30)])
    later = alerts.evaluate(s, index, now=now + timedelta(hours=3))
    assert later.raised == []
    with open_store(s) as st:
        assert len(st.list(rule="emerging-terms")) == 1
