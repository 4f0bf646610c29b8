"""Durable outbox: retries with backoff, each state change queued once per subscriber and channel across
restarts and races (delivery itself is at least once: see test_delivery_faults.py), and one channel down
never blocking the others. Real SQLite, real loopback receivers."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import httpx

import alerts
from alerts.store import open_store
from configs.alerts import Channel, Subscriber
from configs.settings import Secrets
from tests.alerts.receivers import SECRET, TOKEN
from tests.helpers import ALERTS_NOW as NOW, baseline_docs, run_in_threads, surge_docs


def _settings(settings, receiver, *, log_path="data/alerts.log"):
    rules = tuple(r for r in settings.alerts.rules if r.kind == "volume_spike")
    channels = (
        Channel(name="alert-log", kind="log", path=log_path),
        Channel(name="hook", kind="webhook", url=receiver.url + "/hook", secret_env="HOOK_SECRET"),
        Channel(name="ding", kind="dingtalk", url_env="DING_URL", secret_env="DING_SECRET"),
    )
    subs = (Subscriber(name="oncall", channels=("hook", "ding")),
            Subscriber(name="audit", channels=("alert-log",), min_severity="info"),
            Subscriber(name="payments-team", channels=("hook",), topics=("payment",)))
    env = {"HOOK_SECRET": SECRET, "DING_SECRET": SECRET,
           "DING_URL": receiver.url + f"/robot/send?access_token={TOKEN}"}
    al = dataclasses.replace(settings.alerts, rules=rules, channels=channels, subscribers=subs)
    return settings.replace(alerts=al, secrets=Secrets(env))


def _surge(index):
    """Two problems at once (different posts, different topics): two incidents, two notifications each."""
    index.upsert(baseline_docs())
    index.upsert(surge_docs(40))
    index.upsert(surge_docs(30, topic="ads", start_n=300_000, text="开屏广告关不掉，点一下就跳转"))


def test_receiver_down_then_up_gets_every_pending_alert_exactly_once(settings, index, receiver):
    s = _settings(settings, receiver)
    _surge(index)
    report = alerts.evaluate(s, index, now=NOW)
    assert len(report.raised) == 2
    receiver.stop()  # webhook + DingTalk receiver down
    first = alerts.deliver(s, now=NOW)
    # the log channel is not blocked by the dead receiver
    assert sorted(d.channel for d in first.sent) == ["alert-log", "alert-log"]
    assert {d.channel for d in first.failed} == {"hook", "ding"} and all(d.retry for d in first.failed)
    # one failure per (subscriber, channel) per run: the second row on that channel waits, in order
    assert len(first.failed) == 2
    # still down a while later: retried with backoff, still pending
    second = alerts.deliver(s, now=NOW + timedelta(minutes=1))
    assert second.sent == [] and len(second.failed) == 2
    # backoff: nothing is due right after the failure
    assert alerts.deliver(s, now=NOW + timedelta(minutes=1, seconds=5)).failed == []
    receiver.start()  # up again on the same port
    third = alerts.deliver(s, now=NOW + timedelta(minutes=10))
    assert len(third.sent) == 4 and third.failed == []
    assert alerts.deliver(s, now=NOW + timedelta(hours=5)).sent == []  # nothing twice
    got = sorted((r["platform"], r["body"]["id"] if r["platform"] == "webhook" else r["body"]["msgtype"])
                 for r in receiver.received)
    assert len(got) == 4 and len(set(r.get("delivery") for r in receiver.received if r["platform"] == "webhook")) == 2
    assert receiver.rejected == []
    log = (s.home / "data" / "alerts.log").read_text("utf-8").splitlines()
    assert len(log) == 2
    # a restart (new store connection) re-evaluating sends nothing new
    alerts.evaluate(s, index, now=NOW + timedelta(minutes=20))
    assert alerts.deliver(s, now=NOW + timedelta(minutes=21)).sent == []


def test_subscriber_filters_by_topic_and_severity(settings, index, receiver):
    s = _settings(settings, receiver)
    _surge(index)
    alerts.evaluate(s, index, now=NOW)
    with open_store(s) as st:
        rows = st.outbox()
    assert "payments-team" not in {r.subscriber for r in rows}  # login alerts only
    assert sorted({r.subscriber for r in rows}) == ["audit", "oncall"]
    strict = s.replace(alerts=dataclasses.replace(s.alerts, subscribers=(
        Subscriber(name="execs", channels=("hook",), min_severity="critical"),)))
    idx_rows = alerts.evaluate(strict, index, now=NOW + timedelta(minutes=1))
    assert idx_rows.queued == 0


def test_two_evaluators_racing_queue_each_state_change_once(settings, index, receiver):
    s = _settings(settings, receiver)
    _surge(index)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(alerts.evaluate(s, index, now=NOW))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_in_threads(run, 4)
    assert errors == []
    assert sum(len(r.raised) for r in results) == 2  # exactly one evaluator opened each alert
    with open_store(s) as st:
        assert len(st.outbox()) == 2 * 3  # 2 alerts × (oncall: hook, ding; audit: log)


def test_two_deliverers_racing_send_each_row_once(settings, index, receiver):
    s = _settings(settings, receiver)
    _surge(index)
    alerts.evaluate(s, index, now=NOW)
    barrier = threading.Barrier(3)
    reports = []

    def run():
        with httpx.Client() as client:
            barrier.wait()
            reports.append(alerts.deliver(s, now=NOW, client=client))

    run_in_threads(run, 3)
    assert sum(len(r.sent) for r in reports) == 6
    assert len(receiver.received) == 4
    assert len((s.home / "data" / "alerts.log").read_text("utf-8").splitlines()) == 2


def test_permanent_failure_gives_up_and_retry_requeues(settings, index, receiver):
    s = _settings(settings, receiver)
    s = s.replace(secrets=Secrets({"HOOK_SECRET": SECRET, "DING_SECRET": "wrong",
                                   "DING_URL": receiver.url + f"/robot/send?access_token={TOKEN}"}))
    _surge(index)
    alerts.evaluate(s, index, now=NOW)
    rep = alerts.deliver(s, now=NOW)
    ding = [d for d in rep.failed if d.channel == "ding"]
    assert len(ding) == 2 and not any(d.retry for d in ding) and "310000" in ding[0].error
    assert "wrong" not in ding[0].error
    assert len([d for d in rep.sent if d.channel == "hook"]) == 2
    with open_store(s) as st:
        assert len(st.outbox(status="failed")) == 2
        assert st.retry_failed(now=NOW) == 2
    fixed = s.replace(secrets=Secrets({"HOOK_SECRET": SECRET, "DING_SECRET": SECRET,
                                       "DING_URL": receiver.url + f"/robot/send?access_token={TOKEN}"}))
    assert len(alerts.deliver(fixed, now=NOW + timedelta(minutes=1)).sent) == 2
