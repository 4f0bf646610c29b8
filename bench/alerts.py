"""Alerts benchmark, one run, two parts.

1. Detection quality — what the shipped ``negative-volume-spike`` rule (``method: auto``) runs on counts:
   the seasonal-median ratio detector (``ours``: ``alerts.detect.SpikeDetector``, 6h, ×3, ≥10;
   ``ours-ratio2`` at ×2), the same rule with ``method: novelty`` (``novelty``:
   ``alerts.novelty.NoveltyDetector`` built by ``detector_for``), the shipped choice between them
   (``auto``: ratio's firing where ``alerts.method.poisson_like`` finds the baseline low Poisson-like
   counts, novelty's elsewhere) and an ElastAlert-style SpikeRule
   (``bench/elastalert_spike.py``: current window vs the reference window just before it, 6h, ×3, ≥10)
   over the same synthetic hourly series: daily seasonality (and a weekend bump), Poisson noise, and
   injected spikes of known start, duration and size. Reported: precision (alert episodes that start
   inside a spike), recall (spikes caught), median detection delay, false alerts per series-week.
   Then the NAB dev score (``bench/alerts_nab.py``): NAB's 48 labelled real series replayed through the
   shipped rule as ``voc alerts backtest RULE --series FILE`` does, through each of its methods alone and
   through the same peer, scored by ``shared/data/nab_dev/score.py``.
2. Speed — time to evaluate every rule in configs/alerts.yaml (volume spike per product and per
   product × topic, emerging terms, rating drop, high risk) over a SQLite index of 1,000,000 documents
   and 50 topics (target ≤ 2 s), against an ElastAlert-style evaluation of the same spike checks (two
   count queries per product × topic) measured in the same run.

Usage: ``python bench/alerts.py [--docs 1000000] [--series 300] [--seed 7] [--skip-speed]``.
The index is built once (≈2 min for 1M documents on 2 cores) under ``$TMPDIR/voc-bench-alerts-<docs>``
and reused by later runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.detect import SpikeDetector  # noqa: E402
from bench.elastalert_spike import ElastAlertSpike  # noqa: E402
from configs.times import format_utc

H = timedelta(hours=1)
T0 = datetime(2026, 9, 7, tzinfo=timezone.utc)  # a Monday


# --- part 1: detection quality -------------------------------------------------------------------------

@dataclasses.dataclass
class Spike:
    start: int  # hour index
    hours: int
    factor: float


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw of mean ``lam`` (Knuth's product of uniforms: exact, ~``lam`` draws of ``rng``)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _poisson(rng: random.Random, lam: float) -> int:
    """:func:`poisson`, or its normal approximation above a mean of 60 (the bench's busy hours)."""
    if lam > 60:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    return poisson(rng, lam)


def make_series(rng: random.Random, days: int, level: float | None = None) -> tuple[list[int], list[Spike]]:
    chosen = rng.choice([1.0, 2.0, 4.0, 8.0, 15.0, 30.0])  # mean negative items per hour
    level = chosen if level is None else level
    phase = rng.uniform(-2, 2)
    spikes: list[Spike] = []
    h = 24 * 8 + rng.randint(0, 48)  # no spikes in the first week (both detectors warm up)
    while True:
        h += rng.randint(24 * 4, 24 * 9)
        dur = rng.randint(3, 12)
        if h + dur >= 24 * days:
            break
        spikes.append(Spike(start=h, hours=dur, factor=rng.choice([2.0, 3.0, 4.0, 6.0, 10.0])))
        h += dur
    counts = []
    for i in range(24 * days):
        t = T0 + i * H
        daily = 1.0 + 0.8 * math.sin((t.hour - 9 + phase) / 24 * 2 * math.pi)  # 0.2× at night … 1.8× evening
        weekly = 1.3 if t.weekday() >= 5 else 1.0
        lam = level * daily * weekly
        for s in spikes:
            if s.start <= i < s.start + s.hours:
                lam += (s.factor - 1) * level * 1.0  # extra = (factor − 1) × the series' mean rate
        counts.append(_poisson(rng, lam))
    return counts, spikes


def score(firings: list[int], spikes: list[Spike], window_h: int) -> tuple[int, int, list[int], int]:
    """(true episodes, false episodes, delays of caught spikes, spikes caught) for one series."""
    episodes = []
    prev = None
    for h in firings:
        if prev is None or h != prev + 1:
            episodes.append(h)
        prev = h
    tp = fp = 0
    caught: dict[int, int] = {}
    for e in episodes:
        hit = next((k for k, s in enumerate(spikes) if s.start <= e < s.start + s.hours + window_h), None)
        if hit is None:
            fp += 1
        else:
            tp += 1
            caught.setdefault(hit, e - spikes[hit].start)
    # a long spike still firing when the episode started before it: count the spike as caught too
    for k, s in enumerate(spikes):
        if k not in caught and any(s.start <= h < s.start + s.hours for h in firings):
            caught[k] = min(h for h in firings if s.start <= h < s.start + s.hours) - s.start
    return tp, fp, list(caught.values()), len(caught)


def run_quality(n_series: int, days: int, seed: int) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    window = 6 * H
    names = ("ours", "ours-ratio2", "novelty", "auto", "elastalert")
    from alerts.method import poisson_like
    from alerts.novelty import detector_for
    from configs import load_settings

    repo = Path(__file__).resolve().parents[1]
    rule = load_settings(repo / "configs", env={"VOC_HOME": str(repo)}).alerts.rule("negative-volume-spike")
    assert rule is not None
    rule = dataclasses.replace(rule, method="novelty")
    totals = {name: {"tp": 0, "fp": 0, "caught": 0, "delays": []} for name in names}
    n_spikes = 0
    by_factor: dict[float, dict[str, list[int]]] = {}
    from app.progress import reporter_for

    task = reporter_for().task("series", total=n_series, unit="series")  # progress on stderr
    for _ in range(n_series):
        task.advance()
        counts, spikes = make_series(rng, days)
        n_spikes += len(spikes)
        novelty = detector_for(rule)
        ours = SpikeDetector(window=window, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10,
                             ratio=3.0, threshold=4.0)
        ours2 = SpikeDetector(window=window, history=timedelta(days=14), warmup=timedelta(days=3), min_count=10,
                              ratio=2.0, threshold=4.0)
        peer = ElastAlertSpike(timeframe=window, spike_height=3.0, threshold_cur=10)
        fired: dict[str, list[int]] = {n: [] for n in names}
        for i, c in enumerate(counts):
            t = T0 + i * H
            for name, det in (("ours", ours), ("ours-ratio2", ours2), ("novelty", novelty), ("elastalert", peer)):
                det.observe(t, c)
                if det.advance(t + H) is not None:
                    fired[name].append(i)
            # the shipped method: auto — ratio where the baseline (before the window) is Poisson-like counts
            r, n = (fired["ours"] or [-1])[-1] == i, (fired["novelty"] or [-1])[-1] == i
            if r or n:
                stop = max(0, i + 1 - rule.window_samples)
                if (r if poisson_like(counts[max(0, stop - rule.baseline_samples):stop] or counts[:i + 1]) else n):
                    fired["auto"].append(i)
        for name in fired:
            tp, fp, delays, caught = score(fired[name], spikes, 6)
            tot = totals[name]
            tot["tp"] += tp
            tot["fp"] += fp
            tot["caught"] += caught
            tot["delays"] += delays  # type: ignore[operator]
            for s in spikes:
                got = any(s.start <= h < s.start + s.hours + 6 for h in fired[name])
                by_factor.setdefault(s.factor, {n: [] for n in names})[name].append(int(got))
    weeks = n_series * days / 7
    out = {}
    for name, tot in totals.items():
        episodes = tot["tp"] + tot["fp"]
        out[name] = {"precision": tot["tp"] / episodes if episodes else 0.0,
                     "recall": tot["caught"] / n_spikes if n_spikes else 0.0,
                     "median_delay_h": statistics.median(tot["delays"]) if tot["delays"] else float("nan"),
                     "false_per_series_week": tot["fp"] / weeks, "alerts": episodes}
    out["_meta"] = {"series": n_series, "days": days, "spikes": n_spikes}  # type: ignore[assignment]
    task.close()
    out["_by_factor"] = {f: {k: sum(v) / len(v) for k, v in d.items()} for f, d in sorted(by_factor.items())}  # type: ignore[assignment]
    return out


def run_levels(levels: tuple[float, ...], n_series: int, days: int, seed: int) -> dict[float, dict[str, tuple[float, float, int]]]:
    """The ratio and the novelty detector on the same synthetic series at one fixed mean level each (what
    ``alerts.method`` rests on: which detector suits Poisson counts of a given size); per level and
    detector (precision, recall, false alerts)."""
    from alerts.novelty import detector_for
    from configs import load_settings

    repo = Path(__file__).resolve().parents[1]
    rule = load_settings(repo / "configs", env={"VOC_HOME": str(repo)}).alerts.rule("negative-volume-spike")
    assert rule is not None
    rule = dataclasses.replace(rule, method="novelty", direction="up")
    out = {}
    for level in levels:
        rng = random.Random(seed)
        tot = {"ratio": [0, 0, 0], "novelty": [0, 0, 0]}
        n_spikes = 0
        for _ in range(n_series):
            counts, spikes = make_series(rng, days, level=level)
            n_spikes += len(spikes)
            dets = {"ratio": SpikeDetector(window=6 * H, history=timedelta(days=14), warmup=timedelta(days=3),
                                           min_count=10, ratio=3.0, threshold=4.0),
                    "novelty": detector_for(rule)}
            fired: dict[str, list[int]] = {k: [] for k in dets}
            for i, c in enumerate(counts):
                for name, det in dets.items():
                    det.observe(T0 + i * H, c)
                    if det.advance(T0 + (i + 1) * H) is not None:
                        fired[name].append(i)
            for name in dets:
                tp, fp, _delays, caught = score(fired[name], spikes, 6)
                tot[name][0] += tp
                tot[name][1] += fp
                tot[name][2] += caught
        out[level] = {k: (v[0] / max(1, v[0] + v[1]), v[2] / max(1, n_spikes), v[1]) for k, v in tot.items()}
    return out


# --- part 2: speed over 1M documents ---------------------------------------------------------------------

VOCAB = ("登录 闪退 卡顿 验证码 支付 退款 广告 更新 版本 客服 会员 同步 备份 相册 笔记 图片 上传 下载 打开 加载 白屏 黑屏 "
         "耗电 发热 权限 隐私 账号 密码 注册 扣费 续费 订阅 弹窗 推送 通知 搜索 分享 导出 导入 字体 主题 夜间 模式 编辑 保存 "
         "丢失 恢复 崩溃 慢 错误 失败 提示 网络 服务器 问题 bug 体验 好用 垃圾 差评 失望 希望 修复 解决").split()


def _tokenize(text: str) -> list[str]:
    return text.split()


def build_index(path: Path, n_docs: int, now: datetime, seed: int) -> None:
    from configs.index import IndexSettings
    from index import open_index

    rng = random.Random(seed)
    idx = open_index(IndexSettings(url=f"sqlite:///{path}"), home=path.parent, tokenizer=_tokenize, secrets=None)
    t_build = time.perf_counter()
    batch: list[dict] = []
    span = 30 * 86400
    versions = ["3.8.0", "3.9.0", "3.9.1", "3.10.0"]
    for i in range(n_docs):
        age = rng.random() * span
        created = now - timedelta(seconds=age)
        product = "p1" if i % 3 else "p2"
        sentiment = rng.choices(("negative", "neutral", "positive"), (0.4, 0.35, 0.25))[0]
        topics = [f"t{rng.randrange(50):02d}"] + ([f"t{rng.randrange(50):02d}"] if rng.random() < 0.3 else [])
        words = rng.sample(VOCAB, 6)
        review = rng.random() < 0.1
        version = versions[min(3, int((span - age) / span * 4))] if review else None
        rating = (rng.choice([1, 2, 3, 4, 5, 5, 5]) if version != "3.10.0" else rng.choice([1, 1, 2, 4, 5])) if review else None
        text = " ".join(words)
        batch.append({
            "id": f"b{i}", "source": "appstore" if review else rng.choice(("weibo", "tieba", "zhihu", "heimao")),
            "source_id": str(i), "url": f"https://example.com/{i}", "parent_id": None, "product": product,
            "kind": "review" if review else "post", "title": "", "text": text, "raw_text": text, "tokens": text,
            "author_id": None, "author_name": None, "created_at": format_utc(created),
            "crawled_at": None, "rating": rating, "app_version": version, "platform": None,
            "likes": rng.randrange(20), "replies": 0, "reposts": 0, "sentiment": sentiment, "sentiment_score": 0.9,
            "intent": "bug", "topics": sorted(set(topics)),
            "risk": ["media_threat"] if rng.random() < 0.0005 else [], "dup_of": None, "model_version": "bench"})
        if len(batch) == 10_000:
            idx.upsert(batch)
            batch = []
    # a surge in the last 5 hours: topic t07 of p1, with a new phrase
    for k in range(400):
        created = now - timedelta(minutes=rng.randrange(1, 300))
        text = "新版 相册 同步 失败 " + " ".join(rng.sample(VOCAB, 3))
        batch.append({"id": f"s{k}", "source": "weibo", "source_id": f"s{k}",
                      "url": f"https://example.com/s{k}", "parent_id": None, "product": "p1", "kind": "post", "title": "",
                      "text": text, "raw_text": text, "tokens": text, "author_id": None, "author_name": None,
                      "created_at": format_utc(created), "crawled_at": None, "rating": None,
                      "app_version": None, "platform": None, "likes": k % 50, "replies": 0, "reposts": 0,
                      "sentiment": "negative", "sentiment_score": 0.9, "intent": "bug", "topics": ["t07"], "risk": [],
                      "dup_of": None, "model_version": "bench"})
    if batch:
        idx.upsert(batch)
    idx.close()
    print(f"  built {n_docs + 400:,} documents in {time.perf_counter() - t_build:.0f}s → {path}", flush=True)


def run_speed(n_docs: int, seed: int) -> dict[str, float]:
    from configs import load_settings
    from configs.index import IndexSettings
    from configs.topics import Topic, TopicsFile
    from index import Filters, open_index

    import alerts
    from alerts.store import SqliteAlertStore

    now = datetime(2026, 11, 24, 6, 30, tzinfo=timezone.utc)
    folder = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / f"voc-bench-alerts-{n_docs}-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "voc.db"
    marker = folder / "complete"
    if not marker.exists():
        for p in folder.glob("voc.db*"):
            p.unlink()
        build_index(path, n_docs, now, seed)
        marker.write_text("ok")
    repo = Path(__file__).resolve().parents[1]
    base = load_settings(repo / "configs", env={"VOC_HOME": str(folder), "VOC_INDEX_URL": f"sqlite:///{path}"})
    topics = TopicsFile(topics=tuple(Topic(id=f"t{i:02d}", name=f"主题{i:02d}", keywords=(f"kw{i}",)) for i in range(50)))
    settings = base.replace(topics=topics, alerts=dataclasses.replace(base.alerts, subscribers=()))
    idx = open_index(IndexSettings(url=f"sqlite:///{path}"), home=folder, tokenizer=_tokenize, secrets=None)
    total = idx.count(Filters())
    store_path = folder / "alerts-bench.db"
    for p in folder.glob("alerts-bench.db*"):
        p.unlink()
    out: dict[str, float] = {"documents": total}
    try:
        with SqliteAlertStore(store_path) as store:
            t = time.perf_counter()
            first = alerts.evaluate(settings, idx, now=now - timedelta(hours=1), store=store)  # cold
            out["ours_cold_s"] = time.perf_counter() - t
            t = time.perf_counter()
            report = alerts.evaluate(settings, idx, now=now, store=store)  # the next scheduled run
            out["ours_s"] = time.perf_counter() - t
            for name, secs in report.timings.items():
                out[f"rule:{name}"] = secs
            out["raised"] = len(first.raised) + len(report.raised)
            titles = [f"{r.rule}: {r.title} — {r.summary}" for r in [*first.raised, *report.raised]]
        # ElastAlert-style: per product × topic (query_key), count the current and the reference window
        rule = settings.alerts.rule("negative-volume-spike")
        assert rule is not None
        window = rule.window
        t = time.perf_counter()
        fired = 0
        for product in ("p1", "p2"):
            for key in [None] + [f"t{i:02d}" for i in range(50)]:
                flt = dict(product=(product,), sentiment=("negative",), topic=(key,) if key else ())
                cur = idx.count(Filters(**flt, since=now - window, until=now))
                ref = idx.count(Filters(**flt, since=now - 2 * window, until=now - window))
                fired += int(cur >= rule.min_count and ref > 0 and cur >= rule.ratio * ref)
        out["elastalert_counts_s"] = time.perf_counter() - t
        out["elastalert_fired"] = fired
    finally:
        idx.close()
    print("  alerts raised over the 1M index:")
    risky = [t for t in titles if t.startswith("high-risk-post")]
    for title in [t for t in titles if not t.startswith("high-risk-post")] + risky[:1]:
        print(f"    {title}")
    if len(risky) > 1:
        print(f"    … and {len(risky) - 1} more high-risk-post alerts (one per flagged post)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=300)
    ap.add_argument("--days", type=int, default=42)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--nab", help="NAB dev folder (default: shared/data/nab_dev above the repository)")
    ap.add_argument("--levels", action="store_true",
                    help="only: ratio vs novelty on synthetic series at fixed levels 8–200 an hour (60 series each)")
    args = ap.parse_args()
    if args.levels:
        print("ratio vs novelty (rises only) at fixed mean levels, 60 synthetic series × 42 days each:")
        for level, row in run_levels((8.0, 30.0, 60.0, 100.0, 200.0), 60, args.days, args.seed).items():
            print(f"   {level:>5g}/h  " + "   ".join(f"{k}: precision {p:.3f} recall {r:.3f} false {f}"
                                                    for k, (p, r, f) in row.items()))
        return

    if not args.skip_quality:
        quality(args)
        from bench.alerts_nab import find_nab, report

        report(find_nab(args.nab))
    if args.skip_speed:
        return
    speed(args)


def quality(args: argparse.Namespace) -> None:
    print(f"1) detection quality: {args.series} synthetic hourly series × {args.days} days, seed {args.seed}")
    q = run_quality(args.series, args.days, args.seed)
    meta = q.pop("_meta")
    byf = q.pop("_by_factor")
    print(f"   {meta['spikes']} injected spikes (×2…×10 of the series' mean rate, 3–12 h)")
    print(f"   {'detector':<12} {'precision':>9} {'recall':>7} {'median delay':>13} {'false/series-week':>18} {'alerts':>7}")
    for name, m in q.items():
        print(f"   {name:<12} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['median_delay_h']:>11.1f} h "
              f"{m['false_per_series_week']:>18.3f} {m['alerts']:>7}")
    print("   recall by spike size (ours / ours-ratio2 / novelty / auto / ElastAlert): " + ", ".join(
        f"×{f:g}: {v['ours']:.2f}/{v['ours-ratio2']:.2f}/{v['novelty']:.2f}/{v['auto']:.2f}/{v['elastalert']:.2f}"
        for f, v in byf.items()))
    o, e = q["ours"], q["elastalert"]
    print(f"   ratio ours/ElastAlert: precision ×{o['precision'] / max(e['precision'], 1e-9):.2f}, "
          f"recall ×{o['recall'] / max(e['recall'], 1e-9):.2f}, "
          f"false alerts ×{o['false_per_series_week'] / max(e['false_per_series_week'], 1e-9):.3f}")


def speed(args: argparse.Namespace) -> None:
    print(f"\n2) speed: every rule in configs/alerts.yaml over {args.docs:,} documents, 50 topics, 2 products")
    s = run_speed(args.docs, args.seed)
    print(f"   documents in index: {int(s['documents']):,}")
    for k, v in s.items():
        if k.startswith("rule:"):
            print(f"   {k[5:]:<24} {v:.3f} s")
    verdict = "OK" if s["ours_s"] <= 2.0 else "OVER TARGET"
    print(f"   all rules: {s['ours_s']:.3f} s (target ≤ 2 s: {verdict}); first (cold) run {s['ours_cold_s']:.3f} s; "
          f"alerts raised {int(s['raised'])}")
    print(f"   ElastAlert-style spike checks only (2 count queries × 102 series): {s['elastalert_counts_s']:.3f} s, "
          f"fired {int(s['elastalert_fired'])}")
    print(f"   ratio all-rules(ours) / spike-counts(ElastAlert-style): {s['ours_s'] / s['elastalert_counts_s']:.2f}")


if __name__ == "__main__":
    main()
