"""`voc schedule`: the Scheduler with an injected clock and injected job functions, plus the CLI."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.scheduler import RunHistory, Scheduler, history_path, next_run
from configs import load_settings
from configs.sources import SourceSettings
from configs.web import ScheduleSettings
from tests.helpers import REPO

T0 = datetime(2026, 11, 24, 0, 59, 30, tzinfo=timezone.utc)  # 08:59:30 Shanghai


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw) -> None:
        self.t += timedelta(**kw)


class Actions(dict):
    """Recording job functions; ``block[source]`` (an Event) holds that source's crawl until set."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        self.block: dict[str, threading.Event] = {}
        self.started: dict[str, threading.Event] = {}
        self.locked: set[str] = set()
        self.fail: set[str] = set()
        self._lock = threading.Lock()
        self.update(crawl=self.crawl, evaluate=self.evaluate, deliver=self.deliver, digest=self.digest,
                    is_locked=lambda s: s in self.locked)

    def _log(self, *call) -> None:
        with self._lock:
            self.calls.append(call)

    def crawl(self, source):
        self._log("crawl", source)
        self.started.setdefault(source, threading.Event()).set()
        if source in self.block:
            assert self.block[source].wait(10)
        if source in self.fail:
            raise RuntimeError(f"{source} exploded")
        return {"source": source, "new": 3}

    def evaluate(self, now):
        self._log("evaluate", now)
        return {"raised": 0}

    def deliver(self, now):
        self._log("deliver", now)
        return {"sent": 0}

    def digest(self, period, now):
        self._log("digest", period, now)
        return {"queued": 1}


def make_settings(tmp_settings, *, sources=None, schedule=None):
    s = tmp_settings()
    srcs = sources if sources is not None else {
        "appstore": SourceSettings(schedule="0 */2 * * *"),  # every two hours, on the hour (Shanghai)
        "v2ex": SourceSettings(schedule="*/30 * * * *"),
        "weibo": SourceSettings(schedule="*/5 * * * *", enabled=False),
        "forum": SourceSettings(),  # no schedule: never run by the scheduler
    }
    web = dataclasses.replace(s.web, schedule=schedule or ScheduleSettings(alerts=None, digest_day="0 9 * * *",
                                                                           digest_week=None))
    return s.replace(voc=dataclasses.replace(s.voc, web=web), sources=dataclasses.replace(s.sources, sources=srcs))


@pytest.fixture
def sched(tmp_settings):
    made = []

    def make(**kw):
        clock = Clock(kw.pop("start", T0))
        actions = Actions()
        s = Scheduler(make_settings(tmp_settings, **kw), clock=clock, actions=actions)
        made.append(s)
        return s, clock, actions

    yield make
    for s in made:
        s.close()


def test_next_run_reads_cron_in_the_configured_zone():
    # 09:00 Shanghai is 01:00 UTC
    assert next_run("0 9 * * *", T0, tz="Asia/Shanghai") == datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
    assert next_run("0 9 * * *", T0, tz="UTC") == datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def test_jobs_come_from_sources_yaml_and_the_web_schedule(sched):
    s, _clock, _actions = sched()
    assert [j.name for j in s.jobs] == ["crawl:appstore", "crawl:v2ex", "digest:day"]  # disabled/unscheduled skipped
    assert s.next_runs()["crawl:appstore"] == datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)  # 10:00 Shanghai
    assert s.next_runs()["crawl:v2ex"] == datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)


