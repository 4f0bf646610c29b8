"""The NAB dev score of the shipped volume rule and of the ElastAlert-style spike rule, in one run.

NAB's labelled series (``shared/data/nab_dev``: counts, CPU %, latencies, prices …; see its README) are
replayed through the shipped ``negative-volume-spike`` rule exactly as ``voc alerts backtest RULE
--series FILE --json`` does (``alerts.backtest``: one configuration for every file, no per-file tuning);
the first firing of each episode is a detection. The peer (``bench/elastalert_spike.py``) gets the same
buckets with the same window, ratio and minimum count. ``score.py`` (NAB's scoring rules) scores both.

Usage: ``python bench/alerts_nab.py [--nab DIR] [--rule NAME] [--verbose]`` (also run by ``bench/alerts.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.elastalert_spike import ElastAlertSpike  # noqa: E402


def find_nab(explicit: str | None = None) -> Path | None:
    """``--nab``, ``$VOC_NAB_DIR``, or the first ``shared/data/nab_dev`` above the repository."""
    for cand in (explicit, os.environ.get("VOC_NAB_DIR")):
        if cand:
            return Path(cand)
    for parent in REPO.parents:
        p = parent / "shared" / "data" / "nab_dev"
        if (p / "score.py").exists():
            return p
    return None


def _scorer(nab: Path) -> Any:
    spec = importlib.util.spec_from_file_location("nab_score", nab / "score.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def _peer(rule: Any, series: list[tuple[datetime, float]]) -> list[str]:
    """ElastAlert's SpikeRule over the same buckets, evaluated at every bucket end; episode starts."""
    step = timedelta(hours=1) if rule.interval == "hour" else timedelta(days=1)
    s = int(step.total_seconds())
    peer = ElastAlertSpike(bucket=step, timeframe=rule.window, spike_height=rule.ratio, threshold_cur=rule.min_count)
    buckets: dict[int, float] = {}
    for t, v in series:
        buckets[int(t.timestamp()) // s] = buckets.get(int(t.timestamp()) // s, 0) + v
    out, firing = [], False
    for i in range(min(buckets), max(buckets) + 1):
        t = datetime.fromtimestamp(i * s, series[0][0].tzinfo)
        if i in buckets:
            peer.observe(t, buckets[i])
        m = peer.advance(t + step)
        if m is not None and not firing:
            out.append(_fmt(t + step))
        firing = m is not None
    return out


class NoveltyProbe:
    """The probe (not shipped; evidence for the report): a streaming, per-sample detector in the series' own
    units that fires where one of three statistics reaches a value never seen before in the series:

    * the level, both directions (a new high or a new low), by ``level_margin`` × the range seen so far;
    * the short spread (population standard deviation of the last ``w`` samples) by ``margin`` × its range;
    * the seasonal residual: the mean over the last ``ws`` samples of ``|x − x one day earlier|`` (the day
      in samples from the median step of the first rows) — a broken daily profile;
    * or (windowed Gaussian) the mean of the last ``k`` samples lies more than ``z`` standard deviations from
      the mean of the ``h`` samples before them.

    No firing in the first ``warmup`` samples, then at most one per ``refractory`` samples (NAB credits only
    the earliest firing of a window). One configuration for every file; knobs in samples, never the file's
    length. A sweep over the 48 files together (warm-up 200/300, refractory 20–150, ``ws`` 6–96, ``margin``
    0–0.4, ``level_margin`` 0–0.12, a margin on the residual 0–0.15, records over the last 1,000–6,000 samples
    instead of all of them, the Gaussian's ``z`` 4–12, ``h`` 250–2,000, ``k`` 3–12) peaked here: 67.0."""

    def __init__(self, *, warmup: int = 200, refractory: int = 40, w: int = 6, margin: float = 0.3,
                 ws: int = 48, level_margin: float = 0.05, k: int = 6, h: int = 500, z: float = 6.0) -> None:
        self.warmup, self.refractory, self.w, self.margin, self.ws = warmup, refractory, w, margin, ws
        self.level_margin = level_margin
        self.k, self.h, self.z = k, h, z

    def run(self, rows: list[tuple[datetime, float]]) -> list[int]:
        x = [v for _t, v in rows]
        n = len(x)
        gaps = sorted((rows[i + 1][0] - rows[i][0]).total_seconds() for i in range(min(n - 1, 200)))
        step = gaps[len(gaps) // 2] if gaps else 0
        period = round(86400 / step) if step > 0 else 0
        seasonal = 0 < period < n // 3
        out, last = [], -(10 ** 9)
        hi = lo = x[0] if x else 0.0
        sd_hi = sd_lo = None
        res_hi = None
        res: list[float] = []
        res_sum = 0.0
        c1, c2 = [0.0], [0.0]  # prefix sums of x and x²
        for i, v in enumerate(x):
            c1.append(c1[-1] + v)
            c2.append(c2[-1] + v * v)
            win = x[max(0, i - self.w + 1):i + 1]
            mu = sum(win) / len(win)
            sd = (sum((u - mu) ** 2 for u in win) / len(win)) ** 0.5
            rm = None
            if seasonal and i >= period:
                r = abs(v - x[i - period])
                res.append(r)
                res_sum += r
                if len(res) > self.ws:
                    res_sum -= res[-self.ws - 1]
                if len(res) >= self.ws:
                    rm = res_sum / self.ws
            fire = False
            if i >= self.warmup:
                fire = v > hi + self.level_margin * (hi - lo) or v < lo - self.level_margin * (hi - lo)
                if sd_hi is not None and sd > sd_hi + self.margin * (sd_hi - sd_lo):
                    fire = True
                if rm is not None and res_hi is not None and rm > res_hi:
                    fire = True
                if i + 1 >= self.h + self.k:
                    recent = (c1[i + 1] - c1[i + 1 - self.k]) / self.k
                    a, b = i + 1 - self.k - self.h, i + 1 - self.k
                    mean = (c1[b] - c1[a]) / self.h
                    spread = max((c2[b] - c2[a]) / self.h - mean * mean, 1e-12) ** 0.5
                    if abs(recent - mean) > self.z * spread:
                        fire = True
            hi, lo = max(hi, v), min(lo, v)
            sd_hi = sd if sd_hi is None else max(sd_hi, sd)
            sd_lo = sd if sd_lo is None else min(sd_lo, sd)
            if rm is not None:
                res_hi = rm if res_hi is None else max(res_hi, rm)
            if fire and i - last >= self.refractory:
                out.append(i)
                last = i
        return out


def novelty_probe(rows: list[tuple[datetime, float]]) -> list[str]:
    return [_fmt(rows[i][0]) for i in NoveltyProbe().run(rows)]


def _by_category(score: Any, detections: dict[str, list[str]]) -> dict[str, str]:
    """Per NAB category (standard profile): windows hit / windows, firings outside windows, raw score."""
    cats: dict[str, list[dict[str, Any]]] = {}
    for row in score.score_files(detections, "standard", warn=False):
        cats.setdefault(row["file"].split("/")[0], []).append(row)
    return {c: (f"{sum(r['hit'] for r in rows)}/{sum(r['windows'] for r in rows)} hit, "
                f"{sum(r['fp'] for r in rows)} FP, raw {sum(r['raw'] for r in rows):+.2f}")
            for c, rows in sorted(cats.items())}


def nab_scores(nab: Path, *, rule_name: str = "negative-volume-spike", verbose: bool = False) -> dict[str, Any]:
    import alerts
    from configs import load_settings

    settings = load_settings(REPO / "configs", env={"VOC_HOME": str(REPO), "VOC_CLASSIFIER_MODEL": "rules"})
    rule = settings.alerts.rule(rule_name)
    if rule is None:
        raise SystemExit(f"no rule {rule_name!r} in configs/alerts.yaml")
    score = _scorer(nab)
    ours: dict[str, list[str]] = {}
    peer: dict[str, list[str]] = {}
    probe: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    for f in sorted((nab / "data").glob("*/*.csv")):
        key = f"{f.parent.name}/{f.name}"
        series = alerts.read_series_csv(f.read_text(encoding="utf-8"))
        ours[key] = [_fmt(m.at) for m, new in alerts.backtest(rule, series) if new]
        peer[key] = _peer(rule, series)
        probe[key] = novelty_probe(series)
    elapsed = time.perf_counter() - t0
    out: dict[str, Any] = {"files": len(ours), "seconds": elapsed,
                           "ours_firings": sum(map(len, ours.values())), "peer_firings": sum(map(len, peer.values()))}
    for profile in ("standard", "low_fp", "low_fn"):
        out[f"ours_{profile}"] = score.score(ours, profile)
        out[f"peer_{profile}"] = score.score(peer, profile)
        out[f"probe_{profile}"] = score.score(probe, profile)
    out["probe_firings"] = sum(map(len, probe.values()))
    out["categories"] = {name: _by_category(score, dets) for name, dets in (("ours", ours), ("peer", peer),
                                                                            ("probe", probe))}
    if verbose:
        for name, row in sorted(score.score_files(ours, "standard").items()):
            print(f"   {name:<60} {row}")
    return out


def report(nab: Path | None, *, rule_name: str = "negative-volume-spike", verbose: bool = False) -> None:
    print("NAB dev score (48 labelled series, shared/data/nab_dev/score.py; 0 = never fires, 100 = perfect)")
    if nab is None or not (nab / "score.py").exists():
        print("   skipped: no shared/data/nab_dev found (pass --nab DIR or set VOC_NAB_DIR)")
        return
    r = nab_scores(nab, rule_name=rule_name, verbose=verbose)
    print(f"   {'detector':<44} {'standard':>9} {'low_fp':>8} {'low_fn':>8} {'firings':>8}")
    print(f"   {'ours: shipped ' + rule_name:<44} {r['ours_standard']:>9.2f} {r['ours_low_fp']:>8.2f} "
          f"{r['ours_low_fn']:>8.2f} {r['ours_firings']:>8}")
    print(f"   {'ElastAlert-style spike (same window/ratio)':<44} {r['peer_standard']:>9.2f} {r['peer_low_fp']:>8.2f} "
          f"{r['peer_low_fn']:>8.2f} {r['peer_firings']:>8}")
    print(f"   {'probe: novelty, per sample, not shipped':<44} {r['probe_standard']:>9.2f} {r['probe_low_fp']:>8.2f} "
          f"{r['probe_low_fn']:>8.2f} {r['probe_firings']:>8}")
    for name in ("ours", "peer", "probe"):
        print(f"   {name} per category (standard):")
        for cat, text in r["categories"][name].items():
            print(f"      {cat:<24} {text}")
    print(f"   target ≥ 72 (standard; best published on this set: ARTime 72.08, numenta 70.93); "
          f"difference ours − peer: {r['ours_standard'] - r['peer_standard']:+.2f}; {r['seconds']:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nab", help="the nab_dev folder (default: shared/data/nab_dev above the repository)")
    ap.add_argument("--rule", default="negative-volume-spike")
    ap.add_argument("--verbose", action="store_true", help="per-file scores of ours")
    args = ap.parse_args()
    report(find_nab(args.nab), rule_name=args.rule, verbose=args.verbose)


if __name__ == "__main__":
    main()
