"""Silence is an error, through the real Scrapy engine against the replay server.

A page that has content and yields nothing fails its source's run, names the URL and keeps the body in quarantine;
``voc status`` says what to do; ``voc crawl --from-quarantine`` re-parses kept bodies into the index; a target
that yielded items last time and none now is a warning. Also (issue 23): a crawl that cannot open its index fails
loudly; ``voc status`` recognises a dead run; a forum block names the cookie variable that is really read.
"""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from app.cli import cli
from crawlers.quarantine import Quarantine, pending
from crawlers.replay_data import serve_appstore_reviews
from crawlers.runner import run_crawl, start_crawl
from crawlers.state import CrawlState

PAGES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pages"
JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"


def product(**targets):
    return [{"id": "demo", "name": "演示银行", **targets}]


def voc(settings, *args: str):
    env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": "rules"}
    return CliRunner().invoke(cli, ["--config", str(settings.config_dir), *args], env=env)


def test_json_of_unknown_shape_fails_the_source_keeps_the_body_and_status_says_what_to_do(crawl_settings, replay):
    # A real Weibo answer of another endpoint (app-API statuses/show) where the search's card list was expected.
    body = (PAGES / "weibo" / "real" / "weiback-rs_tests_data_statuses_show.json").read_bytes()
    body = body.replace(b'"text"', b'"txet"')  # …and not even a status we could read: no shape we know
    replay.add("/api/container/getIndex", body=body, content_type=JSON)
    replay.add("/edge/uowap/index", query={"reqPageNum": "1"}, body=PAGES / "huawei" / "comments_page3_last.json",
               content_type=JSON)
    replay.add("/edge/uowap/index", query={"reqPageNum": "2"}, body=PAGES / "huawei" / "comments_empty.json",
               content_type=JSON)
    settings = crawl_settings(products=product(weibo={"keywords": ["演示银行"]}, huawei={"app_ids": ["C1"]}))
    result = voc(settings, "crawl", "weibo", "huawei")
    assert result.exit_code == 1, result.output
    assert "huawei    ok" in result.output and "weibo     failed" in result.output
    assert "weibo unknown_shape: http://127.0.0.1:" in result.output and "/api/container/getIndex" in result.output
    saved = list((settings.home / "data" / "quarantine" / "weibo").glob("*/*.body"))
    assert len(saved) == 1 and saved[0].read_bytes() == body
    assert f"body saved to {saved[0]}" in result.output
    assert "`voc crawl --from-quarantine weibo`" in result.output
    status = voc(settings, "status")
    assert status.exit_code == 0, status.output
    assert "weibo     failed" in status.output and "weibo unknown_shape: " in status.output
    assert "what to do:" in status.output and "`voc crawl --from-quarantine weibo`" in status.output
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("weibo", "演示银行") is None


def test_real_bar_page_then_an_empty_bar_is_a_warning(crawl_settings, replay):
    """The real BigPipe bar page (48 threads after </html>) read through the engine; the next run's bar shows an
    empty list: not a failure (an empty bar exists), but a warning, since the target yielded before."""
    real_bar = PAGES / "tieba" / "real" / "mediacrawler_tieba_note_list.html"
    replay.add("/f", body=real_bar, content_type=HTML)
    settings = crawl_settings(products=product(tieba={"bars": ["盗墓笔记"], "max_pages": 1, "threads": False}))
    first = run_crawl(settings, sources=["tieba"]).source("tieba")
    assert (first.status, first.pages, first.errors, first.failures, first.warnings) == ("ok", 1, 0, (), ())
    replay.routes.clear()
    replay.add("/f", body=PAGES / "tieba" / "forum_empty.html", content_type=HTML)
    second = run_crawl(settings, sources=["tieba"]).source("tieba")
    assert second.status == "ok" and second.failures == ()
    assert len(second.warnings) == 1 and "'bar:盗墓笔记' yielded 48 items or threads last run and none now" in second.warnings[0]
    assert "warning: tieba target 'bar:盗墓笔记'" in voc(settings, "status").output


def test_from_quarantine_reparses_saved_bodies_into_the_index(crawl_settings, replay, stored_docs):
    """A real Tieba search page an older parser could not read (its title-only hit, say), kept in quarantine, is
    re-parsed by today's parser: its hits reach the index, nothing is fetched, the entry moves to reparsed/."""
    settings = crawl_settings(products=product(tieba={"keywords": ["园区"]}))
    root = settings.resolve(settings.crawl.quarantine_dir)
    body = (PAGES / "tieba" / "real" / "mediacrawler_search_keyword_notes.html").read_bytes()
    url = "https://tieba.baidu.com/f/search/res?isnew=1&qw=%E5%9B%AD%E5%8C%BA&rn=10&pn=1&sm=1&only_thread=0"
    path, _ = Quarantine(root, max_bytes=10_000_000).save(
        source="tieba", run_id="20240806T000000Z-old", kind="tieba_search", url=url, reason="parse_empty",
        detail="search page: 10 hits, none parsed", body=body, product="demo", target="search:园区")
    assert path is not None and [e.body_path for e in pending(root)] == [path]
    result = voc(settings, "crawl", "--from-quarantine", "tieba")
    assert result.exit_code == 0, result.output
    assert "tieba     ok       pages 1, new 10" in result.output
    docs = [d for d in stored_docs(settings).values() if d["source"] == "tieba"]
    assert len(docs) == 10 and {d["product"] for d in docs} == {"demo"}
    assert any(d["source_id"] == "150510120873" and "工 价 低" in d["text"] for d in docs)  # the title-only hit
    assert replay.requests == []  # nothing crawled
    assert list(pending(root)) == [] and (root / "tieba" / "reparsed" / "20240806T000000Z-old" / path.name).exists()
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("tieba", "search:园区") is None  # a re-parse moves no cursor
    assert "nothing in quarantine to re-parse" in voc(settings, "crawl", "--from-quarantine").output