def test_nothing_runs_before_its_time_then_crawl_is_followed_by_alerts(sched):
    s, clock, actions = sched()
    assert s.tick() == []
    clock.advance(seconds=30)  # 09:00 Shanghai: v2ex (*/30) and the daily digest are due
    started = s.tick()
    s.drain()
    assert sorted(r.job for r in started) == ["crawl:v2ex", "digest:day"]
    crawl_calls = [c for c in actions.calls if c[0] in ("crawl", "evaluate", "deliver")]
    assert [c[0] for c in crawl_calls] == ["crawl", "evaluate", "deliver"]  # alerts after the crawl, in order
    assert ("digest", "day", clock()) in actions.calls
    runs = {r.job: r for r in s.history.recent()}
    assert runs["crawl:v2ex"].status == "ok"
    assert runs["crawl:v2ex"].detail["crawl"] == {"source": "v2ex", "new": 3}
    assert runs["crawl:v2ex"].detail["evaluate"] == {"raised": 0}
    assert runs["digest:day"].status == "ok"
    assert s.tick() == []  # already ran for this fire time
    assert s.next_runs()["crawl:v2ex"] == datetime(2026, 11, 24, 1, 30, tzinfo=timezone.utc)


def test_missed_fire_times_run_once_not_once_each(sched):
    s, clock, actions = sched()
    clock.advance(hours=5)  # slept through 10 fire times of v2ex and 2 of appstore
    s.tick()
    s.drain()
    assert sorted(c[1] for c in actions.calls if c[0] == "crawl") == ["appstore", "v2ex"]
    assert s.next_runs()["crawl:v2ex"] > clock()


def test_never_two_runs_of_the_same_source_at_once(sched):
    s, clock, actions = sched()
    actions.block["v2ex"] = threading.Event()
    clock.advance(seconds=30)
    s.tick()
    assert actions.started.setdefault("v2ex", threading.Event()).wait(5)
    clock.advance(minutes=30)  # due again while the first run is still going
    second = [r for r in s.tick() if r.job == "crawl:v2ex"]
    assert second[0].status == "skipped" and "still going" in second[0].detail["reason"]
    actions.block["v2ex"].set()
    s.drain()
    assert [c for c in actions.calls if c == ("crawl", "v2ex")] == [("crawl", "v2ex")]
    statuses = [r.status for r in s.history.recent(job="crawl:v2ex")]
    assert sorted(statuses) == ["ok", "skipped"]


def test_a_source_locked_by_another_process_is_skipped(sched):
    s, clock, actions = sched()
    actions.locked.add("v2ex")
    clock.advance(seconds=30)
    record = next(r for r in s.tick() if r.job == "crawl:v2ex")
    s.drain()
    assert record.status == "skipped" and "lock" in record.detail["reason"]
    assert ("crawl", "v2ex") not in actions.calls


def test_the_real_crawl_state_lock_is_honoured(tmp_settings):
    from app.scheduler import default_actions
    from crawlers.state import CrawlState

    settings = make_settings(tmp_settings)
    actions = default_actions(settings)
    try:
        assert actions["is_locked"]("v2ex") is False
        with CrawlState(settings.resolve(settings.crawl.state_path)) as state, state.acquire_lock("v2ex"):
            assert actions["is_locked"]("v2ex") is True
        assert actions["is_locked"]("v2ex") is False
    finally:
        actions["close"]()


def test_a_failing_crawl_is_recorded_and_does_not_stop_the_others(sched):
    s, clock, actions = sched()
    actions.fail.add("v2ex")
    clock.advance(hours=1, seconds=30)  # 10:00: appstore and v2ex
    s.tick()
    s.drain()
    runs = {r.job: r for r in s.history.recent()}
    assert runs["crawl:v2ex"].status == "failed" and "v2ex exploded" in runs["crawl:v2ex"].detail["error"]
    assert runs["crawl:appstore"].status == "ok"


def test_alert_timer_and_weekly_digest(sched):
    s, clock, actions = sched(sources={}, schedule=ScheduleSettings(alerts="*/15 * * * *", digest_day=None,
                                                                    digest_week="0 9 * * 1"))
    assert [j.name for j in s.jobs] == ["alerts", "digest:week"]
    clock.advance(seconds=30)  # Tuesday 09:00: alerts due, weekly digest (Mondays) not
    s.tick()
    s.drain()
    assert [c[0] for c in actions.calls] == ["evaluate", "deliver"]
    assert s.next_runs()["digest:week"] == datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)


