"""Fix, then verify: `voc alerts fix ID --version V [--date D]`, the verdict from the data after the
observation window (fix_verified / fix_ineffective with the rates), one message each, and a verified
incident that comes back reopens. Real SQLite index and store; the log channel is the subscriber."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from click.testing import CliRunner

import alerts
from alerts.fixes import mark_fixed
from alerts.store import open_store
from app.cli import cli
from configs.alerts import Channel, Subscriber
from tests.helpers import ALERTS_NOW as NOW, adopter_docs, baseline_docs, make_doc, surge_docs


def _settings(settings):
    rules = tuple(r for r in settings.alerts.rules if r.kind == "volume_spike")
    channels = (Channel(name="alert-log", kind="log", path="data/alerts.log"),)
    subs = (Subscriber(name="team", channels=("alert-log",)),)
    al = dataclasses.replace(settings.alerts, rules=rules, channels=channels, subscribers=subs)
    return settings.replace(alerts=al)


def _log(s):
    path = s.home / "data" / "alerts.log"
    return [json.loads(x) for x in path.read_text("utf-8").splitlines()] if path.exists() else []


def _reviews(start_n, count, *, version, end, hours=5):
    return [make_doc(start_n + i, at=end - timedelta(minutes=1 + (i * hours * 60) // count), source="appstore",
                     kind="review", rating=1, app_version=version, topics=("login",),
                     text=f"登录不上去，一直提示验证码错误 #{i}") for i in range(count)]


def _open_incident(s, index):
    index.upsert(baseline_docs())
    index.upsert(_reviews(100_000, 40, version="3.2.0", end=NOW))
    [inc] = alerts.evaluate(s, index, now=NOW).raised
    return inc


def test_fix_on_a_version_is_verified_from_the_reviews_of_that_version_and_told_once(settings, index):
    s = _settings(settings)
    inc = _open_incident(s, index)
    fixed = mark_fixed(s, inc.fingerprint, version="3.2.1", date=NOW, now=NOW + timedelta(minutes=30))
    assert fixed.state == "fixed" and fixed.detail["fix"]["verdict"] == "pending"
    # the day after: 3.2.1 gets 2 login complaints; users still on 3.2.0 keep complaining (not the fix's fault)
    later = NOW + timedelta(days=1)
    index.upsert(_reviews(200_000, 2, version="3.2.1", end=later, hours=20))
    index.upsert(adopter_docs(250_000, 12, version="3.2.1", end=later))
    index.upsert(_reviews(300_000, 15, version="3.2.0", end=later, hours=20))
    # inside the window: no verdict, no message, the fading signal neither updates nor resolves it
    mid = alerts.evaluate(s, index, now=NOW + timedelta(hours=3))
    assert mid.verdicts == [] and mid.updated == [] and mid.resolved == []
    with open_store(s) as st:
        assert st.get(inc.fingerprint).state == "fixed"
    report = alerts.evaluate(s, index, now=later + timedelta(minutes=5))
    [rec] = report.verdicts
    assert rec.state == "fix_verified"
    fix = rec.detail["fix"]
    assert (fix["verdict"], fix["after_rate"]) == ("verified", 2.0)
    assert fix["before_rate"] >= 40  # 40 reviews of 3.2.0 plus the weibo baseline of the day before
    assert fix["text"].startswith("登录/账号相关负面反馈：3.2.1 上 2 条/天，3.2.0 上 40 条/天；其他渠道修复后 0 条/天")
    alerts.deliver(s, now=later + timedelta(minutes=5))
    # evaluating again tells nobody anything new
    again = alerts.evaluate(s, index, now=later + timedelta(hours=1))
    assert again.verdicts == [] and again.raised == []
    alerts.deliver(s, now=later + timedelta(hours=1))
    msgs = _log(s)
    assert [m["event"] for m in msgs] == ["opened", "fix_verified"]
    assert "3.2.1 上 2 条/天" in msgs[-1]["text"]


def test_a_fix_nobody_runs_yet_is_not_verified_by_its_silence(settings, index):
    s = _settings(settings)
    inc = _open_incident(s, index)
    mark_fixed(s, inc.fingerprint, version="3.2.1", date=NOW, now=NOW)
    later = NOW + timedelta(days=1, minutes=5)
    index.upsert(adopter_docs(250_000, 3, version="3.2.1", end=NOW + timedelta(days=1)))  # 3 reviews of 3.2.1: too few
    index.upsert(adopter_docs(260_000, 30, version="3.2.0", end=NOW + timedelta(days=1)))  # (the old version's users do not count)
    assert alerts.evaluate(s, index, now=later).verdicts == []
    with open_store(s) as st:
        rec = st.get(inc.fingerprint)
    fix = rec.detail["fix"]
    assert rec.state == "fixed" and fix["verdict"] == "pending" and fix["adopters"] == 3
    assert fix["due_at"] == "2026-11-26T06:30:00Z"  # one more observation period
    assert "3.2.1 仅 3 条反馈（需 10 条）" in fix["waiting"]
    alerts.deliver(s, now=later)
    assert [m["event"] for m in _log(s)] == ["opened"]  # nothing told while waiting
    # the next day people have it, and no complaints: now it is verified
    index.upsert(adopter_docs(270_000, 12, version="3.2.1", end=NOW + timedelta(days=2)))
    [rec] = alerts.evaluate(s, index, now=later + timedelta(days=1)).verdicts
    assert rec.state == "fix_verified" and rec.detail["fix"]["adopters"] == 15


def test_a_fix_that_changes_nothing_is_ineffective_with_the_same_numbers(settings, index):
    s = _settings(settings)
    index.upsert(baseline_docs())
    index.upsert(surge_docs(40))
    [inc] = alerts.evaluate(s, index, now=NOW).raised
    mark_fixed(s, inc.fingerprint, date=NOW, note="重启了短信网关", now=NOW)
    later = NOW + timedelta(days=1)
    index.upsert(surge_docs(35, end=later, hours=20, start_n=400_000))
    report = alerts.evaluate(s, index, now=later + timedelta(minutes=1))
    [rec] = report.verdicts
    fix = rec.detail["fix"]
    assert rec.state == "fix_ineffective" and fix["verdict"] == "ineffective"
    assert fix["after_rate"] == 35.0 and fix["text"].startswith("登录/账号相关负面反馈：修复后 35 条/天，修复前 ")
    alerts.deliver(s, now=later + timedelta(minutes=1))
    assert [m["event"] for m in _log(s)] == ["opened", "fix_ineffective"]


def test_a_verified_incident_whose_signal_comes_back_reopens(settings, index):
    s = _settings(settings)
    inc = _open_incident(s, index)
    mark_fixed(s, inc.fingerprint, version="3.2.1", date=NOW, now=NOW)
    later = NOW + timedelta(days=1, minutes=5)
    index.upsert(adopter_docs(250_000, 10, version="3.2.1", end=NOW + timedelta(days=1)))
    assert alerts.evaluate(s, index, now=later).verdicts[0].state == "fix_verified"
    back = later + timedelta(days=2)
    index.upsert(_reviews(500_000, 40, version="3.2.1", end=back))
    report = alerts.evaluate(s, index, now=back)
    assert [(r.fingerprint, r.state) for r in report.raised] == [(inc.fingerprint, "open")]
    alerts.deliver(s, now=back)
    assert [m["event"] for m in _log(s)] == ["opened", "fix_verified", "reopened"]


def test_cli_fix_then_show_json_carries_state_and_fix(settings, index, tmp_path):
    s = _settings(settings)
    inc = _open_incident(s, index)
    index.close()
    env = {"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules", "VOC_WEBHOOK_URL": "", "VOC_CONFIG_DIR": ""}
    run = CliRunner().invoke
    r = run(cli, ["alerts", "fix", inc.fingerprint[:8], "--version", "3.2.1", "--date", "2026-11-24",
                  "--ticket", "https://jira.example.com/browse/APP-1"], env=env)
    assert r.exit_code == 0, r.output
    r = run(cli, ["alerts", "show", inc.fingerprint, "--json"], env=env)
    out = json.loads(r.output)
    assert out["state"] == "fixed"
    assert out["fix"]["version"] == "3.2.1" and out["fix"]["verdict"] == "pending"
    assert out["fix"]["date"] == "2026-11-23T16:00:00Z"  # 00:00 Asia/Shanghai
    assert out["fix"]["ticket"] == "https://jira.example.com/browse/APP-1"
    for bad in (["--version", "3.2.1", "--ticket", "javascript:alert(1)"], [], ["--date", "昨天"]):
        r = run(cli, ["alerts", "fix", inc.fingerprint, *bad], env=env)
        assert r.exit_code == 1 and "Error:" in r.output and "Traceback" not in r.output, r.output
    r = run(cli, ["alerts", "fix", "nosuchid", "--version", "1"], env=env)
    assert r.exit_code == 1 and "no single alert" in r.output


def test_a_crawled_version_string_reaches_the_verdict_as_one_short_line(settings, index):
    s = _settings(settings)
    index.upsert(baseline_docs())
    hostile = "3.1.9\n## <script>alert(1)</script>" + "x" * 200
    index.upsert(_reviews(100_000, 40, version=hostile, end=NOW))
    [inc] = alerts.evaluate(s, index, now=NOW).raised
    mark_fixed(s, inc.fingerprint, version="3.2.1", date=NOW, now=NOW)
    index.upsert(adopter_docs(250_000, 10, version="3.2.1", end=NOW + timedelta(days=1)))
    [rec] = alerts.evaluate(s, index, now=NOW + timedelta(days=1, minutes=1)).verdicts
    text = rec.detail["fix"]["text"]
    assert rec.state == "fix_verified" and "\n" not in text and len(text) < 200
    assert "3.1.9 ## <script>alert(1)</scrip… 上 40 条/天" in text  # inert text, capped; channels escape it
