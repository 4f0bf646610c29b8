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


def test_surge_raises_exactly_one_volume_alert_then_updates(settings, index):
    s = _spike_only(settings)
    index.upsert(baseline_docs())
    index.upsert(surge_docs(40))
    report = alerts.evaluate(s, index, now=NOW)
    raised = [(r.product, r.key) for r in report.raised]
    assert raised == [("demo", ""), ("demo", "login")]  # per product and per product × topic
    rec = next(r for r in report.raised if r.key == "login")
    assert rec.rule == "negative-volume-spike" and rec.state == "open" and rec.version == 1
    f = rec.figures
    assert f.current == 40 and f.expected == 3 and f.ratio > 10 and f.high < 40
    assert len(rec.detail["samples"]) == 3 and rec.detail["sources"] == [["weibo", 40]]
    # re-evaluate: same alerts, nothing new
    again = alerts.evaluate(s, index, now=NOW + timedelta(minutes=5))
    assert again.raised == [] and again.updated == [] and again.unchanged == 2
    # growth ≥ 1.5× the notified count after the silence → updated, not duplicated
    index.upsert(surge_docs(40, start_n=200_000, end=NOW + timedelta(hours=2), hours=1))
    later = alerts.evaluate(s, index, now=NOW + timedelta(hours=2))
    assert [r.key for r in later.updated] == ["", "login"] and later.raised == []
    assert [r.version for r in later.updated] == [2, 2]
    with open_store(s) as st:
        assert len(st.list()) == 2
        rows = st.outbox()
    # alert-log for each of 2 alerts × 2 versions; team-webhook has no VOC_WEBHOOK_URL here: nothing queued
    assert sorted((r.channel, r.version) for r in rows) == [("alert-log", 1)] * 2 + [("alert-log", 2)] * 2


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
    assert len(alerts.evaluate(s, index, now=NOW).raised) == 2
    # a "restart": new store connection, evaluation from the index again → no flood of old alerts
    assert alerts.evaluate(s, index, now=NOW + timedelta(minutes=30)).raised == []
    # window passes, signal back at baseline; resolve only after resolve_after (6h) of quiet
    still = alerts.evaluate(s, index, now=NOW + timedelta(hours=3))  # 24 of the 40 still in the window
    assert still.unchanged == 2 and still.resolved == []
    quiet1 = alerts.evaluate(s, index, now=NOW + timedelta(hours=8))  # quiet for 5h < resolve_after
    assert quiet1.resolved == [] and quiet1.unchanged == 0
    quiet2 = alerts.evaluate(s, index, now=NOW + timedelta(hours=9, minutes=30))
    assert sorted(r.key for r in quiet2.resolved) == ["", "login"]
    with open_store(s) as st:
        rec = st.list(state="resolved")[0]
        events = [e["event"] for e in st.events(rec.fingerprint)]
    assert events == ["opened", "resolved"]
    log = [json.loads(x) for x in (s.home / "data" / "alerts.log").read_text("utf-8").splitlines()] \
        if (s.home / "data" / "alerts.log").exists() else []
    assert log == []  # nothing delivered yet: deliveries wait in the outbox
