"""The overview, watchlists and export routes in process: every figure's own query finds exactly its count;
watchlists are per user; the page's export is CSV with a BOM or XLSX."""

from __future__ import annotations

import io

import pytest

pytestmark = pytest.mark.anyio

TOKENS = {"VOC_ADMIN_TOKENS": "adm-secret-1", "VOC_READ_TOKENS": "read-a,read-b", "VOC_SESSION_SECRET": "k"}


async def _total(c, q: str, since: str, until: str, headers=None) -> int:
    r = await c.get("/api/search", params={"q": q, "since": since, "until": until, "limit": 0}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["total"]


async def test_overview_figures_match_their_own_searches(client_for, seeded):
    _s, _index, docs = seeded
    c = client_for()
    r = await c.get("/api/overview", params={"period": "24h"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["product"] == "qingji" and data["period"] == "24h"
    figs = {f["key"]: f for f in data["figures"]}
    # the last 24 h (11-23 03:00Z – 11-24 03:00Z): 11-23's 3 calm posts (04:00Z), 6 login posts, the hostile
    # weibo post, the night crash = 11, 8 of them negative; the 24 h before hold 11-22's 3 calm posts
    assert figs["volume"]["value"] == 11 and figs["volume"]["previous"] == 3
    for key in ("volume", "negative_share", "mean_rating"):
        f = figs[key]
        n = f["value"] if key == "volume" else f["count"]
        assert await _total(c, f["q"], f["since"], f["until"]) == n, key
    assert figs["negative_share"]["value"] == round(8 / 11, 4) and figs["negative_share"]["previous"] == 0
    # ratings now: 5, 5, 3, six 1-star, one 2-star → 21 / 10; before: 5, 5, 3 → 13 / 3
    assert figs["mean_rating"]["value"] == 2.1 and figs["mean_rating"]["count"] == 10
    assert figs["mean_rating"]["previous"] == round(13 / 3, 2)
    topics = data["top_issues"]["topics"]
    assert topics[0]["topic"] == "login" and topics[0]["count"] == 6 and topics[0]["growth"] == 6
    assert [t["topic"] for t in topics[:2]] == ["login", "crash"]  # ranked by growth
    assert topics[0]["name"] == "登录/账号" and len(topics[0]["spark"]) == 48
    assert sum(topics[0]["spark"][24:]) == 6
    assert await _total(c, topics[0]["q"], topics[0]["since"], topics[0]["until"]) == 6
    sources = {row["value"]: row for row in data["breakdowns"]["source"]}
    assert sources["appstore"]["count"] == 10 and sources["appstore"]["previous"] == 3
    assert sources["weibo"]["count"] == 1
    versions = {row["value"]: row["count"] for row in data["breakdowns"]["app_version"]}
    assert versions == {"3.2.0": 7, "3.1.0": 3}
    for row in data["breakdowns"]["platform"]:
        assert await _total(c, row["q"], row["since"], row["until"]) == row["count"]


async def test_overview_drill_query_narrows_everything(client_for):
    c = client_for()
    data = (await c.get("/api/overview", params={"period": "7d", "q": "topic:login platform:android"})).json()
    figs = {f["key"]: f for f in data["figures"]}
    assert figs["volume"]["value"] == 4 and "topic:login platform:android" in figs["volume"]["q"]
    assert [r["value"] for r in data["breakdowns"]["platform"]] == ["android"]


@pytest.mark.parametrize("params, field", [({"period": "1y"}, "period"), ({"product": "nope"}, "product"),
                                           ({"q": "colour:red"}, "colour")])
async def test_overview_bad_input_is_400_naming_the_field(client_for, params, field):
    r = await client_for().get("/api/overview", params=params)
    assert r.status_code == 400 and r.json()["field"] == field


async def test_watchlists_are_per_user_and_count_their_matches(client_for):
    c = client_for(TOKENS)
    a, b = {"Authorization": "Bearer read-a"}, {"Authorization": "Bearer read-b"}
    r = await c.post("/api/watchlists", json={"name": "登录问题", "q": "topic:login"}, headers=a)
    assert r.status_code == 200, r.text
    wid = r.json()["watchlist"]["id"]
    mine = (await c.get("/api/watchlists", params={"period": "7d"}, headers=a)).json()["watchlists"]
    assert [(w["name"], w["q"], w["count"], w["previous"]) for w in mine] == [("登录问题", "topic:login", 6, 0)]
    assert (await c.get("/api/watchlists", headers=b)).json()["watchlists"] == []
    assert (await c.delete(f"/api/watchlists/{wid}", headers=b)).status_code == 404  # not b's to delete
    bad = await c.post("/api/watchlists", json={"name": "x", "q": "colour:red"}, headers=a)
    assert bad.status_code == 400 and bad.json()["field"] == "colour"
    dup = await c.post("/api/watchlists", json={"name": "登录问题", "q": ""}, headers=a)
    assert dup.status_code == 400
    assert dup.json() == {"error": "bad_watchlist", "message": dup.json()["message"], "field": "name"}
    assert (await c.delete(f"/api/watchlists/{wid}", headers=a)).status_code == 200
    assert (await c.get("/api/watchlists", headers=a)).json()["watchlists"] == []


async def test_watchlist_writes_from_a_session_need_the_csrf_token(client_for):
    c = client_for(TOKENS)
    login = await c.post("/login", data={"token": "read-a"}, headers={"Origin": "http://127.0.0.1"},
                         follow_redirects=False)
    assert login.status_code == 303
    r = await c.post("/api/watchlists", json={"name": "w", "q": ""})
    assert r.status_code == 403
    csrf = (await c.get("/api/session")).json()["csrf_token"]
    r = await c.post("/api/watchlists", json={"name": "w", "q": ""}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200


async def test_a_watchlist_follows_its_token_across_logins_and_restarts(client_for):
    """Saved by a login session, listed again by a later session and by the bearer token itself, also after a
    restart without a session secret (a new signing key); another token's sessions do not see it."""
    env = {k: v for k, v in TOKENS.items() if k != "VOC_SESSION_SECRET"}

    async def session(c, token):
        r = await c.post("/login", data={"token": token}, headers={"Origin": "http://127.0.0.1"}, follow_redirects=False)
        assert r.status_code == 303
        return (await c.get("/api/session")).json()["csrf_token"]

    first = client_for(env)
    csrf = await session(first, "read-a")
    r = await first.post("/api/watchlists", json={"name": "同步", "q": "同步"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    restarted = client_for(env)  # a new app: a new random cookie key, so a new session
    await session(restarted, "read-a")
    assert [w["name"] for w in (await restarted.get("/api/watchlists")).json()["watchlists"]] == ["同步"]
    bearer = (await restarted.get("/api/watchlists", headers={"Authorization": "Bearer read-a"})).json()
    assert [w["name"] for w in bearer["watchlists"]] == ["同步"]
    other = client_for(env)
    await session(other, "read-b")
    assert (await other.get("/api/watchlists")).json()["watchlists"] == []


async def test_export_from_the_page_csv_with_bom_and_xlsx(client_for):
    from openpyxl import load_workbook

    c = client_for()
    r = await c.get("/api/export", params={"q": "登录", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbfid,") and r.headers["x-voc-rows"] == "6"
    assert "attachment" in r.headers["content-disposition"]
    assert len(r.content.decode("utf-8-sig").strip().splitlines()) == 7
    r = await c.get("/api/export", params={"q": "登录", "format": "xlsx"})
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 7 and rows[0][0] == "id"
    r = await c.get("/api/export", params={"q": "登录", "format": "pdf"})
    assert r.status_code == 400 and r.json()["field"] == "format"


async def test_overview_answers_when_the_alert_store_cannot_be_read(client_for, seeded):
    import sqlite3

    settings, _index, _docs = seeded
    with sqlite3.connect(settings.sqlite_path()) as db:  # a foreign table where the alert store keeps its state
        db.execute("CREATE TABLE alert_state (unrelated TEXT)")
    c = client_for()
    r = await c.get("/api/overview", params={"period": "7d"})
    assert r.status_code == 200, r.text
    figs = {f["key"]: f for f in r.json()["figures"]}
    assert figs["open_alerts"]["value"] is None and figs["open_alerts"]["unavailable"] is True
    assert figs["volume"]["value"] == 17  # the figures from the index still answer
    assert (await c.get("/api/alerts")).status_code == 503  # the alerts page itself says the store is unavailable
