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


def login_spikes(alerts):
    return [a for a in alerts if a.kind == "volume_spike" and a.key.endswith("login")]


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


def test_login_spike_reaches_the_webhook_receiver(cycles) -> None:
    _settings, first, _second, _ids, alerts_first = cycles
    spikes = login_spikes(alerts_first.values())
    assert len(spikes) == 1
    assert spikes[0].state == "open"
    bodies = [m["body"] for m in first.inbox_messages]
    received = [b for b in bodies if b["fingerprint"] == spikes[0].fingerprint]
    assert len(received) == 1
    assert received[0]["event"] == "opened"
    assert received[0]["figures"]["current"] >= 50


def test_second_cycle_updates_not_duplicates(cycles) -> None:
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
    assert len(login_spikes(alerts_second.values())) == 1
    # Nothing new to say about an unchanged spike: the receiver hears nothing twice.
    fingerprints = [m["body"]["fingerprint"] for m in first.inbox_messages + second.inbox_messages]
    events = [(m["body"]["fingerprint"], m["body"]["version"]) for m in first.inbox_messages + second.inbox_messages]
    assert len(events) == len(set(events))
    assert len(second.inbox_messages) == len(second.evaluation.updated) + len(second.evaluation.raised)
    assert fingerprints
