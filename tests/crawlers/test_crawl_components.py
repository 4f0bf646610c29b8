"""Component tests: crawl state, the Scrapy settings adapter, account rotation, batching, runner checks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawlers.config import parse_since, scrapy_settings, source_overrides
from crawlers.errors import CrawlError
from crawlers.batcher import Batcher
from crawlers.runner import run_crawl, select_sources
from crawlers.state import CrawlState, LockHeld, SourceRun
from crawlers.tracking import AccountPool

REPO = Path(__file__).resolve().parents[2]

NOW = datetime(2026, 11, 24, 3, 5, tzinfo=UTC)


def test_cursor_only_moves_forward(tmp_path):
    with CrawlState(tmp_path / "state.db") as state:
        assert state.cursor("appstore", "1") is None
        state.advance_cursor("appstore", "1", NOW)
        assert state.advance_cursor("appstore", "1", NOW - timedelta(days=1)) == NOW
        assert state.cursor("appstore", "1") == NOW
        state.advance_cursor("appstore", "1", NOW + timedelta(minutes=1))
        assert state.cursors() == {("appstore", "1"): NOW + timedelta(minutes=1)}


def test_lock_excludes_a_live_process_and_is_taken_over_when_stale(tmp_path):
    path = tmp_path / "state.db"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with CrawlState(path) as state:
            state.acquire_lock("weibo", owner="other", pid=child.pid)
            assert state.is_locked("weibo")
            with pytest.raises(LockHeld, match=f"weibo is already being crawled by other \\(pid {child.pid}"):
                state.acquire_lock("weibo")
            with state.acquire_lock("huawei") as lock:  # other sources are free
                assert state.is_locked("huawei")
            assert lock.released and not state.is_locked("huawei")
    finally:
        child.kill()
        child.wait()
    with CrawlState(path) as state:
        assert not state.is_locked("weibo")  # its holder died: stale
        state.acquire_lock("weibo").release()


def test_run_history_and_source_health(tmp_path):
    with CrawlState(tmp_path / "state.db") as state:
        ok = SourceRun(run_id="r1", source="appstore", product="qingji", status="ok", started_at=NOW - timedelta(days=1),
                       finished_at=NOW - timedelta(days=1), duration=3.0, pages=4, new=120, dropped={"app_info": 1})
        state.finish_run(ok)
        state.start_run("r2", "appstore", started_at=NOW)
        blocked = SourceRun(run_id="r2", source="appstore", product=None, status="blocked", started_at=NOW,
                            finished_at=NOW, duration=1.0, pages=1, new=5, blocked_reason="HTTP 429", blocked_fix="slow down")
        state.finish_run(blocked)
        assert [r.run_id for r in state.last_runs()] == ["r2", "r1"]
        assert state.runs("r1")[0].dropped == {"app_info": 1}
        (health,) = state.source_health(days=3, now=NOW)
        assert health.last_run.run_id == "r2" and health.blocked == ("HTTP 429", "slow down")
        assert health.last_success == NOW - timedelta(days=1)
        assert health.items_per_day == (("2026-11-22", 0), ("2026-11-23", 120), ("2026-11-24", 5))
        state.start_run("r3", "weibo", started_at=NOW)
        assert state.fail_unfinished("r3", "crawler process killed by signal 9") == 1
        assert state.runs("r3")[0].status == "failed"


def test_parse_since():
    assert parse_since("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_since("24h", now=NOW) == NOW - timedelta(hours=24)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since(None) is None
    with pytest.raises(ValueError, match="--since must look like 7d.*'yesterday'"):
        parse_since("yesterday")


def test_scrapy_settings_adapter(settings):
    values = scrapy_settings(settings, run_id="r1")
    c = settings.crawl
    assert values["DOWNLOAD_MAXSIZE"] == c.max_page_bytes and values["DOWNLOAD_TIMEOUT"] == c.download_timeout
    assert values["CONCURRENT_REQUESTS"] == c.concurrent_requests and values["AUTOTHROTTLE_ENABLED"] == c.autothrottle
    assert values["VOC_RETRY_TIMES"] == c.retry_times and values["VOC_STATE_PATH"] == str(settings.home / "data" / "state.db")
    assert list(values["ITEM_PIPELINES"]) == [f"crawlers.pipelines.{n}Pipeline" for n in
                                              ("Validate", "Normalize", "Dedupe", "Classify", "Index", "Cursor")]
    assert source_overrides(settings, "forum")["ROBOTSTXT_OBEY"] is True
    assert source_overrides(settings, "appstore")["ROBOTSTXT_OBEY"] is False
    weibo = source_overrides(settings, "weibo")
    assert weibo["DOWNLOAD_DELAY"] == 3.0 and "iPhone" in weibo["USER_AGENT"]
    # Scrapy imports every extension its settings name, even one set to None; RemoteControl's module imports
    # aiohttp, so it is not named at all (it is off either way), while Scrapy's other defaults stay.
    assert not any("RemoteControl" in k for k in (*values["EXTENSIONS_BASE"], *values["EXTENSIONS"]))
    assert "scrapy.extensions.corestats.CoreStats" not in values["EXTENSIONS_BASE"]
    assert values["EXTENSIONS_BASE"]["crawlers.extensions.CoreStats"] == 0  # in Scrapy's place, its item count below
    assert "scrapy.extensions.logstats.LogStats" in values["EXTENSIONS_BASE"]


def test_account_pool_rotates_and_retires_without_showing_values():
    pool = AccountPool.from_secret("weibo", "SUB=aaa\n---\nSUB=bbb; _T_WM=1\n---\n", env_name="VOC_WEIBO_COOKIE")
    assert pool.cookies == ["SUB=aaa", "SUB=bbb; _T_WM=1"]
    assert [pool.next()[0] for _ in range(4)] == [0, 1, 0, 1]
    msg = pool.retire(0, "login wall")
    assert msg.startswith("weibo cookie #1 (") and "VOC_WEIBO_COOKIE" in msg and "aaa" not in msg
    assert [pool.next()[0] for _ in range(3)] == [1, 1, 1]
    pool.retire(1, "login wall")
    assert pool.next() is None and pool.active == []


def test_batcher_flushes_on_size_and_after_wait():
    calls = []

    def flush(values):
        calls.append(list(values))
        return [v * 10 for v in values]

    async def main():
        b = Batcher(flush, size=3, wait=0.05)
        first = [b.add(i) for i in range(3)]  # full batch: flushed at once
        assert calls == [[0, 1, 2]]
        tail = b.add(7)
        assert await asyncio.gather(*first) == [0, 10, 20]
        assert await tail == 70 and calls[-1] == [7]  # the partial batch after the wait

    asyncio.run(main())


def test_batcher_with_an_executor_sends_a_partial_batch_when_idle_and_grows_batches_while_busy():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    calls, running = [], threading.Event()
    release = threading.Event()

    def flush(values):
        calls.append(list(values))
        if len(calls) == 1:
            running.set()
            release.wait(10)  # the first batch stays "in the worker" until released
        return [v * 10 for v in values]

    async def main():
        with ThreadPoolExecutor(max_workers=1) as executor:
            b = Batcher(flush, size=4, wait=60, executor=executor, gather=0.0)
            first = b.add(1)  # the executor idles: this partial batch must not wait the 60 s
            await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, running.wait, 10), 10)
            assert calls == [[1]] and b.in_flight == 1
            full = [b.add(v) for v in (2, 3, 4, 5)]  # a full batch goes at once, queued behind the first
            tail = b.add(6)  # partial while the executor is busy: it waits, growing
            assert b.in_flight == 2 and len(b) == 1
            release.set()
            results = await asyncio.wait_for(asyncio.gather(first, *full, tail), 10)
            assert results == [10, 20, 30, 40, 50, 60]
            assert calls == [[1], [2, 3, 4, 5], [6]]  # the tail went when the executor was free, not after 60 s
            assert b.in_flight == 0 and len(b) == 0

    asyncio.run(main())


def test_batcher_hands_the_batch_error_to_every_item_and_reports_it_once_per_batch():
    def flush(values):
        raise RuntimeError(f"index down for {values}")

    reported: list[str] = []

    async def main():
        b = Batcher(flush, size=2, wait=1, on_error=lambda exc: reported.append(str(exc)))
        futures = [b.add(1), b.add(2), b.add(3)]
        b.flush()  # the partial batch [3] goes now
        for fut in futures:
            with pytest.raises(RuntimeError, match="index down"):
                await fut

    asyncio.run(main())
    assert reported == ["index down for [1, 2]", "index down for [3]"]


def test_batcher_whose_executor_refuses_work_fails_the_batch_instead_of_leaving_it_waiting():
    """A classifier worker gone for good refuses new calls: every item of the batch gets that error, also a
    partial batch sent by the timer — none waits forever, and later batches fail the same way."""
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()

    async def main():
        b = Batcher(lambda values: values, size=2, wait=0.01, executor=executor, gather=0.0)
        futures = [b.add(1), b.add(2), b.add(3)]  # a full batch at once, then a partial one by the timer
        results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 5)
        assert all(isinstance(r, RuntimeError) and "shutdown" in str(r) for r in results), results
        assert b.in_flight == 0 and len(b) == 0

    asyncio.run(main())


def _through(pipe, crawler, item):
    """``item`` through ``pipe`` as Scrapy's scraper sends it: a DropItem is announced with ``item_dropped``."""
    from scrapy import signals
    from scrapy.exceptions import DropItem

    try:
        return pipe.process_item(item)
    except DropItem as exc:
        crawler.signals.send_catch_log(signals.item_dropped, item=item, response=None, spider=None, exception=exc)
        raise


