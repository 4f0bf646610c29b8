"""Detectors: pure, clock-free state machines and functions. No I/O, no ``datetime.now()``.

* :class:`SpikeDetector` — one count series fed ``observe(bucket_start, count)``; time advances only
  through ``advance(now)``, which returns a :class:`Match` when the current window is significantly above
  its seasonal baseline. The baseline is the **median** of the same window shifted back by whole days
  (or by whole weeks — hour-of-week seasonality — once three or more weeks of history exist), so past
  spikes in the history do not raise it; the spread is ``1.4826·MAD`` floored by Poisson noise
  ``√expected``. It fires only when all hold: warm-up elapsed, ``current ≥ min_count``,
  ``current ≥ expected + threshold·spread`` and ``current ≥ ratio·max(expected, 1)``.
* :func:`emerging_terms` — n-gram rates in the current window vs their history.
* :func:`rating_drop` — newest app version's low-star share and mean rating vs earlier versions.
* :func:`ngrams` — the jieba n-grams of a ``tokens`` field, filtered of stop words and punctuation.

Every :class:`Match` carries its :class:`Figures`: current, expected, range, ratio and the window.
"""

from __future__ import annotations

import functools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from configs.versions import version_key
from configs.times import format_utc as _iso, parse_utc as _parse_iso

__all__ = ["Figures", "Match", "SpikeDetector", "severity_for", "emerging_terms", "TermSignal", "is_generic", "is_stop_word",
           "RatingStats", "rating_drop", "ngrams", "version_key"]

