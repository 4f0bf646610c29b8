"""The crawl on a shared Redis frontier (scrapy-redis) with tag workers behind a Redis Streams item queue, against
a real redis-server and the loopback replay server: it ends with exactly the documents of a single-process run."""

from __future__ import annotations

from crawlers.replay_data import serve_appstore_reviews
from crawlers.runner import run_crawl
from crawlers.state import CrawlState, iso

APPS = ("1600000001", "1600000002")


def comparable(docs):
    return {i: {k: v for k, v in d.items() if k != "crawled_at"} for i, d in docs.items()}


def products():
    return [{"id": "qingji", "name": "轻记", "appstore": {"app_ids": list(APPS), "country": "cn", "max_pages": 10}}]


def test_round_on_the_frontier_equals_single_process_run(crawl_settings, replay, stored_docs, redis_server, tmp_path):
    for i, app in enumerate(APPS):
        serve_appstore_reviews(replay, app, 120, first=1000 * i)
    single = crawl_settings(root=tmp_path / "single", products=products())
    ref = run_crawl(single, sources=["appstore"])
    assert ref.ok, ref.format()
    expected = comparable(stored_docs(single))
    assert len(expected) == 240

    # Only the configuration differs: crawl.redis.url puts the same run_crawl on the frontier.
    shared = crawl_settings(root=tmp_path / "shared", products=products(), crawl={"redis": {"url": redis_server.url}})
    report = run_crawl(shared, sources=["appstore"])
    assert report.ok, report.format()
    assert comparable(stored_docs(shared)) == expected
    with CrawlState(single.resolve(single.crawl.state_path)) as state:
        want = state.cursors()
    with CrawlState(shared.resolve(shared.crawl.state_path)) as state:
        assert state.cursors() == want  # mirrored into the coordinator's crawl state (voc status)
    client = redis_server.client()
    assert client.xinfo_groups("voc:items")[0]["entries-read"] == 240  # through the item queue indeed
    assert {tuple(k.decode().split("\t")): v.decode() for k, v in client.hgetall("voc:cursors").items()} == \
        {k: iso(v) for k, v in want.items()}


# -- three crawl workers, two tag workers; kill -9 one of each; restart Redis -------------------------------------
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import psutil  # noqa: E402

from crawlers.rounds import start_crawl_worker, start_tag_worker  # noqa: E402

MANY = ("1600000011", "1600000012", "1600000013", "1600000014")
FAST = {"redis": {"heartbeat": 0.5, "dead_after": 2.0, "claim_after": 2.0}}


def many_products():
    return [{"id": "qingji", "name": "轻记", "appstore": {"app_ids": list(MANY), "country": "cn", "max_pages": 10}}]


def serve_many(replay, delay=0.8):
    ids = []
    for i, app in enumerate(MANY):
        ids += serve_appstore_reviews(replay, app, 300, first=1000 * i, delay=lambda page: delay if page > 1 else 0.0)
    return ids


def reference(crawl_settings, stored_docs, tmp_path):
    single = crawl_settings(root=tmp_path / "single", products=many_products())
    assert run_crawl(single, sources=["appstore"]).ok
    with CrawlState(single.resolve(single.crawl.state_path)) as state:
        cursors = state.cursors()
    return comparable(stored_docs(single)), cursors


