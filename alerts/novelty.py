"""Novelty detector: a pure, clock-free, streaming detector in the series' own units (scale-free).

Fed one sample at a time (``observe(t, value)``: an hourly feedback count, a CPU %, a latency …), it marks
a sample *novel* when, after ``warmup`` samples, one of these reaches a value the series has never shown:

* **level**: the sample is a new high (or, with ``direction="both"``, a new low) by more than
  ``level_margin`` × the range seen so far;
* **spread**: the population standard deviation of the last ``k`` samples exceeds the largest seen so far
  by ``spread_margin`` × the range of that spread;
* **daily profile** (only where samples are regular and a day holds at least 3 of them): the mean over the
  last ``profile_window`` samples of ``|x − x one day earlier|`` exceeds its largest value so far, once
  that record has ``profile_days`` (1.5) days of samples behind it (a younger one breaks daily by chance);
* **weekly profile** (the same with ``|x − x one week earlier|``, once that record has ``weekly_days``
  (14) days behind it, so from a series' fourth week on): a Thursday unlike the Thursdays before;
* **windowed Gaussian**: the mean of the last ``k`` samples lies more than ``z`` standard deviations from
  the mean of the up to ``baseline`` samples before them.

An **episode** starts at a novel sample at least ``refractory`` samples after the previous start (what
``observe`` returns) and goes on while novel samples keep coming within ``k`` samples of each other (a
surge that sets new highs hour after hour is one episode). Records (highs, lows, largest spread and residual) are the series' own, so past spikes raise them: a
second spike no larger than the first does not fire again, and nothing depends on the unit. After a
onset no new episode starts for ``refractory`` samples. With ``direction="up"`` the spread, profile and Gaussian
checks only count while the recent mean is above the baseline mean (a rise); ``"both"`` also fires on
drops. Where every value seen is a non-negative integer (counts), a rise fires only when the last ``k``
samples sum to ``min_count`` or more, so a sparse series (0, 1, 2 posts an hour) does not fire on noise;
other series are not counts and carry no such floor.

``advance(now)`` returns a :class:`~alerts.detect.Match` while an episode is on and for ``k`` samples after
its last novel sample, its figures explaining why: on counts the window's items against ``k`` × the
baseline mean of the onset, on measurements the window's mean against that baseline mean (in the series'
units), the baseline's ±``z`` band as the normal range, and the check that fired in words.
The defaults are the one configuration measured on NAB's dev set (alerts/README.md); knobs count samples,
never the file's or history's length.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from alerts.detect import Figures, Match, severity_for
from configs.alerts import Rule

__all__ = ["NoveltyDetector", "Novelty", "detector_for"]

Direction = Literal["up", "both"]
_DAY = 86400.0


@dataclass(frozen=True)
class Novelty:
    """One novel sample: when, which check, and the numbers behind it (per sample, in the series' units)."""

    at: datetime
    index: int
    check: str  # level_high | level_low | spread | profile | weekly | gaussian
    value: float
    recent_sum: float  # the last k samples, summed
    recent_mean: float
    base_mean: float
    base_sd: float
    base_n: int
    high: float  # the record high / low before this sample
    low: float
    record: float  # the record the check compared with (spread, residual); level: high or low
    up: bool


class NoveltyDetector:
    """Streaming novelty detector for one series: ``observe`` samples in time order, then ``advance(now)``."""

    def __init__(self, *, key: str = "", k: int = 6, warmup: int = 200, refractory: int = 40, baseline: int = 500,
                 z: float = 6.0, level_margin: float = 0.05, spread_margin: float = 0.3, profile_window: int = 48,
                 direction: Direction = "up", min_count: float = 0.0, unit: str = "",
                 profile_days: float = 1.5, weekly_days: float = 14.0) -> None:
        if k < 2 or warmup < k or refractory < 1 or baseline < 2 * k or z <= 0 or profile_window < 1:
            raise ValueError("novelty knobs: k ≥ 2, warmup ≥ k, refractory ≥ 1, baseline ≥ 2·k, z > 0, "
                             f"profile_window ≥ 1 (got k={k}, warmup={warmup}, refractory={refractory}, "
                             f"baseline={baseline}, z={z}, profile_window={profile_window})")
        if direction not in ("up", "both"):
            raise ValueError(f"direction must be up or both, got {direction!r}")
        self.key, self.k, self.warmup, self.refractory = key, k, warmup, refractory
        self.baseline, self.z, self.level_margin, self.spread_margin = baseline, z, level_margin, spread_margin
        self.profile_window, self.direction, self.min_count, self.unit = profile_window, direction, min_count, unit
        self._daily = _Profile(profile_window, profile_days)
        self._weekly = _Profile(profile_window, weekly_days)
        self.n = 0
        self._buf: deque[tuple[datetime, float]] = deque()  # the last baseline + k samples
        self._sum = self._sq = 0.0  # of the baseline part (all but the last k of _buf)
        self._hi = self._lo = 0.0
        self._sd_hi: float | None = None
        self._sd_lo: float | None = None
        self._gaps: list[float] = []
        self._period = 0  # samples per day, fixed after the first 200 gaps (0: not seasonal)
        self._counts = True
        self._last_fire = self._episode_end = -(10 ** 9)
        self.last: Novelty | None = None

    # --- feeding -------------------------------------------------------------------------------------
    def observe(self, t: datetime, value: float) -> Novelty | None:
        """Take the next sample (after every earlier one); returns the novelty it raised, if any."""
        if self._buf and t < self._buf[-1][0]:
            raise ValueError(f"samples must come in time order: {t.isoformat()} before {self._buf[-1][0].isoformat()}")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"sample at {t.isoformat()} is not a finite number: {value!r}")
        i = self.n
        if self._buf and len(self._gaps) < 200:
            self._gaps.append((t - self._buf[-1][0]).total_seconds())
            if len(self._gaps) == 200 or (self._period == 0 and len(self._gaps) >= 24):
                step = sorted(self._gaps)[len(self._gaps) // 2]
                self._period = round(_DAY / step) if step > 0 and round(_DAY / step) >= 3 else 0
        if i == 0:
            self._hi = self._lo = v
        self._counts = self._counts and v >= 0 and v.is_integer()
        # the baseline: samples before the last k (this one included among the k)
        self._buf.append((t, v))
        if len(self._buf) > self.k:
            _t, b = self._buf[-self.k - 1]
            self._sum += b
            self._sq += b * b
        if len(self._buf) > self.baseline + self.k:
            _t, old = self._buf.popleft()
            self._sum -= old
            self._sq -= old * old
        recent = [x for _t, x in list(self._buf)[-self.k:]]
        r_sum = sum(recent)
        r_mean = r_sum / len(recent)
        sd = math.sqrt(max(sum((x - r_mean) ** 2 for x in recent) / len(recent), 0.0))
        base_n = len(self._buf) - len(recent)
        b_mean = self._sum / base_n if base_n else r_mean
        b_sd = math.sqrt(max(self._sq / base_n - b_mean * b_mean, 1e-24)) if base_n else 0.0
        p = self._period
        rm = self._daily.push(v, p)
        wm = self._weekly.push(v, 7 * p)
        up = r_mean >= b_mean
        check, record = "", 0.0
        if i >= self.warmup:
            width = self._hi - self._lo
            if v > self._hi + self.level_margin * width:
                check, record, up = "level_high", self._hi, True
            elif self.direction == "both" and v < self._lo - self.level_margin * width:
                check, record, up = "level_low", self._lo, False
            elif self.direction == "both" or up:
                if self._sd_hi is not None and self._sd_lo is not None and \
                        sd > self._sd_hi + self.spread_margin * (self._sd_hi - self._sd_lo):
                    check, record = "spread", self._sd_hi
                elif self._daily.novel(rm, p):
                    check, record = "profile", self._daily.hi or 0.0
                elif self._weekly.novel(wm, p):
                    check, record = "weekly", self._weekly.hi or 0.0
                elif base_n >= self.baseline and abs(r_mean - b_mean) > self.z * b_sd:
                    check, record = "gaussian", b_mean
            if check and up and self._counts and r_sum < self.min_count:
                check = ""  # counts too few to matter (sparse series)
        novelty = None
        if check and self.last is not None and i - self._episode_end <= self.k:
            self._episode_end = i  # the episode goes on: a novel sample within k of the last one
        elif check and i - self._last_fire >= self.refractory:
            self._last_fire = self._episode_end = i
            novelty = Novelty(at=t, index=i, check=check, value=v, recent_sum=r_sum, recent_mean=r_mean,
                              base_mean=b_mean, base_sd=b_sd, base_n=base_n, high=self._hi, low=self._lo,
                              record=record, up=up)
            self.last = novelty
        self._hi, self._lo = max(self._hi, v), min(self._lo, v)
        self._sd_hi = sd if self._sd_hi is None else max(self._sd_hi, sd)
        self._sd_lo = sd if self._sd_lo is None else min(self._sd_lo, sd)
        self._daily.record(rm)
        self._weekly.record(wm)
        self.n += 1
        return novelty

    def feed(self, samples: Iterable[tuple[datetime, float]]) -> list[Novelty]:
        """``observe`` each sample; the novelties raised."""
        return [nv for t, v in samples if (nv := self.observe(t, v)) is not None]

    # --- reading ------------------------------------------------------------------------------------
    def advance(self, now: datetime) -> Match | None:
        """A match while an episode is on: from a novelty (the one ``observe`` returned) for as long as
        novel samples keep coming within ``k`` samples of each other, and ``k`` samples after the last."""
        nv = self.last
        if nv is None or self.n - 1 - self._episode_end >= self.k or nv.at > now:
            return None
        return self.match(nv, now)

    def match(self, nv: Novelty, now: datetime) -> Match:
        """The match for novelty ``nv`` seen at ``now``: the last ``k`` samples against the baseline that
        ``nv`` was judged on (mean of the samples before it, its Gaussian band as the normal range)."""
        counts, k = self._counts, self.k
        recent = list(self._buf)[-k:]
        mean = sum(x for _t, x in recent) / len(recent)
        band = self.z * nv.base_sd
        score = (mean - nv.base_mean) / nv.base_sd if nv.base_sd > 0 else 0.0
        if counts:  # items in the window against k × the baseline's mean per sample
            current, expected = mean * len(recent), k * nv.base_mean
            low, high = max(0.0, k * (nv.base_mean - band)), k * (nv.base_mean + band)
            ratio = current / max(expected, 1.0)
        else:  # a measurement: the window's mean against the baseline's mean, in the series' units
            current, expected = mean, nv.base_mean
            low, high = nv.base_mean - band, nv.base_mean + band
            ratio = current / expected if expected > 0 else 0.0
        fig = Figures(current=current, expected=expected, low=low, high=high, ratio=ratio,
                      window_start=recent[0][0].astimezone(timezone.utc),
                      window_end=min(now, recent[-1][0] + self._step()).astimezone(timezone.utc),
                      unit=self.unit or ("items" if counts else f"mean of the last {len(recent)} samples"),
                      score=score, samples=nv.base_n, reason=self.reason(nv))
        if counts and self.min_count > 0:
            sev = severity_for(ratio, current, min_ratio=3.0, min_count=int(self.min_count))
        else:
            sev = "critical" if abs(score) >= 2 * self.z else "warning"  # a value never seen: worth a look
        detail = {"check": nv.check, "direction": "up" if nv.up else "down", "value": nv.value,
                  "record_high": nv.high, "record_low": nv.low, "samples_seen": nv.index}
        return Match(key=self.key, at=now, severity=sev, figures=fig, detail=detail)

    def reason(self, nv: Novelty) -> str:
        """Why it fired, in words (per sample, in the series' units)."""
        v = _num(nv.value)
        seen = f"{nv.index} earlier samples"
        if nv.check == "level_high":
            return f"new high: {v} in one sample, above the highest {_num(nv.high)} of {seen}"
        if nv.check == "level_low":
            return f"new low: {v} in one sample, below the lowest {_num(nv.low)} of {seen}"
        mean = _num(nv.recent_mean)
        way = "above" if nv.up else "below"
        if nv.check == "gaussian":
            z = abs(nv.recent_mean - nv.base_mean) / nv.base_sd if nv.base_sd > 0 else float("inf")
            return (f"the last {self.k} samples average {mean}, {z:.1f} standard deviations {way} the mean "
                    f"{_num(nv.base_mean)} of the {nv.base_n} samples before (fires past {self.z:g})")
        if nv.check == "spread":
            return (f"the last {self.k} samples swing more than ever before (average {mean}, {way} the usual "
                    f"{_num(nv.base_mean)}; widest swing so far {_num(nv.record)})")
        if nv.check == "weekly":
            return (f"the weekly pattern broke: the last {self.profile_window} samples differ from the same time a "
                    f"week earlier more than ever before (average {mean}, {way} the usual {_num(nv.base_mean)})")
        return (f"the daily pattern broke: the last {self.profile_window} samples differ from the same time a "
                f"day earlier more than ever before (average {mean}, {way} the usual {_num(nv.base_mean)})")

    def _step(self) -> timedelta:
        gaps = sorted(self._gaps)
        return timedelta(seconds=gaps[len(gaps) // 2]) if gaps else timedelta(0)



class _Profile:
    """A seasonal profile check: the mean over the last ``window`` samples of ``|x − x one lag earlier|``
    (``push``), novel above its record once that record has ``mature_days`` days of samples behind it."""

    def __init__(self, window: int, mature_days: float) -> None:
        self.window, self.mature_days = window, mature_days
        self.hi: float | None = None
        self.n = 0  # residual means recorded
        self._lagged: deque[float] = deque()  # the last ``lag`` samples
        self._res: deque[float] = deque()
        self._sum = 0.0

    def push(self, v: float, lag: int) -> float | None:
        """Take the next sample (``lag``: samples per period, 0 while unknown); the residual mean, if any."""
        if not lag:
            return None
        out = None
        if len(self._lagged) == lag:
            r = abs(v - self._lagged[0])
            self._res.append(r)
            self._sum += r
            if len(self._res) > self.window:
                self._sum -= self._res.popleft()
            if len(self._res) >= self.window:
                out = self._sum / self.window
        self._lagged.append(v)
        while len(self._lagged) > lag:
            self._lagged.popleft()
        return out

    def novel(self, rm: float | None, per_day: int) -> bool:
        return rm is not None and self.hi is not None and rm > self.hi and self.n >= self.mature_days * per_day

    def record(self, rm: float | None) -> None:
        if rm is not None:
            self.hi = rm if self.hi is None else max(self.hi, rm)
            self.n += 1


def _num(x: float) -> str:
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def detector_for(rule: Rule, *, key: str = "", available: int | None = None) -> NoveltyDetector:
    """The detector a ``volume_spike`` rule with ``method: novelty`` configures. ``available``: the samples
    an evaluation can read (history + window in buckets); the Gaussian's baseline is capped to fit them."""
    k = rule.window_samples
    baseline = rule.baseline_samples if available is None else max(2 * k, min(rule.baseline_samples, available - k))
    return NoveltyDetector(key=key, k=k, warmup=rule.warmup_samples, refractory=rule.refractory_samples,
                           baseline=baseline, z=rule.sigma, direction=rule.direction, min_count=rule.min_count)
