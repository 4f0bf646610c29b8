"""Alerts through the API: list, acknowledge, resolve — against the real alert store in the index file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import NOW

pytestmark = pytest.mark.anyio



def open_alert(settings, *, key: str = "login", title: str = "登录/账号 负面反馈激增", detail: dict | None = None) -> str:
    """Store one open alert the way evaluation does (store.apply with an "opened" transition)."""
    from alerts import Figures, open_store
    from alerts._evaluate import deliveries_for
    from alerts.lifecycle import AlertRecord, Transition, fingerprint

    fp = fingerprint("negative-volume-spike", "qingji", key)
    figures = Figures(current=42, expected=4.0, low=1.0, high=8.0, ratio=10.5,
                      window_start=NOW - timedelta(hours=6), window_end=NOW)
    rec = AlertRecord(fingerprint=fp, rule="negative-volume-spike", kind="volume_spike", product="qingji", key=key,
                      state="open", severity="critical", version=1, title=title, figures=figures,
                      opened_at=NOW - timedelta(hours=1), updated_at=NOW - timedelta(hours=1),
                      last_match_at=NOW - timedelta(hours=1), peak=42, notify_count=1,
                      last_notified_at=NOW - timedelta(hours=1),
                      detail=detail or {"query": f"topic:{key} product:qingji sentiment:negative since:6h"})
    with open_store(settings) as store:
        store.apply(fp, lambda _r: Transition(rec, "opened", True), lambda t: deliveries_for(settings, t), now=NOW)
    return fp


async def test_list_ack_and_resolve(client_for, seeded):
    settings, _index, _docs = seeded
    fp = open_alert(settings)
    c = client_for()
    alerts = (await c.get("/api/alerts", params={"state": "open"})).json()["alerts"]
    assert [a["fingerprint"] for a in alerts] == [fp]
    assert alerts[0]["title"] == "登录/账号 负面反馈激增" and alerts[0]["acked_at"] is None
    assert alerts[0]["figures"]["current"] == 42
    csrf = (await c.get("/api/session")).json()["csrf_token"]

    r = await c.post(f"/api/alerts/{fp}/ack", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["alert"]["acked_at"] == "2026-11-24T03:00:00Z"
    assert r.json()["alert"]["acked_by"] == "web:anonymous"
    assert r.json()["alert"]["state"] == "open"

    r = await c.post(f"/api/alerts/{fp}/resolve", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert r.json()["alert"]["state"] == "resolved" and r.json()["alert"]["version"] == 2
    assert (await c.get("/api/alerts", params={"state": "open"})).json()["alerts"] == []
    assert [a["fingerprint"] for a in (await c.get("/api/alerts", params={"state": "resolved"})).json()["alerts"]] == [fp]

    from alerts import open_store

    with open_store(settings) as store:  # the resolution was queued for the subscribers, like any state change
        assert {(d.version, d.channel) for d in store.outbox()} >= {(2, "alert-log")}


async def test_unknown_alert_is_404_and_admin_only(client_for, seeded):
    settings, _index, _docs = seeded
    fp = open_alert(settings)
    c = client_for()
    csrf = (await c.get("/api/session")).json()["csrf_token"]
    r = await c.post("/api/alerts/ffffffffffff/ack", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    tokens = {"VOC_ADMIN_TOKENS": "a1", "VOC_READ_TOKENS": "r1"}
    ro = client_for(tokens)
    assert (await ro.get("/api/alerts", headers={"Authorization": "Bearer r1"})).status_code == 200
    r = await ro.post(f"/api/alerts/{fp}/ack", headers={"Authorization": "Bearer r1"})
    assert r.status_code == 403
    r = await ro.post(f"/api/alerts/{fp}/ack", headers={"Authorization": "Bearer a1"})
    assert r.status_code == 200 and r.json()["alert"]["acked_by"] == "web:token"


async def test_one_incident_with_its_posts_and_history(client_for, seeded):
    settings, _index, docs = seeded
    login = [d for d in docs if "login" in d["topics"]]
    fp = open_alert(settings, title="3.2.0 登录失败激增", detail={
        "query": "product:qingji topic:login", "topics": ["login"], "versions": ["3.2.0"],
        "terms": ["登录失败"], "post_ids": [d["id"] for d in login] + ["gone-since"], "count": 6, "baseline": 0.5})
    c = client_for()
    [listed] = (await c.get("/api/alerts")).json()["alerts"]
    assert (listed["id"], listed["topics"], listed["versions"], listed["count"]) == (fp, ["login"], ["3.2.0"], 6)
    r = await c.get(f"/api/alerts/{fp[:6]}")
    assert r.status_code == 200
    shown = r.json()["alert"]
    assert {k: shown[k] for k in listed} == listed
    # exactly what its query finds, newest first; and its history
    assert sorted(p["id"] for p in shown["posts"]) == sorted(d["id"] for d in login)
    assert [p["created_at"] for p in shown["posts"]] == sorted((p["created_at"] for p in shown["posts"]), reverse=True)
    assert [h["event"] for h in shown["history"]] == ["opened"]
    assert (await c.get("/api/alerts/ffffffffffff")).status_code == 404


async def test_an_admin_session_cannot_ack_once_its_token_is_removed_or_rotated(client_for, seeded):
    """Issue 23, finding 6: the session cookie outlived its token (an admin session still acked after its token
    was removed). A restart with the same session secret but without the token must end the session."""
    settings, _index, _docs = seeded
    fp = open_alert(settings)
    env = {"VOC_ADMIN_TOKENS": "adm-old", "VOC_SESSION_SECRET": "kept-across-restarts"}
    c = client_for(env)
    r = await c.post("/login", content="token=adm-old", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = c.cookies["voc_session"]
    csrf = (await c.get("/api/session")).json()["csrf_token"]

    same = client_for(env)  # a restart that keeps the token: the session lives on
    same.cookies.set("voc_session", cookie)
    assert (await same.get("/api/session")).json()["role"] == "admin"

    for name, later in (("removed", {"VOC_READ_TOKENS": "someone-else"}), ("rotated", {"VOC_ADMIN_TOKENS": "adm-new"})):
        restarted = client_for({"VOC_SESSION_SECRET": "kept-across-restarts", **later})
        restarted.cookies.set("voc_session", cookie)
        r = await restarted.post(f"/api/alerts/{fp}/ack", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 401, (name, r.text)
    from alerts import open_store

    with open_store(settings) as store:
        assert store.get(fp).acked_at is None
    r = await same.post(f"/api/alerts/{fp}/ack", headers={"X-CSRF-Token": csrf})  # the test can tell the two apart
    assert r.status_code == 200 and r.json()["alert"]["acked_at"]
