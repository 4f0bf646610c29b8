"""Escalation with an injected clock (each evaluation's ``now``): a critical incident nobody acks within
``escalation.ack_within.critical`` escalates once to the ``level: 1`` subscribers, and the message says so;
an acknowledged one never does. Real SQLite index and store; each subscriber has its own log channel."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

import alerts
from configs.alerts import Channel, EscalationSettings, Subscriber
from tests.helpers import ALERTS_NOW as NOW, baseline_docs, surge_docs


def _settings(settings):
    rules = tuple(r for r in settings.alerts.rules if r.kind == "volume_spike")
    channels = (Channel(name="team-log", kind="log", path="data/team.log"),
                Channel(name="lead-log", kind="log", path="data/lead.log"))
    subs = (Subscriber(name="team", channels=("team-log",)), Subscriber(name="lead", channels=("lead-log",), level=1))
    al = dataclasses.replace(settings.alerts, rules=rules, channels=channels, subscribers=subs,
                             escalation=EscalationSettings(ack_within={"critical": timedelta(minutes=30)}))
    return settings.replace(alerts=al)


def _log(s, name):
    path = s.home / "data" / f"{name}.log"
    return [json.loads(x) for x in path.read_text("utf-8").splitlines()] if path.exists() else []


def _critical(s, index):
    index.upsert(baseline_docs())
    index.upsert(surge_docs(80))
    [inc] = alerts.evaluate(s, index, now=NOW).raised
    assert inc.severity == "critical"
    return inc


def _run(s, index, at):
    report = alerts.evaluate(s, index, now=at)
    alerts.deliver(s, now=at)
    return report


def test_an_unacknowledged_critical_incident_escalates_at_its_deadline_once(settings, index):
    s = _settings(settings)
    inc = _critical(s, index)
    alerts.deliver(s, now=NOW)
    assert [m["event"] for m in _log(s, "team")] == ["opened"] and _log(s, "lead") == []
    assert _run(s, index, NOW + timedelta(minutes=29)).escalated == []
    assert _log(s, "lead") == []
    report = _run(s, index, NOW + timedelta(minutes=31))
    assert [r.fingerprint for r in report.escalated] == [inc.fingerprint]
    [msg] = _log(s, "lead")
    assert msg["event"] == "escalated" and "严重告警 30m 内无人确认，已上报给 lead" in msg["text"]
    for minutes in (45, 90, 240):
        assert _run(s, index, NOW + timedelta(minutes=minutes)).escalated == []
    assert [m["event"] for m in _log(s, "lead")] == ["escalated"]
    assert [m["event"] for m in _log(s, "team")] == ["opened"]  # the escalation goes to the next group only


def test_an_incident_acknowledged_in_time_never_escalates(settings, index):
    s = _settings(settings)
    inc = _critical(s, index)
    alerts.ack(s, inc.fingerprint, by="值班", now=NOW + timedelta(minutes=10))
    for minutes in (31, 120):
        assert _run(s, index, NOW + timedelta(minutes=minutes)).escalated == []
    assert _log(s, "lead") == []


def test_escalation_config_is_checked():
    with pytest.raises(ValueError, match="unknown severity 'urgent'"):
        EscalationSettings(ack_within={"urgent": timedelta(minutes=5)})
    with pytest.raises(ValueError, match="level must be 0"):
        Subscriber(name="x", channels=("a",), level=2)
