"""Pure detectors fed synthetic series; time advances only through advance(now)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from alerts.detect import (RatingStats, SpikeDetector, emerging_terms, ngrams, rating_drop,
                           severity_for, version_key)

T0 = datetime(2026, 11, 2, tzinfo=timezone.utc)  # a Monday
H = timedelta(hours=1)


def seasonal(h: int) -> int:
    """Daily shape: quiet nights, busy evenings."""
    hour = (T0 + h * H).hour
    return 2 if hour < 8 else (6 if hour < 18 else 12)


def feed(det, counts, start=T0):
    """Observe each hourly bucket and evaluate at its end; returns {bucket index: match}."""
    out = {}
    for h, c in enumerate(counts):
        det.observe(start + h * H, c)
        m = det.advance(start + (h + 1) * H)
        if m is not None:
            out[h] = m
    return out


def test_seasonal_series_without_spikes_never_fires():
    det = SpikeDetector(window=6 * H, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10, ratio=2.0)
    rng = random.Random(1)
    counts = [max(0, seasonal(h) + rng.randint(-2, 2)) for h in range(24 * 21)]
    assert feed(det, counts) == {}


def test_spike_fires_with_figures_and_severity():
    det = SpikeDetector(key="login", window=6 * H, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10,
                        ratio=2.0)
    counts = [seasonal(h) for h in range(24 * 10)]
    spike_at = 24 * 9 + 6  # 06:00 on day 10; the 6h window 01:00–07:00 is quiet (baseline 2/h)
    for h in range(spike_at, spike_at + 3):
        counts[h] += 20
    fired = feed(det, counts)
    first = min(fired)
    assert first == spike_at  # detected in the very bucket the spike started
    m = fired[first]
    f = m.figures
    assert (f.current, f.expected) == (32, 12) and f.samples == 9 and f.high == pytest.approx(12 + 4 * 12 ** 0.5)
    assert f.window_end - f.window_start == 6 * H and f.window_end == T0 + (spike_at + 1) * H
    assert f.low <= f.expected < f.high <= f.current and f.ratio == pytest.approx(32 / 12)
    assert m.key == "login" and m.severity == "warning"  # 32 ≥ 3·min_count
    # bigger: more buckets → critical (ratio ≥ 2·min ratio and ≥ 5·min_count)
    assert fired[spike_at + 2].figures.current == 76 and fired[spike_at + 2].severity == "critical"


def test_tiny_counts_never_fire_and_zero_to_one_is_not_a_spike():
    det = SpikeDetector(window=6 * H, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10, ratio=3.0)
    counts = [0] * (24 * 8) + [1, 3, 4, 0, 0, 0]
    assert feed(det, counts) == {}


def test_warmup_blocks_alerts_until_enough_history():
    det = SpikeDetector(window=6 * H, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10, ratio=3.0)
    counts = [2] * 48 + [40] * 3  # only 2 days of history
    assert feed(det, counts) == {}
    fig, warm, fired = det.evaluate(T0 + 51 * H)
    assert not warm and not fired and fig.current == 3 * 2 + 3 * 40


def test_baseline_is_robust_to_past_spikes():
    det = SpikeDetector(window=6 * H, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10, ratio=2.0)
    counts = [seasonal(h) for h in range(24 * 12)]
    for day in (3, 6):  # two big past incidents at the same hour of day
        for h in range(24 * day + 10, 24 * day + 16):
            counts[h] += 50
    for h in range(24 * 11 + 10, 24 * 11 + 16):
        counts[h] += 10  # a moderate new one
    fired = feed(det, counts)
    assert any(24 * 11 + 10 <= h < 24 * 11 + 16 for h in fired)
    m = fired[max(fired)]
    assert m.figures.expected == 36  # the median ignores the two incidents (336 in their windows)


def test_hour_of_week_seasonality_after_three_weeks():
    # weekends are 3× busier; with ≥ 3 weekly samples the baseline is the same hour of the week
    def weekly(h):
        return 9 if (T0 + h * H).weekday() >= 5 else 3

    counts = [weekly(h) for h in range(24 * 27)]  # four weeks, ending on Sunday of week 4
    by_week = SpikeDetector(window=6 * H, history=timedelta(days=28), warmup=timedelta(days=3), min_count=10, ratio=2.0)
    by_day = SpikeDetector(window=6 * H, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10, ratio=2.0)
    week_fired, day_fired = feed(by_week, counts), feed(by_day, counts)
    saturday4 = range(24 * 26, 24 * 27)
    assert not any(h in saturday4 for h in week_fired)  # 4th weekend: expected from earlier weekends
    assert any(h in saturday4 for h in day_fired)  # day-of-history only: every weekend looks like a spike
    fig, warm, fired = by_week.evaluate(T0 + 24 * 26 * H + 12 * H)
    assert fig.expected == 54 and fig.samples == 3 and warm and not fired


def test_interval_day_and_validation():
    with pytest.raises(ValueError, match="whole number of buckets"):
        SpikeDetector(bucket=timedelta(days=1), window=6 * H)


def test_elastalert_spike_peer():
    """The bench's peer (bench/elastalert_spike.py, out of the production package)."""
    from bench.elastalert_spike import ElastAlertSpike

    ea = ElastAlertSpike(timeframe=6 * H, spike_height=3.0, threshold_cur=10)
    counts = [seasonal(h) for h in range(24 * 3)]
    fired = feed(ea, counts)
    # the raw cur/ref ratio fires on the daily evening ramp (6 quiet night hours → busy day)
    assert fired and all(m.figures.ratio >= 3 for m in fired.values())
    assert ElastAlertSpike().advance(T0) is None


