"""Demo-like scenario against a real SQLite index: baseline + surge of negative `login` feedback."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import alerts
from alerts.store import open_store
from tests.helpers import ALERTS_NOW as NOW, baseline_docs, surge_docs


def _spike_only(settings):
    rules = tuple(r for r in settings.alerts.rules if r.kind == "volume_spike")
    return settings.replace(alerts=dataclasses.replace(settings.alerts, rules=rules))


def test_surge_raises_exactly_one_incident_then_updates(settings, index):
    s = _spike_only(settings)
    index.upsert(baseline_docs())
    index.upsert(surge_docs(40))
    report = alerts.evaluate(s, index, now=NOW)
    # the product's spike and its login topic's spike are the same 40 posts: one incident, led by the topic
    assert [(r.product, r.kind, r.key) for r in report.raised] == [("demo", "incident", "login")]
    assert report.signals == {"negative-volume-spike": 2} and report.incidents == 1
    rec = report.raised[0]
    assert rec.rule == "negative-volume-spike" and rec.state == "open" and rec.version == 1
    f = rec.figures
    assert f.current == 40 and f.expected == 3 and f.ratio > 10 and f.high < 40
    assert rec.detail["sources"] == [["weibo", 40]] and rec.detail["topics"] == ["login"]
    # the 40 posts differ only in a number: one representative post standing for all of them
    assert [x["similar"] for x in rec.detail["samples"]] == [40]
    # the two signals' figures are the same numbers: said once
    assert len(rec.detail["evidence"]) == 1 and "40 条" in rec.detail["evidence"][0]["text"]
    assert rec.detail["posts"] == 40
    # the query shows exactly the incident's posts
    from index.query import parse_query
    q = parse_query(rec.detail["query"], now=NOW, tz="UTC", limit=100)
    assert {h.doc["id"] for h in index.search(q).hits} == set(rec.detail["post_ids"])
    # re-evaluate: same incident, nothing new
    again = alerts.evaluate(s, index, now=NOW + timedelta(minutes=5))
    assert again.raised == [] and again.updated == [] and again.unchanged == 1
    # growth ≥ 1.5× the notified count after the silence → updated, not duplicated
    index.upsert(surge_docs(40, start_n=200_000, end=NOW + timedelta(hours=2), hours=1))
    later = alerts.evaluate(s, index, now=NOW + timedelta(hours=2))
    assert [(r.key, r.fingerprint) for r in later.updated] == [("login", rec.fingerprint)] and later.raised == []
    assert [r.version for r in later.updated] == [2]
    with open_store(s) as st:
        assert len(st.list()) == 1
        rows = st.outbox()
    # alert-log for 1 incident × 2 versions; team-webhook has no VOC_WEBHOOK_URL here: nothing queued
    assert sorted((r.channel, r.version) for r in rows) == [("alert-log", 1), ("alert-log", 2)]


def test_no_alert_on_tiny_counts_or_before_warmup(settings, index):
    s = _spike_only(settings)
    index.upsert(surge_docs(3))  # 0 → 3 is not a spike
    assert alerts.evaluate(s, index, now=NOW).raised == []
    index.upsert(surge_docs(40, start_n=5000))  # a surge with no history at all: warm-up
    assert alerts.evaluate(s, index, now=NOW).raised == []


def test_restart_keeps_state_and_resolves_after_quiet(settings, index):
    s = _spike_only(settings)
    index.upsert(baseline_docs())
    index.upsert(surge_docs(40))
    assert len(alerts.evaluate(s, index, now=NOW).raised) == 1
    # a "restart": new store connection, evaluation from the index again → no flood of old alerts
    assert alerts.evaluate(s, index, now=NOW + timedelta(minutes=30)).raised == []
    # window passes, signal back at baseline; resolve only after resolve_after (6h) of quiet
    still = alerts.evaluate(s, index, now=NOW + timedelta(hours=3))  # 24 of the 40 still in the window
    assert still.unchanged == 1 and still.resolved == []
    quiet1 = alerts.evaluate(s, index, now=NOW + timedelta(hours=8))  # quiet for 5h < resolve_after
    assert quiet1.resolved == [] and quiet1.unchanged == 0
    quiet2 = alerts.evaluate(s, index, now=NOW + timedelta(hours=9, minutes=30))
    assert [r.key for r in quiet2.resolved] == ["login"]
    with open_store(s) as st:
        rec = st.list(state="resolved")[0]
        events = [e["event"] for e in st.events(rec.fingerprint)]
    assert events == ["opened", "resolved"]
    log = [json.loads(x) for x in (s.home / "data" / "alerts.log").read_text("utf-8").splitlines()] \
        if (s.home / "data" / "alerts.log").exists() else []
    assert log == []  # nothing delivered yet: deliveries wait in the outbox