def test_the_same_id_again_in_a_run_is_dropped_unless_its_counters_or_text_changed():
    from scrapy.exceptions import DropItem
    from scrapy.utils.test import get_crawler

    from crawlers.items import FeedbackItem
    from crawlers.pipelines import DedupePipeline
    from crawlers.tracking import tracker

    crawler = get_crawler(settings_dict={"EXTENSIONS": {"crawlers.tracking.RunTracking": 0}})
    pipe = DedupePipeline.from_crawler(crawler)

    def item(likes: int, text: str) -> FeedbackItem:
        it = FeedbackItem(source="appstore", source_id="r1", product="qingji", text=text, likes=likes)
        it.doc = {"id": it.id, "product": "qingji", "text": text, "likes": likes, "replies": None, "reposts": None,
                  "dup_of": None}
        return it

    _through(pipe, crawler, item(1, "更新后一打开就闪退"))
    with pytest.raises(DropItem, match="duplicate"):
        _through(pipe, crawler, item(1, "更新后一打开就闪退"))
    _through(pipe, crawler, item(2, "更新后一打开就闪退"))  # more likes: indexed again, the latest counters win
    _through(pipe, crawler, item(2, "更新后一打开就闪退，重装也不行"))  # the text was edited
    with pytest.raises(DropItem, match="duplicate"):
        _through(pipe, crawler, item(2, "更新后一打开就闪退，重装也不行"))
    assert crawler.stats.get_value("voc/dropped/duplicate") == 2
    run = tracker(crawler)
    assert run.dropped == {"duplicate": 2} and run.parts["appstore"].dropped == {"duplicate": 2}


