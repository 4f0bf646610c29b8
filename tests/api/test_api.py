"""The HTTP API in process (httpx.ASGITransport): auth, bad queries, search, trends, feedback, sources."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.helpers import HOSTILE, NOW


pytestmark = pytest.mark.anyio

TOKENS = {"VOC_ADMIN_TOKENS": "adm-secret-1", "VOC_READ_TOKENS": "read-secret-1,read-secret-2",
          "VOC_SESSION_SECRET": "test-session-key"}
READ = {"Authorization": "Bearer read-secret-2"}
#: web settings naming the public host the tests send as Host
PUBLIC = {"allowed_hosts": ("voc.example",)}
ADMIN = {"Authorization": "Bearer adm-secret-1"}


# -- access ---------------------------------------------------------------------------------------------
async def test_no_token_is_401_with_a_hint(client_for):
    c = client_for(TOKENS, base_url="http://voc.example", web=PUBLIC)
    r = await c.get("/api/search", params={"q": "登录"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthorized"
    assert "Bearer" in r.json()["message"]


async def test_unknown_or_malformed_token_is_401(client_for):
    c = client_for(TOKENS)
    assert (await c.get("/api/search", headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await c.get("/api/search", headers={"Authorization": "Basic YWRtOng="})).status_code == 401


async def test_read_only_token_reads_but_gets_403_on_admin_actions(client_for, seeded):
    _s, _index, docs = seeded
    c = client_for(TOKENS)
    assert (await c.get("/api/search", headers=READ)).status_code == 200
    assert (await c.get("/api/session", headers=READ)).json()["role"] == "read"
    r = await c.post(f"/api/feedback/{docs[0]['id']}", json={"sentiment": "negative"}, headers=READ)
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden" and "admin" in r.json()["message"]
    r = await c.post("/api/alerts/abc/ack", headers=READ)
    assert r.status_code == 403
    r = await c.post("/api/alerts/abc/resolve", headers=READ)
    assert r.status_code == 403


async def test_tokens_configured_means_no_anonymous_loopback(client_for):
    c = client_for(TOKENS)  # loopback client and host, but tokens exist
    assert (await c.get("/api/search")).status_code == 401
    r = await c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


async def test_anonymous_loopback_only_from_loopback_to_a_loopback_host(client_for):
    local = client_for()
    r = await local.get("/api/session")
    assert r.status_code == 200 and r.json()["role"] == "admin" and r.json()["via"] == "anonymous"
    remote = client_for(client=("10.1.2.3", 40000))
    assert (await remote.get("/api/session")).status_code == 401
    rebinding = client_for(base_url="http://evil.example")  # loopback peer, foreign Host: DNS rebinding
    r = await rebinding.get("/api/session")
    assert r.status_code == 400 and r.json()["error"] == "bad_host" and r.json()["field"] == "host"
    public = client_for(base_url="http://voc.example", web=PUBLIC)  # an allowed public name is no loopback name
    assert (await public.get("/api/session")).status_code == 401


async def test_anonymous_loopback_can_be_turned_off(seeded):
    import dataclasses

    import httpx

    from app.api import create_app

    settings, index, _docs = seeded
    off = settings.replace(voc=dataclasses.replace(settings.voc, web=dataclasses.replace(
        settings.web, allow_anonymous_loopback=False)))
    app = create_app(off, index=index, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        r = await c.get("/api/session")
        assert r.status_code == 401 and "VOC_ADMIN_TOKENS" in r.json()["message"]


async def test_login_sets_a_strict_httponly_cookie_and_posts_need_the_csrf_header(client_for, seeded):
    _s, _index, docs = seeded
    c = client_for(TOKENS, base_url="http://voc.example", web=PUBLIC)
    bad = await c.post("/login", content="token=wrong", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 303 and bad.headers["location"] == "/login?error=1"
    assert "set-cookie" not in bad.headers
    r = await c.post("/login", content="token=adm-secret-1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    session = (await c.get("/api/session")).json()
    assert session["role"] == "admin" and session["via"] == "session" and session["csrf_token"]
    target = f"/api/feedback/{docs[0]['id']}"
    no_csrf = await c.post(target, json={"sentiment": "negative"})
    assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["message"]
    wrong = await c.post(target, json={"sentiment": "negative"}, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    ok = await c.post(target, json={"sentiment": "negative"}, headers={"X-CSRF-Token": session["csrf_token"]})
    assert ok.status_code == 200, ok.text
    assert (await c.get("/")).status_code == 200


async def test_a_tampered_session_cookie_is_rejected(client_for):
    c = client_for(TOKENS, base_url="http://voc.example", web=PUBLIC)
    r = await c.post("/login", content="token=read-secret-1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    value = r.cookies["voc_session"]
    body, sig = value.split(".")
    import base64
    import json

    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode() + "." + sig
    c.cookies.clear()
    c.cookies.set("voc_session", forged)
    assert (await c.get("/api/session")).status_code == 401


async def test_every_response_carries_a_csp_without_inline_scripts(client_for):
    c = client_for()
    for path in ("/", "/api/session", "/static/app.js", "/docs", "/login"):
        r = await c.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        script_src = [d for d in csp.split(";") if d.strip().startswith("script-src")][0]
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_pages_load_no_inline_script_and_nothing_from_a_cdn(client_for):
    import re

    c = client_for()
    for path in ("/", "/docs", "/login"):
        html = (await c.get(path)).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {path}"
        assert not re.search(r"""(src|href)=["']https?://""", html), f"remote asset in {path}"
        for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html):
            assert (await c.get(asset)).status_code == 200, asset
    assert (await c.get("/openapi.json")).json()["paths"]["/api/search"]


