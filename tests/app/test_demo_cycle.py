"""End to end: the real Scrapy engine crawls the replayed demo sites, the shipped classifier tags the items,
SQLite indexes them, and a volume-spike alert reaches a real loopback webhook receiver — twice over, with
the second cycle leaving the same documents and the same single alert."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from alerts import open_store
from app.context import AppContext
from app.demo.cycle import run_demo_cycle
from configs import load_settings
from index import Filters, SearchQuery
from tests.helpers import REPO



@pytest.fixture(scope="module")
def cycles(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("home")
    settings = load_settings(REPO / "configs", env={**os.environ, "VOC_HOME": str(home)})
    now = datetime.now(timezone.utc).replace(minute=20, second=0, microsecond=0)
    first = run_demo_cycle(settings, now=now)
    ctx = AppContext(settings)
    try:
        ids_first = {d["id"] for d in ctx.index.scan(Filters())}
    finally:
        ctx.close()
    alerts_first = {a.fingerprint: a for a in open_store(settings).list()}
    second = run_demo_cycle(settings, now=now + timedelta(minutes=15))
    return settings, first, second, ids_first, alerts_first


def login_incidents(alerts):
    return [a for a in alerts if a.kind == "incident" and "login" in a.detail.get("topics", ())]


def test_first_cycle_indexes_tagged_documents(cycles) -> None:
    settings, first, _second, ids_first, _ = cycles
    assert first.crawl.returncode == 0
    appstore = first.crawl.source("appstore")
    assert appstore.new >= 300 and appstore.status == "ok"
    forum = first.crawl.source("forum")
    assert forum.new > 50
    assert "您尚未登录" in (forum.blocked_reason or "")  # the login-walled thread is reported, the rest goes on
    assert first.documents == len(ids_first) == appstore.new + forum.new
    ctx = AppContext(settings)
    try:
        result = ctx.index.search(SearchQuery(text="登录", filters=Filters(sentiment=("negative",)), limit=5))
        assert result.total >= 50
        hit = result.hits[0]
        assert any(matched and "登" in seg for seg, matched in hit.highlight)
        assert hit.doc["model_version"] == first.model_version
        assert "login" in hit.doc["topics"]
    finally:
        ctx.close()


def test_one_incident_for_the_login_story_reaches_the_webhook_receiver(cycles) -> None:
    _settings, first, _second, _ids, alerts_first = cycles
    [login] = login_incidents(alerts_first.values())
    assert login.state == "open" and login.severity == "critical"
    d = login.detail
    # every detector's view of the story joined: the topic's and the product's spike, the new terms, the
    # 3.2.0 rating drop and the 12315 threat post (one of the login posts: attached, not a second alert)
    assert set(d["kinds"]) == {"volume_spike", "emerging_terms", "rating_drop", "high_risk"}
    assert d["topics"][0] == "login" and d["versions"] == ["3.2.0"]
    assert {s for s, _n in d["sources"]} == {"appstore", "forum:qingji-bbs"}
    assert "收不到验证码" in d["terms"] and d["risk"] and d["risk_posts"][0]["text"].startswith("登录不上还自动续费")
    assert login.title.startswith("3.2.0 登录") and "激增" in login.title
    assert any("1–2 星评价，占 88%，此前 2" in e["text"] for e in d["evidence"])
    assert all(not w for w in ("不行", "提示", "里面") if login.title.find(w) >= 0)
    # its query shows exactly its posts (what `voc alerts show ID --json` lists), the threat post among them
    from alerts.view import incident_detail
    from index.query import parse_query

    ctx = AppContext(_settings)
    try:
        shown = incident_detail(login, [], index=ctx.index, limit=1000)
        q = parse_query(login.detail["query"], now=login.updated_at, tz="UTC", limit=1000)
        assert {p["id"] for p in shown["posts"]} == {h.doc["id"] for h in ctx.index.search(q).hits}
        assert len(shown["posts"]) == shown["count"] >= 50
        assert d["risk_posts"][0]["id"] in {p["id"] for p in shown["posts"]}
    finally:
        ctx.close()
    others = [a for a in alerts_first.values() if a is not login]
    assert len(others) <= 1 and all(a.detail.get("risk") for a in others)  # at most the threat, on its own
    bodies = [m["body"] for m in first.inbox_messages]
    assert [b["fingerprint"] for b in bodies] == [login.fingerprint]  # one notification for one problem
    assert bodies[0]["event"] == "opened" and bodies[0]["figures"]["current"] >= 50


def test_second_cycle_changes_nothing(cycles) -> None:
    settings, first, second, ids_first, alerts_first = cycles
    assert second.crawl.returncode == 0
    assert second.crawl.source("appstore").new == 0
    assert second.documents == first.documents
    ctx = AppContext(settings)
    try:
        assert {d["id"] for d in ctx.index.scan(Filters())} == ids_first
    finally:
        ctx.close()
    alerts_second = {a.fingerprint: a for a in open_store(settings).list()}
    assert alerts_second.keys() == alerts_first.keys()
    assert {k: (a.state, a.version, a.severity, a.title) for k, a in alerts_second.items()} == \
        {k: (a.state, a.version, a.severity, a.title) for k, a in alerts_first.items()}
    assert second.inbox_messages == [] and second.evaluation.raised == second.evaluation.updated == []
    # the whole story, both cycles: at most three notifications reached the receiver
    assert 1 <= len(first.inbox_messages) + len(second.inbox_messages) <= 3


@pytest.fixture(scope="module")
def fix_day(cycles):
    """The story continues (issue 19): 3.2.1 fixes login an hour after the first cycle; a day later."""
    settings, first, *_ = cycles
    return settings, run_demo_cycle(settings, now=first.evaluation.now, fix_day=True)


def test_the_next_day_the_fix_is_verified_and_replies_are_drafted_not_sent(fix_day) -> None:
    settings, day = fix_day
    assert day.crawl.returncode == 0 and day.crawl.source("appstore").new == 24  # 3.2.1's first day
    fixed = day.fixed
    assert fixed is not None and fixed.state == "fix_verified"
    fix = fixed.detail["fix"]
    assert fix["version"] == "3.2.1" and fix["verdict"] == "verified" and fix["after_rate"] == 2.0
    assert fix["before_rate"] >= 40
    assert fix["text"].startswith("登录/账号相关负面反馈：3.2.1 上 2 条/天，3.2.0 上 ")
    assert [m["body"]["event"] for m in day.inbox_messages] == ["fix_verified"]  # told once
    drafts = day.drafts
    assert len(drafts) >= 40 and {d["status"] for d in drafts} == {"draft"}  # none sent
    assert {d["app_version"] for d in drafts} == {"3.2.0"} and all("3.2.1" in d["body"] for d in drafts)


def test_approving_and_sending_twice_answers_each_review_once(fix_day) -> None:
    import dataclasses

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from alerts.replies import approve, list_replies, send_approved
    from configs.settings import Secrets
    from tests.alerts.receivers import Receiver

    settings, day = fix_day
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    now = datetime.now(timezone.utc)
    asc = Receiver(now_s=now.timestamp())
    asc.asc = {"public_key": key.public_key(), "kid": "DEMOKEY123", "iss": "demo-issuer"}
    try:
        replies = dataclasses.replace(settings.alerts.replies, api_url=asc.url)
        s = settings.replace(alerts=dataclasses.replace(settings.alerts, replies=replies),
                             secrets=Secrets({"VOC_ASC_KEY_ID": "DEMOKEY123", "VOC_ASC_ISSUER_ID": "demo-issuer",
                                              "VOC_ASC_PRIVATE_KEY": pem}))
        with open_store(s) as st:
            approve(st, incident=day.fixed.fingerprint, by="客服", now=now)
            first = send_approved(s, st, now=now)
            second = send_approved(s, st, now=now)
            rows = list_replies(st, incident=day.fixed.fingerprint)
    finally:
        asc.stop()
    assert len(first.sent) == len(day.drafts) and second.sent == [] and asc.rejected == []
    assert len(asc.responses) == len(day.drafts) == len(asc.received)
    assert {r["status"] for r in rows} == {"sent"}