_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Figures:
    """Why an alert fired, in numbers."""

    current: float
    expected: float
    low: float
    high: float
    ratio: float
    window_start: datetime
    window_end: datetime
    #: What the numbers count: ``items`` (feedback in the window), ``share`` (of 1–2 star reviews) …
    unit: str = "items"
    #: Robust z-score of ``current`` against the baseline (0 where not applicable).
    score: float = 0.0
    #: Baseline samples the expectation came from.
    samples: int = 0
    #: Why it fired, in words (detectors whose numbers alone do not say it; empty otherwise).
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"current": self.current, "expected": round(self.expected, 3), "low": round(self.low, 3),
                "high": round(self.high, 3), "ratio": round(self.ratio, 3),
                "window_start": _iso(self.window_start), "window_end": _iso(self.window_end), "unit": self.unit,
                "score": round(self.score, 3), "samples": self.samples, **({"reason": self.reason} if self.reason else {})}

    def describe(self) -> str:
        """One line: current vs baseline, its range, ratio and window (what every alert says), then why."""
        text = self._numbers()
        return f"{text}; {self.reason}" if self.reason else text

    def _numbers(self) -> str:
        hours = math.ceil((self.window_end - self.window_start).total_seconds() / 3600 - 1e-9)
        span = f"{hours}h" if hours < 48 else f"{round(hours / 24)}d"
        if self.unit.startswith("post"):
            return f"1 {self.unit} flagged in the last {span} (up to {_iso(self.window_end)}); alerts at once"
        if self.unit == "items":
            return (f"{_n(self.current)} in {span} vs baseline {_n(self.expected)} (normal {_n(self.low)}–{_n(self.high)}), "
                    f"×{self.ratio:.1f}, window {_iso(self.window_start)} – {_iso(self.window_end)}")
        return (f"{self.unit}: {_n(self.current)} vs {_n(self.expected)} (normal {_n(self.low)}–{_n(self.high)}), "
                f"×{self.ratio:.1f}, window {span} to {_iso(self.window_end)}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Figures:
        return cls(current=d["current"], expected=d["expected"], low=d["low"], high=d["high"], ratio=d["ratio"],
                   window_start=_parse_iso(d["window_start"]), window_end=_parse_iso(d["window_end"]),
                   unit=d.get("unit", "items"), score=d.get("score", 0.0), samples=d.get("samples", 0),
                   reason=d.get("reason", ""))


@dataclass(frozen=True)
class Match:
    """One firing of a detector for one series (``key``), at the end of its window."""

    key: str
    at: datetime
    severity: str
    figures: Figures
    detail: Mapping[str, Any] = field(default_factory=dict)


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0")


def severity_for(ratio: float, current: float, *, min_ratio: float, min_count: int) -> str:
    """Severity from both the ratio and the size: a big relative jump on few items stays ``info``."""
    if ratio >= 2 * min_ratio and current >= 5 * min_count:
        return "critical"
    if ratio >= 1.5 * min_ratio or current >= 3 * min_count:
        return "warning"
    return "info"


def _mad(values: Sequence[float], center: float) -> float:
    return statistics.median([abs(v - center) for v in values]) if values else 0.0


class SpikeDetector:
    """Seasonal, spike-robust volume detector for one series. Feed buckets, then ``advance(now)``."""

    def __init__(self, *, key: str = "", bucket: timedelta = timedelta(hours=1), window: timedelta = timedelta(hours=6),
                 history: timedelta = timedelta(days=14), warmup: timedelta = timedelta(days=3), min_count: int = 10,
                 ratio: float = 3.0, threshold: float = 4.0, origin: datetime | None = None) -> None:
        if window < bucket or window % bucket:
            raise ValueError(f"window {window} must be a whole number of buckets of {bucket}")
        self.key = key
        self.step = int(bucket.total_seconds())
        self.width = int(window // bucket)
        self.history = history
        self.warmup = warmup
        self.min_count = min_count
        self.ratio = ratio
        self.threshold = threshold
        self._counts: dict[int, float] = {}
        self._origin: int | None = None if origin is None else self._index(origin)
        self._horizon = int((history + window) // bucket) + 1

    def _index(self, t: datetime) -> int:
        return int(t.timestamp()) // self.step

    def observe(self, bucket_start: datetime, count: float) -> None:
        """Set the count of the bucket starting at ``bucket_start`` (idempotent: a re-read overwrites)."""
        i = self._index(bucket_start)
        self._counts[i] = count
        if self._origin is None or i < self._origin:
            self._origin = i

    def _sum(self, end: int) -> float:
        c = self._counts
        return sum(c.get(i, 0) for i in range(end - self.width, end))

    def evaluate(self, now: datetime) -> tuple[Figures, bool, bool]:
        """(figures, warm, fired) for the window ending at ``now`` (the bucket holding ``now`` included)."""
        ts = now.timestamp()
        end = math.ceil(ts / self.step)
        per_day = 86400 // self.step if self.step <= 86400 else 1
        per_week = per_day * 7
        daily: list[float] = []
        weekly: list[float] = []
        origin = self._origin if self._origin is not None else end
        k = 1
        while True:
            shift = k * per_day
            if shift * self.step > self.history.total_seconds() or end - shift - self.width < origin:
                break
            s = self._sum(end - shift)
            daily.append(s)
            if shift % per_week == 0:
                weekly.append(s)
            k += 1
        current = self._sum(end)
        base = weekly if len(weekly) >= 3 else daily
        expected = statistics.median(base) if base else 0.0
        spread = max(1.4826 * _mad(daily, statistics.median(daily)) if daily else 0.0, math.sqrt(max(expected, 1.0)))
        high = expected + self.threshold * spread
        low = max(0.0, expected - self.threshold * spread)
        ratio = current / max(expected, 1.0)
        start = datetime.fromtimestamp((end - self.width) * self.step, timezone.utc)
        stop = datetime.fromtimestamp(end * self.step, timezone.utc)
        fig = Figures(current=current, expected=expected, low=low, high=high, ratio=ratio, window_start=start,
                      window_end=min(stop, now.astimezone(timezone.utc)), score=(current - expected) / spread,
                      samples=len(base))
        warm = len(daily) >= 2 and (end - origin) * self.step >= self.warmup.total_seconds()
        fired = warm and current >= self.min_count and current >= high and current >= self.ratio * max(expected, 1.0)
        return fig, warm, fired

    def advance(self, now: datetime) -> Match | None:
        """Evaluate the window ending at ``now``; forget buckets older than the history needs."""
        fig, _warm, fired = self.evaluate(now)
        cutoff = math.ceil(now.timestamp() / self.step) - self._horizon - 1
        if len(self._counts) > 4 * self._horizon:
            self._counts = {i: c for i, c in self._counts.items() if i >= cutoff}
        if not fired:
            return None
        sev = severity_for(fig.ratio, fig.current, min_ratio=self.ratio, min_count=self.min_count)
        return Match(key=self.key, at=now, severity=sev, figures=fig)


# --- emerging terms ---------------------------------------------------------------------------------------

_STOP = frozenset("""的 了 是 我 你 他 她 它 们 在 也 就 都 还 又 和 与 及 或 但 而 很 太 更 最 真 这 那 这个 那个 什么 怎么 为什么
一个 一下 一直 没有 不是 不能 不会 可以 已经 现在 然后 因为 所以 如果 还是 就是 自己 大家 我们 你们 他们 吗 吧 呢 啊 呀 哦 嗯 哈
哈哈 哈哈哈 有 没 不 被 把 给 让 到 去 来 说 要 会 能 想 用 对 着 过 得 地 个 上 下 里 中 后 前 时候 时 次 点 人 多 少 好 啥 谁
app APP App 一 二 三 请 求 问 麻烦 谢谢 希望 感觉 觉得 真的 非常 特别 问题""".split())
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
#: Words common in any complaint, whatever the problem: they may join a phrase but never name one.
_GENERIC = frozenset("""不行 提示 里面 外面 东西 情况 事情 时间 地方 这样 那样 怎样 一样 其他 其它 之后 之前 以后 以前 今天
昨天 现在 一下 一次 好几次 几次 每次 还有 而且 但是 不过 只是 只能 只有 直接 总是 经常 老是 一直 根本 完全 到底 终于 竟然 居然
简直 实在 确实 本来 原来 怎么办 什么 为什么 没用 有用 不了 不到 不上 不好 很好 太差 垃圾 无语 辣鸡 失望 生气 烦 烦人 难受 恶心
软件 应用 手机 版本 新版 新版本 更新 升级 官方 客服 用户 大家 功能 使用 用了 使用 打开 点击 试了 重装 卸载 下载 安装 好用 不好用
wifi 4g 5g ios android 苹果 安卓 华为 小米""".split())


@functools.lru_cache(maxsize=65536)
def _usable(token: str) -> bool:
    return bool(token) and token not in _STOP and bool(_WORD.search(token)) and not token.isdigit() and \
        not (len(token) == 1 and token.isascii())


def is_stop_word(token: str) -> bool:
    """A function word, particle or punctuation: never starts or ends a phrase."""
    return token in _STOP or not _WORD.search(token)


def is_generic(term: str) -> bool:
    """A stop word, a word common to every complaint, a short Latin token or a number: never names a
    problem (never leads an incident's title or an emerging-terms group)."""
    t = term.strip().lower()
    return (len(t) < 2 or t in _STOP or t in _GENERIC or t.isdigit()
            or (t.isascii() and len(t) <= 4) or all(not _WORD.search(ch) for ch in t))


@functools.lru_cache(maxsize=65536)
def _wordish(token: str) -> bool:
    return bool(_WORD.search(token))


def ngrams(tokens: str | Sequence[str], *, max_n: int = 2) -> set[str]:
    """Distinct n-grams (n ≤ ``max_n``) of a space-joined jieba ``tokens`` field; pairs are joined without
    a space (``新版`` + ``闪退`` → ``新版闪退``). Stop words and punctuation never start or end an n-gram."""
    toks = tokens.split() if isinstance(tokens, str) else list(tokens)
    out: set[str] = set()
    for i, t in enumerate(toks):
        if not _usable(t):
            continue
        if len(t) >= 2:  # single characters are too ambiguous on their own; they still join pairs
            out.add(t)
        for n in range(2, max_n + 1):
            if i + n > len(toks):
                break
            gram = toks[i:i + n]
            if _usable(gram[-1]) and all(_wordish(g) for g in gram):
                out.add("".join(gram))
    return out


@dataclass(frozen=True)
class TermSignal:
    term: str
    current: int
    history: int
    expected: float
    ratio: float


def emerging_terms(current: Mapping[str, int], history: Mapping[str, int], *, current_span: timedelta,
                   history_span: timedelta, min_count: int, ratio: float, max_terms: int) -> list[TermSignal]:
    """Terms (document counts) whose current rate is ``ratio`` × their historical rate or more.

    ``expected = history · current_span / history_span`` and ``ratio = current / max(expected, 1)``, so a
    term never seen before needs ``min_count`` documents and ``ratio`` documents at least. A word whose
    every occurrence is explained by a firing longer n-gram containing it is folded into that n-gram.
    """
    scale = current_span / history_span
    hits = []
    for term, cur in current.items():
        if cur < min_count:
            continue
        hist = history.get(term, 0)
        expected = hist * scale
        r = cur / max(expected, 1.0)
        if r >= ratio:
            hits.append(TermSignal(term=term, current=cur, history=hist, expected=expected, ratio=r))
    hits.sort(key=lambda s: (-s.current * math.log1p(s.ratio), s.term))
    kept: list[TermSignal] = []
    for s in hits:
        if any(s.term in k.term and s.current <= 1.25 * k.current for k in kept):
            continue
        kept = [k for k in kept if not (k.term in s.term and k.current <= 1.25 * s.current)]
        kept.append(s)
    kept.sort(key=lambda s: (-s.current * math.log1p(s.ratio), s.term))
    return kept[:max_terms]


# --- rating drop ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RatingStats:
    """Star counts of one app version: ``counts[r]`` reviews with ``r`` stars (1–5)."""

    version: str
    counts: Mapping[int, int]

    @property
    def total(self) -> int:
        return sum(self.counts.get(r, 0) for r in range(1, 6))

    @property
    def low_share(self) -> float:
        return (self.counts.get(1, 0) + self.counts.get(2, 0)) / self.total if self.total else 0.0

    @property
    def mean(self) -> float:
        return sum(r * self.counts.get(r, 0) for r in range(1, 6)) / self.total if self.total else 0.0


def rating_drop(stats: Iterable[RatingStats], *, min_reviews: int, low_share_increase: float, mean_drop: float,
                window_start: datetime, window_end: datetime) -> Match | None:
    """Compare the newest version with ``min_reviews`` reviews against all earlier versions pooled."""
    versions = sorted((s for s in stats if s.version), key=lambda s: version_key(s.version))
    ready = [s for s in versions if s.total >= min_reviews]
    if not ready:
        return None
    new = ready[-1]
    earlier = [s for s in versions if version_key(s.version) < version_key(new.version)]
    pooled: Counter[int] = Counter()
    for s in earlier:
        pooled.update(s.counts)
    old = RatingStats(version="earlier", counts=pooled)
    if old.total < min_reviews:
        return None
    share_up = new.low_share - old.low_share
    mean_down = old.mean - new.mean
    if share_up < low_share_increase and mean_down < mean_drop:
        return None
    n = new.total
    spread = math.sqrt(max(old.low_share * (1 - old.low_share), 1e-6) / n)
    fig = Figures(current=round(new.low_share, 4), expected=round(old.low_share, 4),
                  low=max(0.0, old.low_share - 2 * spread), high=min(1.0, old.low_share + 2 * spread),
                  ratio=new.low_share / max(old.low_share, 0.01), window_start=window_start, window_end=window_end,
                  unit="share of 1-2 star reviews", score=share_up / spread, samples=old.total)
    sev = "critical" if share_up >= 2 * low_share_increase or mean_down >= 2 * mean_drop else "warning"
    detail = {"version": new.version, "reviews": n, "mean": round(new.mean, 2), "earlier_mean": round(old.mean, 2),
              "earlier_reviews": old.total, "earlier_versions": [s.version for s in earlier]}
    return Match(key=new.version, at=window_end, severity=sev, figures=fig, detail=detail)
