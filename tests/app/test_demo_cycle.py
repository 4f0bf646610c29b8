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
