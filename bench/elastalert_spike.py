"""The bench's peer for the volume detector: ElastAlert's SpikeRule (``spike_type: up``), kept out of the
production package (``alerts.detect``) because nothing but ``bench/alerts.py`` runs it.

SpikeRule compares the current window with the reference window just before it: it fires when
``cur ≥ spike_height·ref`` with ``cur ≥ threshold_cur`` and ``ref ≥ threshold_ref``, never against an empty
reference. Same ``observe``/``advance`` interface as :class:`alerts.detect.SpikeDetector`, so the bench
feeds both the same series. (Written from ElastAlert's documented rule semantics, not its code.)
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from alerts.detect import Figures, Match

__all__ = ["ElastAlertSpike"]


class ElastAlertSpike:
    """ElastAlert's SpikeRule (spike_type ``up``): the bench's peer, same feed/advance interface."""

    def __init__(self, *, key: str = "", bucket: timedelta = timedelta(hours=1),
                 timeframe: timedelta = timedelta(hours=6), spike_height: float = 3.0, threshold_cur: int = 10,
                 threshold_ref: int = 0) -> None:
        self.key = key
        self.step = int(bucket.total_seconds())
        self.width = int(timeframe // bucket)
        self.spike_height = spike_height
        self.threshold_cur = threshold_cur
        self.threshold_ref = threshold_ref
        self._counts: dict[int, float] = {}
        self._origin: int | None = None

    def observe(self, bucket_start: datetime, count: float) -> None:
        i = int(bucket_start.timestamp()) // self.step
        self._counts[i] = count
        if self._origin is None or i < self._origin:
            self._origin = i

    def advance(self, now: datetime) -> Match | None:
        end = math.ceil(now.timestamp() / self.step)
        if self._origin is None or end - 2 * self.width < self._origin:  # reference window not yet full
            return None
        cur = sum(self._counts.get(i, 0) for i in range(end - self.width, end))
        ref = sum(self._counts.get(i, 0) for i in range(end - 2 * self.width, end - self.width))
        if cur < self.threshold_cur or ref < self.threshold_ref:
            return None
        if ref == 0 or cur < self.spike_height * ref:  # SpikeRule never fires against an empty reference
            return None
        fig = Figures(current=cur, expected=ref, low=0.0, high=ref * self.spike_height, ratio=cur / ref,
                      window_start=datetime.fromtimestamp((end - self.width) * self.step, timezone.utc),
                      window_end=now, samples=1)
        return Match(key=self.key, at=now, severity="info", figures=fig)
