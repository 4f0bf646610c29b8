"""The novelty detector (``method: novelty`` of volume_spike rules) on synthetic series whose expected
firings follow from its definition, and on a real NAB series through ``alerts.backtest``."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import alerts
from alerts.novelty import NoveltyDetector, detector_for
from bench.alerts import poisson
from configs import load_settings

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 9, 7, tzinfo=timezone.utc)
H = timedelta(hours=1)


def feed(det: NoveltyDetector, values: list[float]) -> list[int]:
    return [nv.index for i, v in enumerate(values) if (nv := det.observe(T0 + i * H, v)) is not None]


def test_a_flat_noisy_series_never_fires_and_a_level_jump_fires_at_once() -> None:
    # values cycle 10, 11, 12, 11: after 200 samples the record high is 12, the range 2, so a new high needs
    # more than 12 + 5%·2 = 12.1; the 6-sample spread and the Gaussian never exceed what the cycle shows
    base = [10, 11, 12, 11] * 60
    assert feed(NoveltyDetector(), list(map(float, base))) == []
    det = NoveltyDetector()
    got = feed(det, [*map(float, base), 30.0, 30.0, 30.0])
    assert got == [240]  # the first 30 is the new high; the next two belong to the same episode
    m = det.advance(T0 + 242 * H)
    assert m is not None and m.detail["check"] == "level_high"
    text = m.figures.describe()
    assert "new high: 30" in text and "highest 12" in text


def test_rises_only_by_default_drops_with_direction_both() -> None:
    base = [10.0, 11.0, 12.0, 11.0] * 60
    assert feed(NoveltyDetector(), [*base, 0.0]) == []  # a new low is not a rise
    assert feed(NoveltyDetector(direction="both"), [*base, 0.0]) == [240]


def test_a_second_spike_no_larger_than_the_first_does_not_fire_again_until_it_is_larger() -> None:
    # records are the series' own: the spike at 250 raises the high to 50; 300 (40) is below it; 400 (80)
    # is a new high and more than refractory (40) samples after the first firing
    values = [10.0, 11.0, 12.0, 11.0] * 125
    values[250], values[300], values[400] = 50.0, 40.0, 80.0
    assert feed(NoveltyDetector(), values) == [250, 400]


def test_sparse_counts_do_not_fire_on_noise() -> None:
    # an integer series of 0s with a 1 now and then, and a 3 at 300: a new high, but the last 6 samples sum
    # to 3 < min_count 10, so nothing fires; 12 items in one hour (sum 12 ≥ 10) does
    values = [1.0 if i % 17 == 0 else 0.0 for i in range(400)]
    values[300] = 3.0
    assert feed(NoveltyDetector(min_count=10), values) == []
    values[350] = 12.0
    assert feed(NoveltyDetector(min_count=10), values) == [350]
    # not counts (a fraction seen): no floor, the 3 is a new high
    values[10] = 0.5
    assert 300 in feed(NoveltyDetector(min_count=10), values)


def test_nothing_fires_during_warm_up() -> None:
    values = [10.0] * 150 + [100.0] + [10.0] * 100  # the jump at 150 < warm-up 200
    assert feed(NoveltyDetector(), values) == []


def test_out_of_order_and_non_finite_samples_are_refused() -> None:
    det = NoveltyDetector()
    det.observe(T0, 1.0)
    with pytest.raises(ValueError, match="time order"):
        det.observe(T0 - H, 1.0)
    with pytest.raises(ValueError, match="finite"):
        det.observe(T0 + H, float("nan"))


def test_backtest_of_the_shipped_rule_fires_inside_the_labelled_windows_of_a_real_nab_series() -> None:
    # a real NAB series (tests/fixtures/nab/README.md): cost per click is not a count (0.134…), so the
    # shipped rule's method auto reads it with the novelty detector from the first row; it fires inside
    # each of the three labelled windows (a rising cost-per-click), and twice outside them: a broken daily
    # pattern on 07-10 (before the first window) and a falling one on 07-22 (direction both)
    settings = load_settings(REPO / "configs", env={"VOC_HOME": str(REPO)})
    shipped = settings.alerts.rule("negative-volume-spike")
    assert shipped is not None and shipped.method == "auto"
    series = alerts.read_series_csv((REPO / "tests/fixtures/nab/exchange-3_cpc_results.csv").read_text())
    fires = [m.at for m, new in alerts.backtest(shipped, series) if new]
    windows = [("2011-07-13 09:15:01", "2011-07-15 11:15:01"), ("2011-07-19 09:15:01", "2011-07-21 11:15:01"),
               ("2011-08-12 07:15:01", "2011-08-14 13:15:01")]
    for lo, hi in windows:
        a, b = (datetime.fromisoformat(x).replace(tzinfo=timezone.utc) for x in (lo, hi))
        assert any(a <= t <= b for t in fires), (lo, hi, fires)
    assert len(fires) == 5
    # the ratio method alone (the default before) sums per hour and asks for ×3 over a seasonal median: a
    # price never triples, so it stays silent here
    assert [m for m, new in alerts.backtest(dataclasses.replace(shipped, method="ratio"), series) if new] == []


def test_method_auto_reads_poisson_counts_with_the_ratio_detector_and_other_series_with_novelty() -> None:
    # hourly counts with Poisson noise around 5 for 10 days, then 60 an hour for 6 hours: counts, variance
    # about the mean, so auto uses the ratio detector (its match carries no novelty check)
    settings = load_settings(REPO / "configs", env={"VOC_HOME": str(REPO)})
    rule = settings.alerts.rule("negative-volume-spike")
    assert rule is not None
    rng = random.Random(3)
    counts = [(T0 + i * H, float(poisson(rng, 5.0))) for i in range(240)] + \
        [(T0 + (240 + i) * H, 60.0) for i in range(6)]
    [m] = [m for m, new in alerts.backtest(rule, counts) if new]
    assert not m.detail and not m.figures.reason  # the ratio detector's match (novelty's names its check)
    assert T0 + 241 * H <= m.at <= T0 + 246 * H
    # the same series with one fractional value at the start is not counts: novelty reads it all
    measured = [(T0, 5.5), *counts[1:]]
    [(m2, _new)] = [(m, new) for m, new in alerts.backtest(rule, measured) if new]
    assert m2.detail["check"] == "level_high" and m2.at == T0 + 240 * H  # the first 60
    # whole numbers that are not low Poisson counts — a constant 5 (no noise at all), or trips per hour in
    # the thousands — are read by novelty too
    flat = [(t, 5.0) for t, _ in counts[:240]] + counts[240:]
    [(m3, _new)] = [(m, new) for m, new in alerts.backtest(rule, flat) if new]
    assert m3.detail["check"] == "level_high" and m3.at == T0 + 240 * H
    trips = [(t, float(int(15000 + 3000 * math.sin(i / 24 * 2 * math.pi)) + rng.randint(-300, 300)))
             for i, (t, _) in enumerate(counts[:240])] + [(t, 40000.0) for t, _ in counts[240:]]
    matches = [m for m, _new in alerts.backtest(rule, trips)]
    assert matches and all(m.detail.get("check") for m in matches)  # novelty's matches only
    assert any(m.at == T0 + 240 * H for m in matches)  # the surge's first hour


def test_poisson_like_tells_low_counts_from_other_series() -> None:
    from alerts.method import dispersion, poisson_like

    rng = random.Random(5)
    for lam in (0.03, 0.3, 1.0, 5.0, 30.0, 300.0):  # Poisson counts at any level, sparse ones included
        assert poisson_like([poisson(rng, lam) for _ in range(500)]), lam
    assert poisson_like([0] * 300)  # nothing yet
    daily = [poisson(rng, 10 * (1 + 0.8 * math.sin(i / 24 * 2 * math.pi))) for i in range(500)]
    assert poisson_like(daily) and dispersion(daily) < 2  # a daily cycle adds little to the steps
    # a past spike in the baseline does not make counts look over-dispersed
    spiked = [poisson(rng, 5.0) for _ in range(500)]
    spiked[200:206] = [60] * 6
    assert poisson_like(spiked)
    assert not poisson_like([5.5] + [5.0] * 299)  # a measurement
    assert not poisson_like([5] * 300)  # no noise: not Poisson
    bursts = [0] * 500  # rare large bursts: over-dispersed
    for i in range(0, 500, 40):
        bursts[i:i + 2] = [25, 30]
    assert not poisson_like(bursts)
    wide = [max(0, int(rng.gauss(40, 25))) for _ in range(500)]  # tens, but far noisier than Poisson
    assert dispersion(wide) > 2 and not poisson_like(wide)
    tweets = [max(0, int(rng.gauss(400, 120))) for _ in range(500)]  # hundreds, over-dispersed
    assert not poisson_like(tweets)


def test_method_keys_are_checked_at_load() -> None:
    from configs.alerts import Rule

    assert Rule.config_key_error({"kind": "volume_spike", "method": "novelty", "ratio": 3.0})[0] == "ratio"
    assert Rule.config_key_error({"kind": "volume_spike", "method": "ratio", "sigma": 5.0})[0] == "sigma"
    assert Rule.config_key_error({"kind": "volume_spike", "ratio": 3.0, "sigma": 5.0}) is None  # auto reads both
    assert Rule.config_key_error({"kind": "volume_spike", "method": "novelty", "sigma": 5.0}) is None
    with pytest.raises(ValueError, match="baseline_samples"):
        Rule(name="x", kind="volume_spike", method="novelty", baseline_samples=4)


def test_detector_for_caps_the_baseline_to_the_history_an_evaluation_reads() -> None:
    rule = load_settings(REPO / "configs", env={"VOC_HOME": str(REPO)}).alerts.rule("negative-volume-spike")
    assert rule is not None
    assert detector_for(rule).baseline == 500
    assert detector_for(rule, available=342).baseline == 336  # 14 days + 6 h of hours, less the window


def test_the_product_reads_hourly_feedback_counts_with_empty_hours_as_zero() -> None:
    # what `voc alerts evaluate` does per product / topic series: 14 days + 6 h of hourly buckets, of which
    # the index returns only the non-empty ones (a post every 5 hours, then 12, 14 and 15 in the last
    # three). With method novelty every empty hour is a 0 sample: the 12 is a new high (above 1), the
    # window sums 12 + … ≥ min_count 10, so it fires; with method auto (counts) the ratio detector fires
    # on the same window. The every-5-hours posts stop at hour 335, so the last 6 hours (336–341) hold only
    # the surge: both detectors count 12 + 14 + 15 = 41 items
    from alerts._signals import _volume_match

    rule = load_settings(REPO / "configs", env={"VOC_HOME": str(REPO)}).alerts.rule("negative-volume-spike")
    assert rule is not None
    n = 14 * 24 + 6
    points = [(T0 + i * H, 1) for i in range(0, n - 3, 5)] + [(T0 + (n - 3 + i) * H, c)
                                                              for i, c in enumerate((12, 14, 15))]
    now = T0 + (n - 1) * H + timedelta(minutes=20)
    end = T0 + n * H
    m = _volume_match(dataclasses.replace(rule, method="novelty"), "login", points, origin=T0, end=end, step=H,
                      now=now)
    assert m is not None and m.detail["check"] == "level_high" and m.figures.current == 41
    assert m.figures.unit == "items" and "new high: 12" in m.figures.describe()
    r = _volume_match(rule, "login", points, origin=T0, end=end, step=H, now=now)
    assert r is not None and not r.detail and r.figures.current == 41


def test_the_product_reads_large_noisy_feedback_counts_with_novelty_rises_only() -> None:
    # hundreds of posts an hour, far noisier than Poisson (a product in the news): auto reads the product's
    # series with the novelty detector, and on feedback volume only a rise is an incident — the same
    # collapse to a tenth that `direction: both` fires on in a replayed series stays silent here
    from alerts._signals import _volume_match

    rule = load_settings(REPO / "configs", env={"VOC_HOME": str(REPO)}).alerts.rule("negative-volume-spike")
    assert rule is not None and rule.method == "auto" and rule.direction == "both"
    rng = random.Random(11)
    n = 14 * 24 + 6
    base = [int(300 + 150 * math.sin(i / 24 * 2 * math.pi) + rng.gauss(0, 60)) for i in range(n - 3)]
    end, now = T0 + n * H, T0 + (n - 1) * H + timedelta(minutes=20)

    def series(last: tuple[int, int, int]) -> list[tuple[datetime, int]]:
        return [(T0 + i * H, c) for i, c in enumerate([*base, *last])]

    rise = _volume_match(rule, "", series((2000, 2600, 3100)), origin=T0, end=end, step=H, now=now)
    assert rise is not None and rise.detail["check"] and rise.detail["direction"] == "up"
    drop = series((20, 15, 10))
    assert _volume_match(rule, "", drop, origin=T0, end=end, step=H, now=now) is None
    fires = [m for m, new in alerts.backtest(rule, [(t, float(c)) for t, c in drop]) if new]
    assert any(m.detail["direction"] == "down" for m in fires)  # the replay honours direction: both


def test_a_weekday_unlike_the_same_weekday_before_fires_the_weekly_profile() -> None:
    # hourly: weekdays busy with an evening peak, weekends quiet; five weeks. On the fifth Thursday (a
    # holiday) the day looks like a Sunday: against the day before it differs exactly as every Saturday
    # differs from its Friday (the daily record already holds that), but against the Thursdays before it
    # is a change never seen — and the weekly record has two weeks behind it by then
    holiday = 31  # days after T0, a Monday

    def value(day: int, hour: int) -> float:
        quiet = day % 7 >= 5 or day == holiday
        return 30.0 if quiet else round(100.0 + 50.0 * math.sin((hour - 9) / 24 * 2 * math.pi), 1)

    det = NoveltyDetector(direction="both")
    fired = [(i // 24, nv) for i in range(35 * 24)
             if (nv := det.observe(T0 + i * H, value(i // 24, i % 24))) is not None]
    assert [(day, nv.check) for day, nv in fired] == [(holiday, "weekly")]
    assert "the weekly pattern broke" in det.reason(fired[0][1])
    # without the weekly check (a record that never matures) only the daily profile sees it, once a second
    # day unlike its day before (the Friday after the holiday) has joined the residuals: hours later
    late = NoveltyDetector(direction="both", weekly_days=1e9).feed(
        (T0 + i * H, value(i // 24, i % 24)) for i in range(35 * 24))
    assert [nv.check for nv in late] == ["profile"] and late[0].at >= fired[0][1].at + 12 * H