def test_history_is_kept_across_restarts_and_pruned(tmp_path):
    path = tmp_path / "schedule.db"
    from app.scheduler import RunRecord

    h = RunHistory(path, keep=3)
    for i in range(5):
        rec = h.start(RunRecord(job=f"crawl:s{i}", kind="crawl", scheduled_for=T0, started_at=T0))
        rec.status, rec.finished_at = "ok", T0
        h.finish(rec)
    h.close()
    again = RunHistory(path, keep=3)
    assert [r.job for r in again.recent()] == ["crawl:s4", "crawl:s3", "crawl:s2"]
    again.close()


def test_an_invalid_cron_expression_names_where_it_is(tmp_settings):
    settings = make_settings(tmp_settings, sources={"v2ex": SourceSettings(schedule="every morning")})
    with pytest.raises(ValueError, match=r"sources\.v2ex\.schedule.*every morning"):
        Scheduler(settings, clock=lambda: T0, actions=Actions())


def test_run_forever_returns_when_stopped(sched):
    s, clock, actions = sched()
    stop = threading.Event()
    t = threading.Thread(target=s.run_forever, args=(stop,), kwargs={"poll": 0.05})
    t.start()
    stop.set()
    t.join(5)
    assert not t.is_alive()


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(VOC_HOME=str(tmp_path), VOC_CLASSIFIER_MODEL="rules", VOC_CONFIG_DIR=str(REPO / "configs"))
    return env


def test_cli_lists_jobs_and_history(tmp_path):
    from click.testing import CliRunner

    from app.cli import cli

    env = _cli_env(tmp_path)
    result = CliRunner().invoke(cli, ["schedule", "--list"], env=env)
    assert result.exit_code == 0, result.output
    assert "crawl:appstore" in result.output and "Asia/Shanghai" in result.output
    result = CliRunner().invoke(cli, ["schedule", "--history", "5"], env=env)
    assert result.exit_code == 0 and "No runs yet." in result.output
    result = CliRunner().invoke(cli, ["schedule", "--run", "crawl:nope"], env=env)
    assert result.exit_code == 1 and "unknown job 'crawl:nope'" in result.output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_stops_cleanly_on_a_signal(tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main(['schedule'])"], env=_cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        line = proc.stderr.readline()
        while line and "crawl:appstore" not in line:
            line = proc.stderr.readline()
        assert "crawl:appstore" in line
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Scheduler stopped." in err
    assert history_path(load_settings(REPO / "configs", env={"VOC_HOME": str(tmp_path)})) == tmp_path / "data" / "schedule.db"
    assert (tmp_path / "data" / "schedule.db").exists()


def test_default_actions_drive_the_real_alerts_package(seeded):
    """A crawl job (crawl stubbed) followed by the REAL alerts.evaluate + alerts.deliver, and the daily digest
    through alerts.build_digest/send_digest, on the seeded index; the history keeps their summaries."""
    from app.scheduler import default_actions

    settings, _index, _docs = seeded
    settings = make_settings(lambda: settings)
    actions = default_actions(settings)
    actions["crawl"] = lambda source: {"source": source, "new": 0}
    now = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
    s = Scheduler(settings, clock=lambda: now, actions=actions)
    try:
        s.run_now("crawl:v2ex")
        s.run_now("digest:day")
        s.drain()
        runs = {r.job: r for r in s.history.recent()}
        crawl = runs["crawl:v2ex"]
        assert crawl.status == "ok", crawl.detail
        assert "raised" in crawl.detail["evaluate"]["summary"] and "sent" in crawl.detail["deliver"]["summary"]
        assert runs["digest:day"].status == "ok", runs["digest:day"].detail
        assert runs["digest:day"].detail["digest"]["queued"] >= 1  # product-team subscribes to digests
    finally:
        s.close()