# -- bad queries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/search", {"q": "登录 colour:red"}, "colour"),
    ("/api/search", {"q": "sentiment:angry"}, "sentiment"),
    ("/api/search", {"q": "since:yesterday"}, "since"),
    ("/api/search", {"q": "rating:9"}, "rating"),
    ("/api/search", {"since": "not-a-time"}, "since"),
    ("/api/search", {"sort": "random"}, "sort"),
    ("/api/search", {"limit": "5000"}, "limit"),
    ("/api/search", {"facets": "colour"}, "facets"),
    ("/api/facets", {"q": "topic:"}, "topic"),
    ("/api/trends", {"interval": "week"}, "interval"),
    ("/api/trends", {"group_by": "colour"}, "group_by"),
    ("/api/trends", {"tz": "Mars/Olympus"}, "tz"),
    ("/api/trends", {"q": "since:365d", "interval": "minute"}, "interval"),
])
async def test_bad_queries_are_400_naming_the_field(client_for, path, params, field):
    r = await client_for().get(path, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "bad_query" and body["field"] == field and body["message"]


# -- search ---------------------------------------------------------------------------------------------
async def test_search_filters_and_highlights_the_matched_words(client_for):
    c = client_for()
    r = await c.get("/api/search", params={"q": "登录 sentiment:negative platform:android", "facets": "platform"})
    body = r.json()
    assert r.status_code == 200
    assert body["total"] == 4  # 6 spike docs, every third on ios
    assert body["filters"] == {"sentiment": ["negative"], "platform": ["android"]}
    for hit in body["hits"]:
        assert "tokens" not in hit["doc"]
        assert hit["doc"]["platform"] == "android"
        assert "".join(seg for seg, _ in hit["highlight"]) == hit["doc"]["text"]
        assert any(matched and "登录" in seg for seg, matched in hit["highlight"])
    assert dict(map(tuple, body["facets"]["platform"])) == {"android": 4}
    plain = (await c.get("/api/search", params={"q": "登录 sentiment:negative platform:android"})).json()
    assert plain["facets"] == {} and plain["total"] == 4  # facets only when asked (the page uses /api/facets)


async def test_search_paging_sort_and_drilldown_times(client_for):
    c = client_for()
    page1 = (await c.get("/api/search", params={"q": "topic:login", "limit": 4, "sort": "time"})).json()
    page2 = (await c.get("/api/search", params={"q": "topic:login", "limit": 4, "offset": 4, "sort": "time"})).json()
    assert page1["total"] == page2["total"] == 6
    ids = [h["doc"]["id"] for h in page1["hits"] + page2["hits"]]
    assert len(ids) == len(set(ids)) == 6
    times = [h["doc"]["created_at"] for h in page1["hits"] + page2["hits"]]
    assert times == sorted(times, reverse=True)
    # since/until narrow to a bucket (what a chart click sends): 09:00–09:10 Shanghai holds 2 login posts + the weibo post
    r = (await c.get("/api/search", params={"since": "2026-11-24T01:00:00Z", "until": "2026-11-24T01:10:00Z"})).json()
    assert r["total"] == 3


async def test_search_returns_hostile_text_verbatim_for_the_page_to_escape(client_for):
    body = (await client_for().get("/api/search", params={"q": "source:weibo"})).json()
    assert body["total"] == 1
    assert body["hits"][0]["doc"]["text"] == HOSTILE


async def test_facets_count_per_field(client_for):
    body = (await client_for().get("/api/facets", params={"q": "since:30d", "fields": "sentiment,topics"})).json()
    assert body["total"] == 17
    assert dict(map(tuple, body["facets"]["sentiment"])) == {"negative": 8, "positive": 6, "neutral": 3}
    assert dict(map(tuple, body["facets"]["topics"]))["login"] == 6


# -- trends ---------------------------------------------------------------------------------------------
async def test_trends_by_sentiment_per_local_day(client_for):
    body = (await client_for().get("/api/trends", params={"q": "since:2026-11-21", "group_by": "sentiment",
                                                          "interval": "day", "tz": "Asia/Shanghai"})).json()
    assert [s[:10] for s in body["starts"]] == ["2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"]
    series = {s["key"]: s["counts"] for s in body["series"]}
    assert series["positive"] == [2, 2, 2, 0]
    assert series["neutral"] == [1, 1, 1, 0]
    # the 17:30Z crash post is 01:30 on 11-24 in Shanghai: with the 6 login posts and the weibo post → 8
    assert series["negative"] == [0, 0, 0, 8]
    assert body["ends"][0].startswith("2026-11-22T00:00:00+08:00")


async def test_trends_hourly_by_topic_show_the_spike(client_for):
    body = (await client_for().get("/api/trends", params={"q": "since:24h", "group_by": "topics", "interval": "hour"})).json()
    login = next(s for s in body["series"] if s["key"] == "login")
    assert max(login["counts"]) == 6 and login["total"] == 6
    spike_at = body["starts"][login["counts"].index(6)]
    assert spike_at.startswith("2026-11-24T09:00:00+08:00")


async def test_ratings_by_app_version(client_for):
    body = (await client_for().get("/api/trends/ratings")).json()
    rows = {r["app_version"]: r for r in body["versions"]}
    assert rows["3.1.0"]["counts"] == [0, 0, 3, 0, 6] and rows["3.1.0"]["mean"] == 4.33
    assert rows["3.2.0"]["counts"] == [6, 1, 0, 0, 0]
    assert [r["app_version"] for r in body["versions"]] == ["3.1.0", "3.2.0"]


# -- feedback -------------------------------------------------------------------------------------------
async def test_feedback_get_and_404(client_for, seeded):
    _s, _index, docs = seeded
    c = client_for()
    r = await c.get(f"/api/feedback/{docs[0]['id']}")
    assert r.status_code == 200 and r.json()["doc"]["text"] == docs[0]["text"]
    r = await c.get("/api/feedback/does-not-exist")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_label_correction_is_stored_and_reindexed(client_for, seeded):
    settings, index, docs = seeded
    c = client_for()
    csrf = (await c.get("/api/session")).json()["csrf_token"]
    target = docs[0]  # positive, topic ui
    r = await c.post(f"/api/feedback/{target['id']}", json={"sentiment": "negative", "topics": ["sync"]},
                     headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["doc"]["sentiment"] == "negative" and r.json()["doc"]["topics"] == ["sync"]
    stored = index.get(target["id"])
    assert stored["sentiment"] == "negative" and stored["topics"] == ["sync"]
    got = (await c.get(f"/api/feedback/{target['id']}")).json()
    assert got["corrections"][0]["sentiment"] == "negative"
    assert list(got["corrections"][0]["topics"]) == ["sync"]
    from classifier.corrections import open_store

    with open_store(settings) as store:
        assert [x.doc_id for x in store.list()] == [target["id"]]


async def test_a_false_risk_flag_is_cleared_and_the_post_leaves_the_risk_filter(client_for, seeded):
    from index import Filters

    _settings, index, docs = seeded
    target = {**docs[0], "risk": ["media_threat"]}  # the rules flagged it; a person says it is no threat
    index.upsert([target])
    before = index.count(Filters(risk=("media_threat",)))
    assert before >= 1
    c = client_for()
    csrf = (await c.get("/api/session")).json()["csrf_token"]
    r = await c.post(f"/api/feedback/{target['id']}", json={"risk": []}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["doc"]["risk"] == [] and index.get(target["id"])["risk"] == []
    assert index.count(Filters(risk=("media_threat",))) == before - 1
    got = (await c.get(f"/api/feedback/{target['id']}")).json()
    assert got["corrections"][0]["risk"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"sentiment": "furious"}, "sentiment"),
    ({"intent": "rant"}, "intent"),
    ({"topics": ["nope"]}, "topics"),
    ({"risk": ["rumour"]}, "risk"),
    ({}, "labels"),
])
async def test_bad_label_corrections_are_400_naming_the_field(client_for, seeded, body, field):
    _s, _index, docs = seeded
    c = client_for()
    csrf = (await c.get("/api/session")).json()["csrf_token"]
    r = await c.post(f"/api/feedback/{docs[0]['id']}", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 400 and r.json()["field"] == field


# -- sources --------------------------------------------------------------------------------------------
async def test_sources_show_schedule_health_and_block_fix(client_for, seeded):
    settings, _index, _docs = seeded
    from crawlers.state import CrawlState, SourceRun

    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        t0 = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
        state.finish_run(SourceRun(run_id="r1", source="appstore", product="qingji", status="ok", started_at=t0,
                                   finished_at=t0.replace(minute=2), duration=120.0, pages=3, new=42))
        state.finish_run(SourceRun(run_id="r2", source="weibo", product="qingji", status="blocked", started_at=t0,
                                   finished_at=t0.replace(minute=1), duration=5.0, blocked_reason="HTTP 432 login wall",
                                   blocked_fix="set VOC_WEIBO_COOKIE"))
        state.finish_run(SourceRun(run_id="r1", source="forum:qingji-bbs", product="qingji", status="ok",
                                   started_at=t0, finished_at=t0.replace(minute=3), duration=180.0, pages=5, new=7))
    body = (await client_for().get("/api/sources")).json()
    rows = {r["source"]: r for r in body["sources"]}
    assert rows["appstore"]["status"] == "ok" and rows["appstore"]["last_success"] == "2026-11-24T01:02:00Z"
    assert rows["appstore"]["schedule"] == settings.sources.source("appstore").schedule
    assert rows["appstore"]["next_run"] > "2026-11-24T03:00:00Z"
    assert ["2026-11-24", 42] in rows["appstore"]["items_per_day"]
    assert rows["weibo"]["status"] == "blocked"
    assert rows["weibo"]["blocked"] == {"reason": "HTTP 432 login wall", "fix": "set VOC_WEIBO_COOKIE"}
    assert {r["run_id"] for r in body["runs"]} == {"r1", "r2"}
    # forum targets run as "forum:<name>" and take their schedule from sources.forum
    assert rows["forum:qingji-bbs"]["schedule"] == settings.sources.source("forum").schedule
    assert "forum" not in rows


async def test_trends_count_only_the_documents_matching_the_free_words(client_for):
    c = client_for()
    body = (await c.get("/api/trends", params={"q": "登录 since:2026-11-21", "group_by": "sentiment"})).json()
    assert body["text"] == "登录"
    matching = (await c.get("/api/search", params={"q": "登录 since:2026-11-21", "limit": 0})).json()["total"]
    everything = (await c.get("/api/trends", params={"q": "since:2026-11-21"})).json()
    assert 0 < sum(s["total"] for s in body["series"]) == matching < sum(s["total"] for s in everything["series"])
    # the 6 positive docs, none of which says 登录
    body = (await c.get("/api/trends", params={"q": "登录 since:2026-11-21 sentiment:positive"})).json()
    assert sum(s["total"] for s in body["series"]) == 0


def test_pivot_fills_missing_buckets_with_zero_and_orders_series_by_total():
    from datetime import timedelta

    from app.api._service import pivot_buckets
    from index import Bucket

    t1 = datetime(2026, 11, 24, 0, 0, tzinfo=timezone.utc)
    t2 = t1 + timedelta(hours=1)
    out = pivot_buckets([Bucket(t1, "a", 1), Bucket(t2, "b", 5), Bucket(t2, "a", 2)], step=timedelta(hours=1))
    assert out["starts"] == [t1.isoformat(), t2.isoformat()]
    assert out["ends"] == [t2.isoformat(), (t2 + timedelta(hours=1)).isoformat()]
    assert out["series"] == [{"key": "b", "counts": [0, 5], "total": 5}, {"key": "a", "counts": [1, 2], "total": 3}]


# -- cache ----------------------------------------------------------------------------------------------
class CountingIndex:
    """The real index, counting the searches that reach it."""

    def __init__(self, index) -> None:
        self.index = index
        self.searches = 0

    def search(self, query):
        self.searches += 1
        return self.index.search(query)

    def __getattr__(self, name):
        return getattr(self.index, name)


async def test_repeated_questions_are_answered_from_the_cache_until_a_correction(seeded):
    import httpx

    from app.api import create_app

    settings, index, docs = seeded
    counting = CountingIndex(index)
    app = create_app(settings, index=counting, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        first = (await c.get("/api/search", params={"q": "sentiment:negative"})).json()
        again = (await c.get("/api/search", params={"q": "sentiment:negative"})).json()
        assert again == first and counting.searches == 1
        await c.get("/api/search", params={"q": "sentiment:negative", "offset": 20})  # another question
        assert counting.searches == 2
        csrf = (await c.get("/api/session")).json()["csrf_token"]
        r = await c.post(f"/api/feedback/{docs[0]['id']}", json={"sentiment": "negative"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
        after = (await c.get("/api/search", params={"q": "sentiment:negative"})).json()
        assert after["total"] == first["total"] + 1


async def test_cache_seconds_zero_turns_the_cache_off(seeded):
    import dataclasses

    import httpx

    from app.api import create_app

    settings, index, _docs = seeded
    off = settings.replace(voc=dataclasses.replace(settings.voc, web=dataclasses.replace(settings.web, cache_seconds=0)))
    counting = CountingIndex(index)
    app = create_app(off, index=counting, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        for _ in range(3):
            assert (await c.get("/api/search", params={"q": "登录"})).status_code == 200
    assert counting.searches == 3


async def test_facet_counts_run_in_limited_slots_while_hits_do_not_wait(seeded):
    import asyncio
    import dataclasses
    import threading
    import time

    import httpx

    from app.api import create_app

    settings, index, _docs = seeded

    class SlowFacets(CountingIndex):
        def __init__(self, index) -> None:
            super().__init__(index)
            self.lock = threading.Lock()
            self.running = 0
            self.peak = 0

        def search(self, query):
            if not query.facets:
                return self.index.search(query)
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            time.sleep(0.2)
            try:
                return self.index.search(query)
            finally:
                with self.lock:
                    self.running -= 1

    slow = SlowFacets(index)
    one = settings.replace(voc=dataclasses.replace(settings.voc, web=dataclasses.replace(
        settings.web, facet_concurrency=1, cache_seconds=0, facet_sample=0)))  # exact facets: slots apply
    app = create_app(one, index=slow, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        facet_calls = [asyncio.ensure_future(c.get("/api/facets", params={"q": f"since:{d}d"})) for d in range(2, 6)]
        while slow.running == 0:  # the facet requests are in flight
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        hit_response = await c.get("/api/search", params={"q": "登录"})
        hits_done = time.perf_counter() - started
        facets_pending = sum(not f.done() for f in facet_calls)
        responses = await asyncio.gather(*facet_calls)
    assert all(r.status_code == 200 for r in responses) and hit_response.status_code == 200
    assert slow.peak == 1  # never two facet computations at once
    assert facets_pending >= 2  # the hits came back while facet counts were still queued …
    assert hits_done < 0.4  # … without waiting behind 4 × 0.2 s of them

    # sampled facets are bounded work: they skip the facet slot and run side by side, as many at once as
    # there are query slots
    slow.peak = 0
    sampled = one.replace(voc=dataclasses.replace(one.voc, web=dataclasses.replace(
        one.web, facet_sample=2000, query_concurrency=3)))
    app = create_app(sampled, index=slow, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        responses = await asyncio.gather(*(c.get("/api/facets", params={"q": f"since:{d}d"}) for d in range(2, 7)))
    assert all(r.status_code == 200 for r in responses)
    assert slow.peak == 3


async def test_searches_and_trends_share_the_query_slots(seeded):
    """web.query_concurrency bounds the index reads running at once: the rest wait their turn (and all are
    answered), so CPU-bound searches do not slow each other down past the cores."""
    import asyncio
    import dataclasses
    import threading
    import time

    import httpx

    from app.api import create_app

    settings, index, _docs = seeded

    class SlowIndex(CountingIndex):
        def __init__(self, index) -> None:
            super().__init__(index)
            self.lock = threading.Lock()
            self.running = self.peak = 0

        def _slowly(self, read, *args, **kwargs):
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            time.sleep(0.1)
            try:
                return read(*args, **kwargs)
            finally:
                with self.lock:
                    self.running -= 1

        def search(self, query):
            return self._slowly(self.index.search, query)

        def histogram(self, *args, **kwargs):
            return self._slowly(self.index.histogram, *args, **kwargs)

    slow = SlowIndex(index)
    two = settings.replace(voc=dataclasses.replace(settings.voc, web=dataclasses.replace(
        settings.web, query_concurrency=2, cache_seconds=0)))
    app = create_app(two, index=slow, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        calls = [c.get("/api/search", params={"q": f"登录 since:{d}d", "facets": "sentiment"}) for d in range(2, 5)]
        calls += [c.get("/api/trends", params={"q": f"since:{d}d", "interval": "hour"}) for d in range(2, 5)]
        responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200] * 6
    assert slow.peak == 2


# -- the server process ---------------------------------------------------------------------------------
async def test_objects_alive_at_startup_are_left_out_of_garbage_collection_while_serving(seeded):
    """A full collection that walks every module and the open index holds the GIL for tens of milliseconds
    while requests wait; the server freezes what is alive at startup and unfreezes it when it stops."""
    import gc

    from app.api import create_app

    settings, index, _docs = seeded
    app = create_app(settings, index=index)
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the modules, the app and the index: everything alive when it started
    assert gc.get_freeze_count() == 0
