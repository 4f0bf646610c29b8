"""app.progress without processes: figures, plain lines on a clock, quiet, and Ctrl-C at safe points."""

from __future__ import annotations

import io
import os
import signal

import pytest

from app.progress import (Cancelled, NullSink, PlainSink, Reporter, Task, describe, format_seconds, reporter_for,
                          safe_interrupts)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_figures_count_rate_and_time_left() -> None:
    clock = Clock()
    task = Task("classify", total=1000, unit="rows", clock=clock)
    clock.now += 4
    task(200)
    assert task.rate == 50 and task.eta == 16
    assert describe(task) == "classify: 200/1000 rows (20%), 50 rows/s, 16s left"
    task.note(blocked=1)
    task.close()
    assert describe(task) == "classify: 200/1000 rows (20%), 50 rows/s, 4s elapsed, blocked 1"
    snap = task.snapshot()
    assert (snap["done"], snap["total"], snap["percent"]) == (200, 1000, 20.0)
    assert (snap["rate"], snap["eta_seconds"]) == (50.0, 16)


def test_a_time_budget_caps_the_time_left() -> None:
    clock = Clock()
    task = Task("train", total=5000, unit="steps", limit=60, clock=clock)
    clock.now += 10
    task(20)  # 2 steps/s: 2490 s of steps left, but training stops 50 s from now
    assert task.eta == 50


def test_a_resumed_run_counts_only_its_own_work_in_the_rate() -> None:
    clock = Clock()
    task = Task("reindex", total=1000, unit="docs", initial=600, clock=clock)
    clock.now += 2
    task(700)
    assert task.rate == 50 and task.eta == 6


def test_unknown_total_shows_count_and_rate() -> None:
    clock = Clock()
    task = Task("appstore", unit="items", clock=clock)
    clock.now += 2
    task(30)
    assert task.eta is None and describe(task) == "appstore: 30 items, 15 items/s"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59.4, "59s"), (75, "1m15s"), (3725, "1h02m"), (None, "?")])
def test_format_seconds(seconds, text) -> None:
    assert format_seconds(seconds) == text


def test_plain_lines_come_once_an_interval_and_only_for_long_work() -> None:
    clock, out = Clock(), io.StringIO()
    sink = PlainSink(out, interval=5, clock=clock)
    quick = Task("quick", total=10, unit="rows", sink=sink, clock=clock)
    clock.now += 1
    quick(10)
    quick.close()
    assert out.getvalue() == ""  # shorter than an interval: nothing
    slow = Task("slow", total=100, unit="rows", sink=sink, clock=clock)
    for _ in range(10):
        clock.now += 1
        slow.advance(10)
    slow.close()
    assert out.getvalue().splitlines() == ["slow: 50/100 rows (50%), 10 rows/s, 5s left",
                                           "slow: 100/100 rows (100%), 10 rows/s, 0s left",
                                           "slow: 100/100 rows (100%), 10 rows/s, 10s elapsed"]


def test_quiet_and_pipes_choose_their_sink() -> None:
    assert isinstance(reporter_for(quiet=True).sink, NullSink)
    assert isinstance(reporter_for(stream=io.StringIO()).sink, PlainSink)


def test_the_first_ctrl_c_stops_at_the_next_report_the_second_at_once() -> None:
    with safe_interrupts(io.StringIO()) as interrupts:
        reporter = Reporter(NullSink(), stop=interrupts)
        task = reporter.task("work", total=3)
        os.kill(os.getpid(), signal.SIGINT)  # a request: nothing is raised here
        with pytest.raises(KeyboardInterrupt):
            task(1)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    task.close()


def test_ctrl_c_with_no_task_open_interrupts_at_once() -> None:
    with safe_interrupts(io.StringIO()):
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_cancelled_job_stops_at_its_next_report() -> None:
    cancelled = []
    task = Reporter(NullSink(), stop=lambda: Cancelled() if cancelled else None).task("retag")
    task(1)
    cancelled.append(True)
    with pytest.raises(Cancelled):
        task(2)
    assert task.done == 2  # the count still moved: the batch before the stop was done
