"""Closing the loop through the API: mark fixed, bad values refused with 400, tickets, reply drafts —
against the real alert store in the index file (issue 19)."""

from __future__ import annotations

import pytest

from tests.api.test_alerts_api import open_alert

pytestmark = pytest.mark.anyio


async def test_fix_marks_the_incident_and_refuses_bad_values(client_for, seeded):
    settings, _index, _docs = seeded
    fp = open_alert(settings)
    c = client_for()
    csrf = {"X-CSRF-Token": (await c.get("/api/session")).json()["csrf_token"]}
    r = await c.post(f"/api/alerts/{fp}/fix", json={"version": "3.2.1", "date": "2026-11-24", "note": "短信网关"},
                     headers=csrf)
    assert r.status_code == 200, r.text
    alert = r.json()["alert"]
    assert alert["state"] == "fixed" and alert["fix"]["version"] == "3.2.1" and alert["fix"]["verdict"] == "pending"
    assert (await c.get("/api/alerts", params={"state": "fixed"})).json()["alerts"][0]["id"] == fp
    shown = (await c.get(f"/api/alerts/{fp}")).json()["alert"]
    assert shown["fix"]["date"] == "2026-11-23T16:00:00Z"
    for bad in ({}, {"version": "1", "date": "明天"}, {"version": "1", "ticket": "javascript:alert(1)"}):
        r = await c.post(f"/api/alerts/{fp}/fix", json=bad, headers=csrf)
        assert r.status_code == 400 and r.json()["error"] == "refused", r.text
    r = await c.post("/api/alerts/ffffffffffff/fix", json={"version": "1"}, headers=csrf)
    assert r.status_code == 404
    r = await c.post(f"/api/alerts/{fp}/ticket", json={"to": "trello"}, headers=csrf)
    assert r.status_code == 400 and "unknown tracker 'trello'" in r.json()["message"]
    r = await c.post(f"/api/alerts/{fp}/ticket", json={"to": "github"}, headers=csrf)
    assert r.status_code == 400 and "set VOC_GITHUB_TOKEN" in r.json()["message"]
    assert (await c.get("/api/replies")).json() == {"replies": []}
    assert (await c.get("/api/replies", params={"status": "nope"})).status_code == 400
    r = await c.post("/api/replies/approve", json={}, headers=csrf)
    assert r.status_code == 400
    r = await c.post("/api/replies/send", headers=csrf)
    assert r.status_code == 200 and r.json()["sent"] == []


async def test_fix_is_admin_only(client_for, seeded):
    settings, _index, _docs = seeded
    fp = open_alert(settings)
    ro = client_for({"VOC_ADMIN_TOKENS": "a1", "VOC_READ_TOKENS": "r1"})
    for path, body in ((f"/api/alerts/{fp}/fix", {"version": "1"}), (f"/api/alerts/{fp}/ticket", {"to": "jira"}),
                       ("/api/replies/approve", {"incident": fp}), ("/api/replies/send", None)):
        r = await ro.post(path, json=body, headers={"Authorization": "Bearer r1"})
        assert r.status_code == 403, path
    assert (await ro.get("/api/replies", headers={"Authorization": "Bearer r1"})).status_code == 200