class Cluster:
    """Crawl and tag workers as separate processes on one Redis, like `voc worker crawl|tag` on several machines."""

    def __init__(self, settings, url, crawlers=3, taggers=2):
        self.settings, self.url = settings, url
        log_dir = settings.home / "data" / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(log_dir / "cluster.log", "ab")
        self.crawl = [start_crawl_worker(settings, url, log=self.log, poll=0.2) for _ in range(crawlers)]
        self.tag = [start_tag_worker(settings, url, log=self.log) for _ in range(taggers)]
        self.result = None

    def run_round(self, **kwargs):
        from crawlers.rounds import run_round

        def go():
            self.result = run_round(self.settings, self.url, sources=["appstore"], tag_workers=0, crawl_here=False,
                                    timeout=150, **kwargs)

        self.thread = threading.Thread(target=go)
        self.thread.start()
        return self

    def wait(self):
        self.thread.join(170)
        return self.result

    def crawl_child(self, worker):
        """The Scrapy process a crawl worker runs for the current round (what does the crawling)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kids = psutil.Process(worker.pid).children()
            if kids:
                return kids[0]
            time.sleep(0.05)
        raise AssertionError("the crawl worker never started a crawl child")

    def stop(self):
        for p in self.crawl + self.tag:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.crawl + self.tag:
            try:
                p.wait(30)
            except Exception:
                p.kill()
        self.log.close()


def kill_holding(procs, holds, what, timeout=30):
    """SIGKILL the first of ``procs`` caught holding work (each frozen with SIGSTOP to check ``holds(pid)``, else let
    go on); returns how much it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in [p for p in procs() if psutil.pid_exists(p.pid)]:
            try:
                proc.send_signal(signal.SIGSTOP)
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
            n = holds(proc.pid)
            if n:
                proc.kill()
                return n
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.03)
    raise AssertionError(f"no {what} was ever caught holding work (the round was too short?)")


def inflight_of(client, pid):
    """Requests in the in-flight lists of the worker ids of process ``pid`` (ids are host-pid-random)."""
    return sum(client.llen(k) for k in client.scan_iter("voc:*:inflight:*") if f"-{pid}-" in k.decode())


def pending_of(client, pid):
    return sum(c["pending"] for c in client.xinfo_consumers("voc:items", "taggers") if f"-{pid}-" in c["name"].decode())