def test_quarantine_is_capped_per_source(tmp_path):
    q = Quarantine(tmp_path, max_bytes=2500)
    kept = [q.save(source="forum:bbs", run_id=f"r{i}", kind="discuz_thread", url=f"http://x/{i}", reason="parse_empty",
                   detail="", body=bytes([65 + i]) * 1000, product="p", target="2")[0] for i in range(3)]
    assert all(kept) and not kept[0].exists() and kept[1].exists() and kept[2].exists()  # the oldest went
    path, message = q.save(source="forum:bbs", run_id="r9", kind="discuz_thread", url="http://x/9", reason="parse_empty",
                           detail="", body=b"x" * 3000, product="p", target="2")
    assert path is None and "over crawl.quarantine_max_bytes" in message
    assert sorted(e.meta["url"] for e in pending(tmp_path, ["forum"])) == ["http://x/1", "http://x/2"]


def test_crawl_that_cannot_open_its_index_fails_loudly(crawl_settings, replay):
    """Issue 23 finding 4: the index pipeline's error was lost in an unhandled Deferred, the child exited 0 and
    `voc crawl` said "nothing to crawl"."""
    serve_appstore_reviews(replay, "1600000001", 10)
    settings = crawl_settings()
    (settings.home / "data").mkdir(parents=True, exist_ok=True)
    (settings.home / "data" / "voc.db").mkdir()  # the index file cannot be opened (a folder in its place)
    result = voc(settings, "crawl", "appstore")
    assert result.exit_code == 1, result.output
    assert "nothing to crawl" not in result.output
    assert "appstore  failed" in result.output
    assert "the appstore crawler could not run: BackendUnavailableError: cannot open the SQLite index" in result.output
    status = voc(settings, "status").output
    assert "appstore  failed" in status and "last error: the appstore crawler could not run" in status


def test_status_shows_a_killed_run_as_died_with_its_last_error(crawl_settings, replay):
    """Issue 23 finding 9: a run whose process was killed (and whose parent `voc crawl` went with it, so nobody
    recorded the end) showed "running" for ever."""
    serve_appstore_reviews(replay, "1600000001", 300, delay=lambda page: 2.0 if page >= 2 else 0.0)
    settings = crawl_settings()
    job = start_crawl(settings, sources=["appstore"])
    deadline = time.monotonic() + 60
    state_path = settings.resolve(settings.crawl.state_path)
    while True:
        assert time.monotonic() < deadline, "the crawl never started"
        if state_path.exists():
            with CrawlState(state_path) as state:
                if [r.status for r in state.runs(job.run_id)] == ["running"]:
                    break
        time.sleep(0.05)
    with open(job.log_path, "a", encoding="utf-8") as log:  # what a full disk leaves in the log, say
        log.write("2026-12-07 10:00:00 [crawlers] ERROR: OSError: [Errno 28] No space left on device\n")
    job.kill()
    job.proc.wait()  # the parent is gone too: nobody calls job.wait() to record the end
    if job.worker is not None:
        job.worker.kill()
        job.worker.wait()
    status = voc(settings, "status").output
    assert "appstore  died" in status and "running" not in status.split("\n")[0]
    assert f"pid {job.pid}" in status and "No space left on device" in status


def test_forum_block_names_the_cookie_variable_really_read(crawl_settings, replay):
    """Issue 23 finding 9: the fix said `set VOC_FORUM_DEMO_BBS_COOKIE`, a variable nothing reads unless
    `sources.forum.cookies_env` names it."""
    replay.add("/forum.php", body=PAGES / "discuz" / "login_gbk.html", content_type="text/html; charset=gbk")
    forum = {"name": "demo-bbs", "base_url": "http://x", "forum_ids": ["2"], "encoding": "gbk"}
    settings = crawl_settings(products=product(forum=[forum]))
    run = run_crawl(settings, sources=["forum"]).source("forum")
    assert run.status == "blocked"
    assert "name it in sources.forum.cookies_env" in run.blocked_fix, run.blocked_fix
    named = crawl_settings(root=settings.home.parent / "named", products=product(forum=[forum]),
                           sources={"forum": {"cookies_env": "VOC_BBS_COOKIES"}})
    run = run_crawl(named, sources=["forum"]).source("forum")
    assert run.status == "blocked" and "VOC_BBS_COOKIES" in run.blocked_fix and "VOC_FORUM_" not in run.blocked_fix


def test_a_page_whose_every_row_is_unreadable_is_parse_empty_for_any_source(crawl_settings, replay):
    """The class rule in VocSpider.take: rows there, none read (here AppGallery renamed ``commentInfo``; the page is
    the constructed fixture with that one key renamed) — a failure with the body kept, not an empty last page."""
    body = (PAGES / "huawei" / "comments_page1.json").read_bytes().replace(b'"commentInfo"', b'"commentText"')
    replay.add("/edge/uowap/index", query={"reqPageNum": "1"}, body=body, content_type=JSON)
    settings = crawl_settings(products=product(huawei={"app_ids": ["C1"]}))
    run = run_crawl(settings, sources=["huawei"]).source("huawei")
    assert run.status == "failed" and run.new == 0
    assert [f["reason"] for f in run.failures] == ["parse_empty"] and "rows, none read (missing_field" in run.failures[0]["detail"]
    assert len(list((settings.home / "data" / "quarantine" / "huawei").glob("*/*.body"))) == 1