def test_each_crawler_has_its_own_run_tracker_fed_by_scrapys_item_signals(settings):
    """Drops are counted from Scrapy's ``item_dropped`` (reason and document source); an item lost with its
    batch keeps its target's cursor; another crawler of the same process counts nothing of it."""
    from scrapy import signals
    from scrapy.utils.test import get_crawler

    from crawlers.items import FeedbackItem
    from crawlers.tracking import Dropped, tracker

    one, other = (get_crawler(settings_dict=scrapy_settings(settings, run_id=r)) for r in ("r1", "r2"))
    item = FeedbackItem(source="appstore", source_id="42", product="qingji", target="1600000001", text="闪退")
    for exc in (Dropped("before_since", "42"), Dropped("index_failed", "OperationalError('disk full')", lost=True)):
        one.signals.send_catch_log(signals.item_dropped, item=item, response=None, spider=None, exception=exc)
    run = tracker(one)
    assert run.dropped == {"before_since": 1, "index_failed": 1} == run.parts["appstore"].dropped
    assert one.stats.get_value("voc/dropped/index_failed") == 1
    assert run.failed_targets == {("appstore", "1600000001")}  # lost, not refused: fetched again next run
    assert tracker(other) is not run and tracker(other).dropped == {} and not tracker(other).failed_targets


def test_select_sources_and_runner_errors(settings):
    chosen, left_out = select_sources(settings, None, None)
    assert chosen == ["appstore", "forum"]  # enabled sources with targets
    assert "disabled" in left_out["weibo"]
    assert select_sources(settings, ["weibo"], "qingji")[0] == ["weibo"]  # named: runs even when disabled
    with pytest.raises(CrawlError, match="unknown source 'nope'"):
        run_crawl(settings, sources=["nope"])
    with pytest.raises(CrawlError, match="unknown product 'nope'"):
        run_crawl(settings, product="nope")
    with pytest.raises(CrawlError, match="--since must look like"):
        run_crawl(settings, since="soon")
    assert not (settings.home / "data").exists()  # nothing started, nothing written


