"""Crawl health operations alerts (app/health.py): a source blocked beyond the configured time alerts the configured
subscriber once, on each of its channels (the real loopback receivers of tests/alerts/receivers.py check the
webhook HMAC and DingTalk's signature), a failed channel is tried again without repeating the others, and one
"resolved" follows when the source recovers. The crawls are real (engine, replay server)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from app.health import check
from configs import load_settings
from configs.crawl import CrawlHealthSettings
from crawlers.runner import run_crawl
from tests.alerts.receivers import SECRET, TOKEN, Receiver

PAGES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pages"
JSON = "application/json; charset=utf-8"


def with_health(settings, **health):
    crawl = dataclasses.replace(settings.crawl, health=CrawlHealthSettings(**health))
    return settings.replace(voc=dataclasses.replace(settings.voc, crawl=crawl))


@pytest.fixture
def ops(crawl_settings, tmp_path):
    receiver = Receiver(now_s=datetime.now(UTC).timestamp())
    settings = crawl_settings(products=[{"id": "demo", "name": "演示银行", "weibo": {"keywords": ["演示银行"]}}],
                              crawl={"health": {"notify": ["ops"], "blocked_hours": 6, "failing_hours": 12,
                                                "silent_hours": 0}})
    alerts_file = settings.config_dir / "alerts.yaml"
    conf = yaml.safe_load(alerts_file.read_text(encoding="utf-8"))
    conf["channels"] = [{"name": "ops-hook", "kind": "webhook", "url": f"{receiver.url}/hook", "secret_env": "VOC_OPS_SECRET"},
                        {"name": "ops-ding", "kind": "dingtalk", "url": f"{receiver.url}/robot/send?access_token={TOKEN}",
                         "secret_env": "VOC_OPS_SECRET"}]
    conf["subscribers"] = [{"name": "ops", "channels": ["ops-hook", "ops-ding"]}]
    alerts_file.write_text(yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8")
    loaded = load_settings(settings.config_dir, env={"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": "rules",
                                                     "VOC_OPS_SECRET": SECRET})
    yield loaded, receiver
    receiver.stop()


def test_blocked_source_alerts_once_and_resolves_when_it_recovers(ops, replay):
    settings, receiver = ops
    replay.add("/api/container/getIndex", body=PAGES / "weibo" / "blocked_432.html", status=432)
    blocked = run_crawl(settings, sources=["weibo"]).source("weibo")
    assert blocked.status == "blocked"
    now = datetime.now(UTC)
    assert check(settings, now=now + timedelta(hours=1)).opened == []  # blocked, but not for 6 hours yet
    assert receiver.received == []

    later = now + timedelta(hours=7)
    receiver.now_s = later.timestamp()
    receiver.fail_next["/robot/send"] = (500, {"errcode": -1, "errmsg": "busy"})  # DingTalk down this once
    first = check(settings, now=later)
    assert len(first.opened) == 1 and first.opened[0].startswith("crawl-health:weibo:")
    assert [c for _, c in first.sent] == ["ops-hook"] and [c for _, c, _ in first.failed] == ["ops-ding"]
    hook = receiver.received[0]
    assert hook["platform"] == "webhook" and hook["delivery"] == first.opened[0]
    body = hook["body"]
    assert (body["kind"], body["key"], body["event"], body["extra"]["problem"]) == ("crawl_health", "weibo", "opened",
                                                                                    "blocked")
    assert "数据采集异常：weibo 被封锁" in body["text"] and "HTTP 432" in body["text"]

    again = check(settings, now=later + timedelta(minutes=15))  # DingTalk is back: it gets it; the webhook not again
    assert again.opened == [] and [c for _, c in again.sent] == ["ops-ding"]
    assert [r["platform"] for r in receiver.received] == ["webhook", "dingtalk"]
    assert "weibo 被封锁" in receiver.received[1]["body"]["markdown"]["text"]
    assert check(settings, now=later + timedelta(minutes=30)).sent == []  # once

    replay.routes.clear()  # the cookie was fixed: weibo answers again
    replay.add("/api/container/getIndex", body=PAGES / "weibo" / "search_page3_last.json", content_type=JSON)
    recovered = run_crawl(settings, sources=["weibo"], env={"VOC_WEIBO_COOKIE": "SUB=x"}).source("weibo")
    assert recovered.status == "ok", recovered
    done = check(settings, now=later + timedelta(hours=1))
    assert done.resolved == first.opened and sorted(c for _, c in done.sent) == ["ops-ding", "ops-hook"]
    resolved = [r for r in receiver.received if r["platform"] == "webhook"][-1]
    assert resolved["delivery"] == first.opened[0] + ":resolved" and resolved["body"]["event"] == "resolved"
    assert check(settings, now=later + timedelta(hours=2)).sent == []
    assert len(receiver.received) == 4 and receiver.rejected == []


def test_silent_source_alerts(ops, replay):
    settings, receiver = ops
    settings = with_health(settings, notify=("ops",), silent_hours=48)
    replay.add("/api/container/getIndex", body=PAGES / "weibo" / "search_empty.json", content_type=JSON)
    run = run_crawl(settings, sources=["weibo"], env={"VOC_WEIBO_COOKIE": "SUB=x"}).source("weibo")
    assert run.status == "ok" and run.new == 0
    later = datetime.now(UTC) + timedelta(hours=49)
    receiver.now_s = later.timestamp()
    report = check(settings, now=later)
    assert len(report.opened) == 1 and len(report.sent) == 2
    assert receiver.received[0]["body"]["extra"]["problem"] == "silent"


def test_unknown_subscriber_is_a_clear_error(ops):
    settings, _ = ops
    broken = with_health(settings, notify=("nobody",))
    (broken.resolve(broken.crawl.state_path)).parent.mkdir(parents=True, exist_ok=True)
    from crawlers.state import CrawlState

    CrawlState(broken.resolve(broken.crawl.state_path)).close()
    with pytest.raises(ValueError, match="crawl.health.notify names subscriber 'nobody'"):
        check(broken, now=datetime.now(UTC))