def wait_for(cond, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def round_at_page_3(crawl_settings, replay, redis_server, tmp_path):
    """A round on a :class:`Cluster` of ``many_products()``, returned once its crawl has got to page 3 (mid-round);
    the caller stops it."""
    settings = crawl_settings(root=tmp_path / "shared", products=many_products(), crawl=FAST)
    cluster = Cluster(settings, redis_server.url).run_round()
    try:
        cluster.crawl_child(cluster.crawl[0])
        start = len(replay.requests)
        wait_for(lambda: sum("page=3/" in r.path for r in replay.requests[start:]) >= 2, "the crawl never got to page 3")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def check_same(result, settings, stored_docs, expected, cursors, redis_server):
    if result is None or not result.ok:  # say why: the workers' log and what Redis still holds
        log = (settings.home / "data" / "logs" / "cluster.log").read_text(errors="replace")[-6000:]
        client = redis_server.client()
        keys = {k.decode(): client.type(k).decode() for k in client.scan_iter("voc:*")}
        raise AssertionError(f"{result.format() if result else 'round did not finish'}\nkeys: {keys}\n"
                             f"stats: {client.hgetall('voc:stats')}\nworkers' log (tail):\n{log}")
    got = comparable(stored_docs(settings))
    assert len(got) == len(expected)  # none lost, none duplicated
    assert got == expected
    assert result.cursors == cursors
    client = redis_server.client()
    assert {tuple(k.decode().split("\t")): v.decode() for k, v in client.hgetall("voc:cursors").items()} == \
        {k: iso(v) for k, v in cursors.items()}
    assert client.xlen("voc:items") == 0 and client.xlen("voc:items:dead") == 0


def test_kill_a_crawl_worker_and_a_tag_worker_mid_round(crawl_settings, replay, stored_docs, redis_server, tmp_path):
    serve_many(replay)
    expected, cursors = reference(crawl_settings, stored_docs, tmp_path)
    assert len(expected) == 1200
    cluster = round_at_page_3(crawl_settings, replay, redis_server, tmp_path)
    settings = cluster.settings
    try:
        client = redis_server.client()
        # SIGKILL the Scrapy process of crawl worker 0 while requests are in its in-flight list, and a tag worker
        # while it holds items it has not acknowledged: both must be taken over by the others.
        crawl_children = lambda: [c for w in cluster.crawl for c in psutil.Process(w.pid).children()]  # noqa: E731
        assert kill_holding(crawl_children, lambda pid: inflight_of(client, pid), "crawl process") > 0
        assert kill_holding(lambda: cluster.tag, lambda pid: pending_of(client, pid), "tag worker") > 0
        result = cluster.wait()
    finally:
        cluster.stop()
    check_same(result, settings, stored_docs, expected, cursors, redis_server)
    client = redis_server.client()
    stats = {k.decode(): int(v) for k, v in client.hgetall("voc:stats").items()}
    assert stats.get("requeued", 0) > 0 and stats.get("claimed", 0) > 0, stats  # the dead workers' work was taken over


def test_redis_restart_mid_round(crawl_settings, replay, stored_docs, redis_server, tmp_path):
    serve_many(replay)
    expected, cursors = reference(crawl_settings, stored_docs, tmp_path)
    cluster = round_at_page_3(crawl_settings, replay, redis_server, tmp_path)
    settings = cluster.settings
    try:
        client = redis_server.client()
        before = client.hget("voc:stats", "indexed")
        assert client.llen("voc:rounds") == 1 and int(before or 0) < 1200  # mid-round indeed
        redis_server.kill()  # SIGKILL: only what AOF (appendfsync always) holds survives
        time.sleep(1.0)
        redis_server.start()
        result = cluster.wait()
    finally:
        cluster.stop()
    check_same(result, settings, stored_docs, expected, cursors, redis_server)


def test_politeness_is_global_and_list_pages_are_polled_again_next_round(crawl_settings, replay, stored_docs,
                                                                         redis_server, tmp_path):
    """Two crawl processes on one domain with a 0.3 s delay and one request at a time: together they keep it (per
    worker they would send twice as fast). A second round fetches the first pages again (the dupefilter is per
    round), stops at the cursor, and updates nothing it should not."""
    from crawlers.rounds import run_round

    for i, app in enumerate(MANY):
        serve_appstore_reviews(replay, app, 100, first=1000 * i)
    settings = crawl_settings(root=tmp_path / "shared", products=many_products(), crawl=FAST,
                              sources={"appstore": {"download_delay": 0.3, "concurrent_requests_per_domain": 1}})
    log = open(tmp_path / "worker.log", "ab")
    worker = start_crawl_worker(settings, redis_server.url, log=log, poll=0.2)
    try:
        start = len(replay.requests)
        first = run_round(settings, redis_server.url, sources=["appstore"], tag_workers=1, timeout=120)
        assert first.ok, first.format()
        times = sorted(r.at for r in replay.requests[start:])
        assert len(times) >= 12  # 4 apps × (2 review pages + the empty 3rd + a lookup)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # 0.3 s apart on average (per worker, two workers would send about every 0.15 s); none close together. The
        # delay reserves each request's start: on a loaded machine a process can send late by a tenth of a second,
        # so single arrival gaps at the server jitter.
        assert (times[-1] - times[0]) / len(gaps) >= 0.28 and min(gaps) >= 0.1, gaps
        client = redis_server.client()
        assert len(client.smembers(f"voc:{first.round_id}:workers")) == 2  # both crawled
        assert len(stored_docs(settings)) == 400

        again = len(replay.requests)
        second = run_round(settings, redis_server.url, sources=["appstore"], tag_workers=1, timeout=120)
        assert second.ok, second.format()
        polled = [r.path for r in replay.requests[again:] if "page=1/" in r.path]
        assert len(polled) == len(MANY)  # each list's first page polled again, once
        assert not any("page=2/" in r.path for r in replay.requests[again:])  # stopped at the cursor
        assert second.cursors == first.cursors
        assert len(stored_docs(settings)) == 400
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        log.close()