def test_severity_from_ratio_and_size():
    assert severity_for(3.1, 11, min_ratio=3, min_count=10) == "info"
    assert severity_for(5.0, 12, min_ratio=3, min_count=10) == "warning"
    assert severity_for(3.1, 31, min_ratio=3, min_count=10) == "warning"
    assert severity_for(6.0, 50, min_ratio=3, min_count=10) == "critical"
    assert severity_for(20.0, 49, min_ratio=3, min_count=10) == "warning"


def test_ngrams_from_jieba_tokens():
    got = ngrams("新版 闪退 了 ， 登录 页面 白屏", max_n=2)
    assert {"新版", "闪退", "新版闪退", "登录", "登录页面", "页面白屏"} <= got
    assert "了" not in got and "闪退了" not in got and "，" not in got and "了，" not in got


def test_emerging_terms_groups_and_folds():
    cur = {"新版闪退": 12, "新版": 13, "闪退": 40, "登录": 9, "卡顿": 2}
    hist = {"闪退": 900, "新版": 5, "登录": 1000}
    found = emerging_terms(cur, hist, current_span=timedelta(hours=6), history_span=timedelta(days=14), min_count=8,
                           ratio=5.0, max_terms=5)
    assert [t.term for t in found] == ["新版闪退"]  # 新版 folded into it; 闪退/登录 are usual; 卡顿 too few
    s = found[0]
    assert (s.current, s.history, s.expected, s.ratio) == (12, 0, 0, 12.0)


def test_rating_drop_new_version_vs_earlier():
    stats = [RatingStats("3.9.0", {5: 60, 4: 20, 3: 10, 2: 5, 1: 5}), RatingStats("3.10.0", {5: 10, 4: 5, 1: 20, 2: 5}),
             RatingStats("3.10.1", {1: 3})]
    now = datetime(2026, 11, 24, tzinfo=timezone.utc)
    m = rating_drop(stats, min_reviews=20, low_share_increase=0.15, mean_drop=0.7, window_start=now - timedelta(days=30),
                    window_end=now)
    assert m is not None and m.key == "3.10.0"  # 3.10.1 has too few reviews; 3.10 > 3.9 numerically
    assert m.figures.current == pytest.approx(25 / 40) and m.figures.expected == pytest.approx(0.1)
    assert m.detail["mean"] == 2.5 and m.detail["earlier_mean"] == 4.25 and m.severity == "critical"
    assert rating_drop(stats[:1], min_reviews=20, low_share_increase=0.15, mean_drop=0.7, window_start=now,
                       window_end=now) is None
    steady = [RatingStats("1.0", {5: 30, 1: 3}), RatingStats("1.1", {5: 28, 1: 4})]
    assert rating_drop(steady, min_reviews=20, low_share_increase=0.15, mean_drop=0.7, window_start=now,
                       window_end=now) is None


def test_version_key_orders_numerically():
    assert sorted(["3.10.0", "3.9.1", "10.0", "3.9"], key=version_key) == ["3.9", "3.9.1", "3.10.0", "10.0"]
