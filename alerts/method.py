"""Which volume detector suits a series — decided from what the series is, not from its unit.

``method: auto`` on a ``volume_spike`` rule asks :func:`poisson_like` about the baseline (the samples
before the current window) at every evaluation:

* **counts with Poisson noise** (feedback per hour: variance about the mean) → the ratio detector
  (:class:`alerts.detect.SpikeDetector`: ×ratio over the seasonal median, with a minimum count). Measured
  on synthetic seasonal Poisson counts at fixed levels of 8 to 200 an hour (``bench/alerts.py --levels``)
  it beats novelty at every level: a record is broken by chance in such noise, a ×3 surge is not;
* anything else — over- or under-dispersed counts (tweet and request counts, taxi trips, travel times,
  most speeds), measurements (CPU %, latencies, prices) → the novelty detector
  (:class:`alerts.novelty.NoveltyDetector`: the series' own records, spread, daily and weekly pattern).

The test is scale-free: every value a non-negative integer, and a dispersion ``D`` between
``MIN_DISPERSION`` and ``MAX_DISPERSION``. ``D`` is the mean squared step between neighbouring samples
over twice the mean (1 for Poisson noise whatever the level; a slow daily cycle adds little), with the
largest ``TRIM`` of the steps (at most half of the non-zero ones) left out so that a past spike in the
baseline does not make a count series look over-dispersed, while a series of rare large bursts still
does. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["poisson_like", "dispersion", "MIN_DISPERSION", "MAX_DISPERSION", "TRIM"]

#: Dispersion band of Poisson-like counts (measured: synthetic hourly feedback 0.4–1.5).
MIN_DISPERSION = 0.3
MAX_DISPERSION = 2.0
#: Share of the largest steps left out of the dispersion.
TRIM = 0.05
#: Fewer baseline samples than this: too few to tell; counts are taken as counts.
MIN_SAMPLES = 24


def dispersion(values: Sequence[float]) -> float:
    """Mean squared step between neighbours (the largest ``TRIM`` left out) over twice the mean; 0 for a
    series with no mean."""
    mean = sum(values) / len(values) if values else 0.0
    if len(values) < 2 or mean <= 0:
        return 0.0
    steps = sorted((b - a) ** 2 for a, b in zip(values, values[1:]))
    moving = sum(1 for s in steps if s)
    # leave out the largest TRIM of the steps, but never more than half of those that move: in a sparse
    # series (a post now and then, or rare large bursts) they are what the dispersion is made of
    cut = min(int(len(steps) * TRIM), moving // 2)
    kept = steps[:len(steps) - cut]
    return sum(kept) / len(kept) / (2 * mean)


def poisson_like(values: Sequence[float]) -> bool:
    """The baseline ``values`` look like counts with Poisson noise (see the module's doc)."""
    if not all(v >= 0 and float(v).is_integer() for v in values):
        return False
    if len(values) < MIN_SAMPLES:
        return True
    mean = sum(values) / len(values)
    if mean == 0:  # nothing yet: counts, as far as anyone can tell
        return True
    return MIN_DISPERSION <= dispersion(values) <= MAX_DISPERSION
