"""Finding 3 of the attack-and-fault review (issue 23): one crawled value broke alert evaluation.

``'²'.isdigit()`` is True and ``int('²')`` raises: one review with app version ``3.²`` stopped ``voc alerts
evaluate`` inside the rating-drop rule, so the high-risk rule after it never ran. Versions now parse to
sort keys in one place (:mod:`configs.versions`, ASCII digits only, bounded), and each rule runs on its
own: a rule that raises is recorded, the others still run, and the CLI exits 1 naming it.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta

import pytest
from click.testing import CliRunner

import alerts
from configs.versions import MAX_PARTS, version_key
from tests.helpers import ALERTS_NOW as NOW, make_doc, reviews_then_a_threat


@pytest.mark.parametrize("hostile", ["3.²", "3.¹²", "٣.١", "3.⁴-beta", "3." + "9" * 5000, "1." * 10_000, "３.1", "",
                                     "3.1\nBcc: x@y", None, 3.1])
def test_version_key_never_raises_and_stays_small(hostile):
    key = version_key(hostile)
    assert len(key) <= MAX_PARTS and all(len(p[2]) <= 64 for p in key)
    assert all(isinstance(p[1], int) and p[1] < 10**18 for p in key)


def test_version_key_orders_ascii_numbers_only():
    assert sorted(["3.10.0", "3.9.1", "10.0", "3.9", "3.9-beta"], key=version_key) == \
        ["3.9", "3.9.1", "3.9-beta", "3.10.0", "10.0"]
    assert version_key("3.²") == ((0, 3, ""), (1, 0, "²"))  # a text part, never int('²')
    assert version_key("٣.1")[0] == (1, 0, "٣")  # Arabic-Indic digits are text too
    assert version_key("3.2.0") > version_key("3.1.9")


def _rules(settings, *kinds):
    rules = tuple(r for r in settings.alerts.rules if r.kind in kinds)
    return settings.replace(alerts=dataclasses.replace(settings.alerts, rules=rules))


def _reviews_and_a_threat(version):
    return reviews_then_a_threat(version, before="3.1")


def test_a_superscript_version_does_not_stop_evaluation(settings, index):
    """The exact finding: on the old code this raised ValueError inside rating_drop and no alert was made."""
    s = _rules(settings, "rating_drop", "high_risk")
    index.upsert(_reviews_and_a_threat("3.²"))
    report = alerts.evaluate(s, index, now=NOW)
    assert report.errors == {}
    assert sorted(r.rule for r in report.raised) == ["high-risk-post", "rating-drop"]
    assert next(r for r in report.raised if r.rule == "rating-drop").key == "3.²"


class FaultyIndex:
    """The real index, except that one kind of query fails the way a damaged or locked SQLite file does.
    (A fault injected around the real component, not a stand-in for it: every other call is the index's.)"""

    def __init__(self, index, *, fail_group_by: str) -> None:
        self._index = index
        self._fail = fail_group_by

    def histogram(self, *args, **kw):
        if kw.get("group_by") == self._fail:
            raise sqlite3.OperationalError("disk I/O error")
        return self._index.histogram(*args, **kw)

    def __getattr__(self, name):
        return getattr(self._index, name)


def test_a_failing_rule_is_recorded_and_the_others_still_run(settings, index):
    s = _rules(settings, "rating_drop", "high_risk")
    index.upsert(_reviews_and_a_threat("3.2"))
    first = alerts.evaluate(s, index, now=NOW)
    assert sorted(r.rule for r in first.raised) == ["high-risk-post", "rating-drop"]
    broken = FaultyIndex(index, fail_group_by="app_version")
    later = NOW + timedelta(days=3)  # long past resolve_after: a rule that ran would resolve its quiet alerts
    index.upsert([make_doc(1000, at=later - timedelta(hours=1), text="要找媒体曝光", risk=["media_threat"])])
    report = alerts.evaluate(s, broken, now=later)
    assert report.errors == {"rating-drop": "OperationalError: disk I/O error"}
    assert [r.rule for r in report.raised] == ["high-risk-post"]  # the rule after the broken one ran
    assert "1 rule(s) failed: rating-drop" in report.summary()
    from alerts.store import open_store

    with open_store(s) as st:  # the failed rule's open alert is left alone, not resolved for lack of a signal
        assert [r.state for r in st.list(rule="rating-drop")] == ["open"]


def test_cli_prints_the_failed_rule_and_exits_1_after_delivering_the_rest(settings, index):
    from app.cli import LazyContext
    from app.cli.alerts import alerts_group
    from app.context import AppContext

    s = _rules(settings, "rating_drop", "high_risk")
    index.upsert(_reviews_and_a_threat("3.2"))
    lazy = LazyContext(None)
    lazy._app = AppContext(s)
    lazy._app.__dict__["index"] = FaultyIndex(index, fail_group_by="app_version")  # the AppContext's built index
    result = CliRunner().invoke(alerts_group, ["evaluate", "--now", "2026-11-24T06:30:00Z"], obj=lazy)
    assert result.exit_code == 1, result.output
    assert "1 raised" in result.output and "high-risk-post" not in result.stderr
    assert "error    rule rating-drop: OperationalError: disk I/O error" in result.stderr
    assert "Delivered: 1 sent, 0 failed" in result.output  # the high-risk alert still went out (alert-log)
    assert "1 rule(s) failed: rating-drop — the other rules ran" in result.stderr


def test_a_scheduled_run_with_a_failed_rule_is_recorded_as_failed_with_the_reason(settings, index):
    from app.scheduler import Scheduler, default_actions

    s = _rules(settings, "rating_drop", "high_risk")
    index.upsert(_reviews_and_a_threat("3.2"))
    actions = default_actions(s)
    actions["crawl"] = lambda source: {"source": source, "new": 0}
    actions["evaluate"] = lambda now: alerts.evaluate(s, FaultyIndex(index, fail_group_by="app_version"), now=now)
    sched = Scheduler(s, clock=lambda: NOW, actions=actions)
    try:
        sched.run_now(next(j.name for j in sched.jobs if j.kind == "crawl"))
        sched.drain()
        (run,) = sched.history.recent()
    finally:
        sched.close()
    assert run.status == "failed"
    assert run.detail["evaluate_error"] == "1 rule(s) failed: rating-drop: OperationalError: disk I/O error"
    assert "1 raised" in run.detail["evaluate"]["summary"] and "1 sent" in run.detail["deliver"]["summary"]
