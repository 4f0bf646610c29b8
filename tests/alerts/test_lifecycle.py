"""Lifecycle with an injected clock: open → updated → resolved, ack, reopen, re-alert backoff."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alerts.detect import Figures, Match
from alerts.lifecycle import AlertRecord, Lifecycle, Policy, fingerprint, silence_for

T = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def match(current, severity="warning", at=T):
    f = Figures(current=current, expected=3, low=0, high=10, ratio=current / 3, window_start=at - 6 * H, window_end=at)
    return Match(key="login", at=at, severity=severity, figures=f)


def lc(clock):
    return Lifecycle(clock=clock, policy=Policy(resolve_after=6 * H, realert=H, realert_max=8 * H, update_growth=1.5))


def step(life, rec, current, severity="warning"):
    return life.match(rec, match(current, severity), rule="spike", kind="volume_spike", product="demo",
                      title="demo · 登录 激增", detail={"topics": ["login"]})


def test_open_update_silence_and_resolve():
    clock = Clock(T)
    life = lc(clock)
    tr = step(life, None, 20)
    assert (tr.event, tr.notify, tr.record.version, tr.record.state) == ("opened", True, 1, "open")
    assert tr.record.fingerprint == fingerprint("spike", "demo", "login")
    rec = tr.record
    clock.t = T + timedelta(minutes=10)
    tr = step(life, rec, 25)  # grew, but < 1.5×
    assert (tr.event, tr.notify, tr.record.version) == (None, False, 1) and tr.record.figures.current == 25
    tr = step(life, tr.record, 40)  # ≥ 1.5× but silenced: 1 notification → wait realert (1h)
    assert (tr.event, tr.notify) == (None, False) and tr.record.peak == 20
    clock.t = T + H
    tr = step(life, tr.record, 40)
    assert (tr.event, tr.notify, tr.record.version, tr.record.peak) == ("updated", True, 2, 40)
    clock.t = T + 2 * H  # second update must wait 2h after the last (backoff doubles)
    tr = step(life, tr.record, 80)
    assert tr.event is None
    clock.t = T + 3 * H
    tr = step(life, tr.record, 80, "critical")
    assert (tr.event, tr.record.version, tr.record.severity) == ("updated", 3, "critical")
    rec = tr.record
    clock.t = T + 8 * H  # quiet for 5h: not yet
    assert life.quiet(rec) is None
    clock.t = T + 9 * H
    tr = life.quiet(rec)
    assert (tr.event, tr.notify, tr.record.state, tr.record.version) == ("resolved", True, "resolved", 4)


def test_backoff_doubles_up_to_max():
    p = Policy(realert=H, realert_max=8 * H)
    assert [silence_for(n, p) for n in range(6)] == [timedelta(0), H, 2 * H, 4 * H, 8 * H, 8 * H]


def test_ack_silences_updates_but_not_resolution():
    clock = Clock(T)
    life = lc(clock)
    rec = step(life, None, 20).record
    tr = life.ack(rec, "alice")
    assert (tr.event, tr.notify, tr.record.acked_by) == ("acknowledged", False, "alice")
    clock.t = T + 5 * H
    tr = step(life, tr.record, 200, "critical")
    assert (tr.event, tr.notify, tr.record.version, tr.record.severity) == (None, False, 1, "critical")
    clock.t = T + 12 * H
    tr = life.quiet(tr.record)
    assert tr.event == "resolved" and tr.notify


def test_flapping_reopen_is_silenced_then_allowed():
    clock = Clock(T)
    life = lc(clock)
    rec = step(life, None, 20).record
    clock.t = T + 6 * H
    rec = life.quiet(rec).record  # resolved at +6h (counts as a notification)
    clock.t = T + 6 * H + timedelta(minutes=30)
    tr = step(life, rec, 20)
    assert (tr.event, tr.notify, tr.record.state, tr.record.version) == ("reopened", False, "open", 3)
    assert tr.record.acked_at is None
    # resolved long ago: a reopening notifies at once
    clock.t = T + 6 * H
    resolved = life.quiet(step(life, None, 20).record)
    clock.t = T + 30 * H
    tr = step(life, resolved.record if resolved else rec, 20)
    assert tr.notify


def test_manual_resolve_once_and_json_round_trip():
    clock = Clock(T)
    life = lc(clock)
    rec = step(life, None, 20).record
    tr = life.resolve(rec)
    assert tr.event == "resolved" and tr.record.version == 2
    assert life.resolve(tr.record) is None
    back = AlertRecord.from_json(tr.record.to_json())
    assert back.to_json() == tr.record.to_json() and back.figures.ratio == 6.667  # figures stored rounded
    assert tr.record.to_json()["summary"].startswith("20 in 6h vs baseline 3")
