"""Discuz! forum spider end to end (GBK pages), blocks reported per source while others go on, and
account cookies retired at a login wall."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli import cli
from crawlers.replay_data import serve_appstore_reviews
from crawlers.runner import run_crawl

PAGES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pages" / "discuz"
FORUM = [{"name": "demo-bbs", "base_url": "http://x", "forum_ids": ["36"], "max_pages": 3, "max_thread_pages": 2}]


def serve_forum(replay):
    replay.add("/forum.php", query={"mod": "forumdisplay", "fid": "36", "page": "1"}, body=PAGES / "forum_gbk.html",
               content_type="text/html")  # GBK page whose HTTP header names no charset
    replay.add("/forum.php", query={"mod": "forumdisplay", "fid": "36", "page": "2"}, body=PAGES / "forum_utf8_last.html",
               content_type="text/html; charset=utf-8")
    replay.add("/forum.php", query={"mod": "viewthread", "tid": "20871"}, body=PAGES / "thread_gbk.html", content_type="text/html")
    replay.add("/forum.php", query={"mod": "viewthread", "tid": "20871", "page": "2"}, body=PAGES / "thread_utf8_last.html",
               content_type="text/html; charset=utf-8")
    replay.add("/forum.php", query={"mod": "viewthread"}, body=PAGES / "thread_missing_gbk.html", content_type="text/html")


def test_forum_spider_decodes_gbk_threads(crawl_settings, replay, stored_docs):
    serve_forum(replay)
    settings = crawl_settings(products=[{"id": "qingji", "name": "轻记", "forum": FORUM}])
    report = run_crawl(settings, sources=["forum"])
    run = report.source("forum")
    assert run.status == "ok", report.format()
    assert run.new > 0 and run.pages >= 3
    docs = list(stored_docs(settings).values())
    assert {d["source"] for d in docs} == {"forum:demo-bbs"}
    texts = " ".join(d["text"] for d in docs)
    assert "\ufffd" not in texts and any("\u4e00" <= ch <= "\u9fff" for ch in texts)
    assert any(d["kind"] == "post" and d["title"] for d in docs) and any(d["kind"] == "reply" for d in docs)


def test_blocked_source_is_reported_while_another_succeeds(crawl_settings, replay, tmp_path):
    serve_appstore_reviews(replay, "1600000001", 60)
    replay.add("/forum.php", body=PAGES / "login_gbk.html", content_type="text/html")
    products = [{"id": "qingji", "name": "轻记", "appstore": {"app_ids": ["1600000001"]}, "forum": FORUM,
                 "v2ex": {"nodes": ["qingji"]}}]
    settings = crawl_settings(products=products, sources={"v2ex": {"enabled": True}})
    report = run_crawl(settings, sources=["appstore", "forum"])
    assert report.source("appstore").status == "ok" and report.source("appstore").new == 60
    forum = report.source("forum")
    assert forum.status == "blocked" and forum.new == 0
    assert "登录" in forum.blocked_reason and "VOC_FORUM_DEMO_BBS_COOKIE" in forum.blocked_fix
    assert "forum:demo-bbs blocked: " in report.format()  # the forum's run is recorded under its name
    # `voc status` shows both, the block with its fix.
    env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": "rules"}
    result = CliRunner().invoke(cli, ["--config", str(settings.config_dir), "status"], env=env)
    assert result.exit_code == 0, result.output
    assert "appstore  ok" in result.output
    assert f"forum:demo-bbs blocked: {forum.blocked_reason} — {forum.blocked_fix}" in result.output
    # an enabled source with targets that has not run yet is listed too (forum's records count for forum)
    lines = result.output.splitlines()
    assert "v2ex      never run — `voc crawl v2ex` (or wait for its schedule)" in lines, result.output
    assert not any(line.startswith(("forum ", "appstore ")) and "never run" in line for line in lines)


def test_each_forum_has_a_run_record_of_its_own(crawl_settings, replay):
    from datetime import UTC, datetime

    from crawlers.state import CrawlState, SourceRun

    serve_forum(replay)
    replay.add("/forum.php", query={"mod": "forumdisplay", "fid": "99"}, body=PAGES / "login_gbk.html",
               content_type="text/html")
    replay.routes.insert(0, replay.routes.pop())  # before serve_forum's catch-all routes
    walled = {"name": "walled-bbs", "base_url": "http://x", "forum_ids": ["99"], "max_pages": 1}
    settings = crawl_settings(products=[{"id": "qingji", "name": "轻记", "forum": [*FORUM, walled]}])
    old = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:  # a record from before: plain "forum"
        state.finish_run(SourceRun(run_id="old", source="forum", product=None, status="ok", started_at=old,
                                   finished_at=old, duration=1.0, pages=2, new=5))
    report = run_crawl(settings, sources=["forum"])
    runs = {r.source: r for r in report.runs}
    assert set(runs) == {"forum:demo-bbs", "forum:walled-bbs"}, report.format()
    ok, walled_run = runs["forum:demo-bbs"], runs["forum:walled-bbs"]
    assert ok.status == "ok" and ok.new > 0 and ok.pages >= 3 and not ok.blocked_reason
    assert walled_run.status == "blocked" and (walled_run.new, walled_run.pages) == (0, 0)  # the wall: no page
    assert "VOC_FORUM_WALLED_BBS_COOKIE" in walled_run.blocked_fix
    whole = report.source("forum")  # callers asking for "forum" get both summed up, the block winning
    assert (whole.status, whole.new, whole.pages) == ("blocked", ok.new, ok.pages)
    assert whole.blocked_fix == walled_run.blocked_fix
    env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": "rules"}
    result = CliRunner().invoke(cli, ["--config", str(settings.config_dir), "status"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("forum:demo-bbs ok") for line in lines), result.output
    assert any(line.startswith("forum:walled-bbs blocked") for line in lines), result.output
    assert any(line.startswith("forum     ok") for line in lines), result.output  # the old record still shows


def test_cookie_hitting_login_wall_is_retired_and_the_next_one_used(crawl_settings, replay):
    from crawlers.replay import Reply

    def handler(req):
        if "account=good" in req.headers.get("cookie", ""):
            return Reply(200, (PAGES / "forum_utf8_last.html").read_bytes(), {"Content-Type": "text/html; charset=utf-8"})
        return Reply(200, (PAGES / "login_gbk.html").read_bytes(), {"Content-Type": "text/html"})

    replay.add_handler("/forum.php", handler, query={"mod": "forumdisplay"})
    replay.add("/forum.php", query={"mod": "viewthread"}, body=PAGES / "thread_utf8_last.html",
               content_type="text/html; charset=utf-8")
    settings = crawl_settings(products=[{"id": "qingji", "name": "轻记", "forum": FORUM}],
                              sources={"forum": {"cookies_env": "VOC_DEMO_COOKIES"}})
    cookies = "account=expired; sid=1\n---\naccount=good; sid=2"
    report = run_crawl(settings, sources=["forum"], env={"VOC_DEMO_COOKIES": cookies})
    run = report.source("forum")
    assert run.status == "ok" and run.new > 0, report.format()
    notes = [m for m in run.error_messages if "retired" in m]
    assert len(notes) == 1 and "cookie #1 (" in notes[0] and "VOC_DEMO_COOKIES" in notes[0]
    assert "expired" not in notes[0] and "sid=1" not in notes[0]  # named by position/fingerprint, never by value
    sent = [r.headers.get("cookie") for r in replay.requests]
    assert "account=expired; sid=1" in sent and "account=good; sid=2" in sent