def test_starting_a_crawl_does_not_import_scrapy_in_the_caller(crawl_settings):
    """Scrapy runs in the crawler child; `voc crawl` and the scheduler used to import it (0.23 s) just to
    name the run, before the child could even start."""
    settings = crawl_settings(products=[])
    code = (
        "import json, sys\n"
        "from configs import load_settings\n"
        "from crawlers.runner import start_crawl\n"
        "job = start_crawl(load_settings(sys.argv[1], env=json.loads(sys.argv[2])))\n"
        "print('scrapy' in sys.modules, bool(job.run_id))\n"
    )
    env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": "rules"}
    out = subprocess.run([sys.executable, "-c", code, str(settings.config_dir), json.dumps(env)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.split() == ["False", "True"]


def test_the_crawler_child_reports_a_broken_config_even_with_its_worker_already_loading(tmp_path):
    import shutil

    broken = tmp_path / "configs"
    shutil.copytree(REPO / "configs", broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (broken / "voc.yaml").write_text("crawl: [broken\n", encoding="utf-8")
    from crawlers import _classify_worker

    spec = {"config_dir": str(REPO / "configs"), "env": {"VOC_HOME": str(tmp_path / "home"),
            "VOC_CLASSIFIER_MODEL": "classifier/models/voc-small", "VOC_INDEX_URL": "sqlite:///data/index.db"}}
    proc, sock = _classify_worker.spawn(spec["config_dir"], spec["env"])  # loading, as the runner starts it
    try:
        env = {**os.environ, "VOC_CONFIG_DIR": str(broken), "VOC_HOME": str(tmp_path / "home"),
               _classify_worker.WORKER_ENV: json.dumps({**spec, "fd": sock.fileno(), "pid": proc.pid})}
        out = subprocess.run([sys.executable, "-m", "crawlers", "crawl", "appstore"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=60, pass_fds=(sock.fileno(),))
        assert out.returncode == 2
        assert "voc.yaml: invalid YAML" in out.stderr and "Traceback" not in out.stderr
        assert proc.wait(timeout=10) == -9  # the model nobody will use stopped loading at once
    finally:
        sock.close()
        proc.kill()
        proc.wait(timeout=30)


def test_scrapy_cfg_names_the_settings_module():
    assert "default = crawlers.settings" in (REPO / "scrapy.cfg").read_text()
    out = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "VOC_CLASSIFIER_MODEL": "rules"})
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.split() == sorted(["appstore", "forum", "heimao", "huawei", "tieba", "v2ex", "weibo", "xiaomi", "yyb", "zhihu"])


def test_public_surface():
    import crawlers

    assert sorted(crawlers.__all__) == sorted(n for n in crawlers.__all__ if hasattr(crawlers, n))
    assert {"run_crawl", "CrawlState", "FeedbackItem", "CrawlReport"} <= set(crawlers.__all__)
    assert set(dir(crawlers)) >= set(crawlers.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        crawlers.nope  # noqa: B018


def test_the_crawler_child_and_its_worker_do_not_import_the_package_surface():
    # `python -m crawlers` and the classifier worker import submodules of the package; its public names load on
    # first use, so neither process pays for the runner, the settings and the state store before it starts.
    code = "import sys, crawlers.__main__, crawlers._classify_worker; print(sorted(m for m in sys.modules if m.startswith(('crawlers.', 'configs'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.split() == ["['crawlers.__main__',", "'crawlers._classify_worker']"]


def test_readme_documents_every_source_and_crawl_setting(settings):
    from dataclasses import fields

    from configs.crawl import CrawlSettings
    from configs.sources import SOURCE_NAMES

    readme = (REPO / "crawlers" / "README.md").read_text(encoding="utf-8")
    for name in SOURCE_NAMES:
        assert f"| `{name}` |" in readme, name
    for f in fields(CrawlSettings):
        assert f"`{f.name}`" in readme, f.name
    for name in SOURCE_NAMES:
        env = settings.sources.source(name).cookies_env
        if env:
            assert env in readme


def test_rotation_middleware_user_agents_proxies_accounts_and_draining():
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    from crawlers.middlewares import VocRotationMiddleware, browser_cookies
    from crawlers.tracking import RunTracker

    pool = AccountPool("weibo", ["SUB=a", "SUB=b"])
    mw = VocRotationMiddleware(user_agents=["UA1", "UA2"], proxies=["http://p1:8080", "http://p2:8080"], accounts=pool)
    reqs = [Request(f"https://m.weibo.cn/api/{i}") for i in range(3)]
    for r in reqs:
        mw.process_request(r)
    assert [r.headers[b"User-Agent"] for r in reqs] == [b"UA1", b"UA2", b"UA1"]
    assert [r.meta["proxy"] for r in reqs] == ["http://p1:8080", "http://p2:8080", "http://p1:8080"]
    assert [r.headers[b"Cookie"] for r in reqs] == [b"SUB=a", b"SUB=b", b"SUB=a"]
    browser = Request("https://www.zhihu.com/api/v4/x", meta={"playwright": True})
    mw.process_request(browser)
    assert b"Cookie" not in browser.headers and browser.meta["playwright_context"] == "voc-account-2"
    assert browser.meta["playwright_context_kwargs"]["storage_state"]["cookies"] == browser_cookies("SUB=b", "https://www.zhihu.com")

    t = RunTracker(source="forum")
    mw_t = VocRotationMiddleware(user_agents=["UA"], run=t)
    t.block("Discuz: 您尚未登录", "set VOC_X_COOKIE", kind="login")
    mw_t.process_request(Request("https://bbs.example/1"))  # one login wall: the rest goes on
    t.block("HTTP 432", "set VOC_WEIBO_COOKIE", kind="forbidden")
    with pytest.raises(IgnoreRequest, match="blocked"):
        mw_t.process_request(Request("https://bbs.example/2"))
    assert t.blocked == ("Discuz: 您尚未登录", "set VOC_X_COOKIE")  # the first block is the one reported


def test_index_pipeline_upserts_on_its_own_thread_in_order(tmp_path):
    import threading

    from crawlers.items import FeedbackItem, doc_id
    from crawlers.pipelines import IndexPipeline, NormalizePipeline
    from index.sqlite_fts import SqliteIndex

    class Probe:  # the real index; notes the thread each upsert ran on
        def __init__(self, index):
            self.index, self.threads = index, []

        def upsert(self, docs):
            self.threads.append(threading.current_thread().name)
            return self.index.upsert(docs)

        def close(self):
            self.index.close()

    index = Probe(SqliteIndex(tmp_path / "voc.db", tokenizer=str.split))
    normalize = NormalizePipeline(normalize=str.strip, tokenize=str.split)
    pipe = IndexPipeline(index=index, batch_size=2)

    def item(n, likes):
        return normalize.process_item(FeedbackItem(source="v2ex", source_id=str(n), product="qingji", kind="post",
                                                   text=f"同步 失败 {n}", created_at=NOW, likes=likes))

    async def main():
        await asyncio.gather(*(pipe.process_item(item(n, 1)) for n in range(5)))
        # the same documents again with new counters: applied after the first writes, never before
        await asyncio.gather(*(pipe.process_item(item(n, 7)) for n in range(5)))

    asyncio.run(main())
    pipe.close_spider()
    assert index.threads and all(name.startswith("voc-index") for name in index.threads)
    reopened = SqliteIndex(tmp_path / "voc.db", tokenizer=str.split)
    try:
        assert [reopened.get(doc_id("v2ex", str(n)))["likes"] for n in range(5)] == [7] * 5
    finally:
        reopened.close()


def test_an_item_stage_failing_unexpectedly_is_an_error_of_the_run_and_holds_its_cursor(settings):
    from scrapy import signals
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler
    from twisted.python.failure import Failure

    from crawlers.items import FeedbackItem
    from crawlers.tracking import tracker

    crawler = get_crawler(settings_dict=scrapy_settings(settings, run_id="r1"))  # its extensions hear the signal
    item = FeedbackItem(source="appstore", source_id="42", product="qingji", target="1600000001", text="闪退")
    try:
        raise UnicodeEncodeError("utf-8", "a\ud800", 1, 2, "surrogates not allowed")
    except UnicodeEncodeError:
        failure = Failure()
    crawler.signals.send_catch_log(signals.item_error, item=item, response=Response("https://itunes.apple.com/x"),
                                   spider=None, failure=failure)
    t = tracker(crawler)
    assert t.errors == 1 and t.error_messages[0].startswith("https://itunes.apple.com/x: item appstore/42 failed: ")
    assert "surrogates not allowed" in t.error_messages[0]
    assert ("appstore", "1600000001") in t.incomplete_targets  # the cursor stays: the item is fetched again
