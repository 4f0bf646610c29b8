"""The emerging-terms history sample (alerts/_sample.py): whole hours, each read from the index once and
kept between evaluation cycles; a real SQLite index."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from alerts._sample import sample_grams, sample_windows
from alerts.detect import ngrams
from index import Filters
from tests.helpers import ALERTS_NOW, make_doc

H = timedelta(hours=1)


def test_the_sample_counts_the_windows_hours_and_reads_each_hour_once(index: Any) -> None:
    now = ALERTS_NOW.replace(minute=30, second=0, microsecond=0)
    texts = ["登录失败 验证码 收不到", "闪退 打开 相册", "登录失败 一直 转圈"]
    docs = [make_doc(i, at=now - timedelta(hours=h, minutes=10), text=texts[i % 3])
            for i, h in enumerate(range(1, 40))]
    docs.append(make_doc(999, at=now - timedelta(hours=8), product="other", text="登录失败"))  # another product
    index.upsert(docs)
    since, window = now - 6 * H, 6 * H
    windows = sample_windows(since, window)
    end = int(since.timestamp()) // 3600  # whole hours: 6 before since's hour, the same a day earlier
    assert windows == [(end - 6, end), (end - 30, end - 24)]
    flt = Filters(product=("demo",), sentiment=("negative",))
    grams, n = sample_grams(index, flt, max_n=2, windows=windows)
    inside = [d for d in docs if d["product"] == "demo" and any(
        lo * 3600 <= int(_ts(d)) < hi * 3600 for lo, hi in windows)]
    assert n == len(inside) == 12
    assert grams == Counter(g for d in inside for g in ngrams(d["tokens"], max_n=2))
    # a post that arrives late for an hour already read is not seen by the sample (a pre-filter: exact
    # counts are read from the index); the next cycle reads only the hours it has not read
    index.upsert([make_doc(500, at=now - timedelta(hours=9, minutes=10), text="新功能 闪退")])
    again, n2 = sample_grams(index, flt, max_n=2, windows=windows)
    assert (again, n2) == (grams, n)
    later = sample_windows(since + H, window)
    _, n3 = sample_grams(index, flt, max_n=2, windows=later)
    assert n3 == 12  # one hour in, one out (one post an hour); the late post's hour came from memory


def _ts(doc: dict[str, Any]) -> float:
    from configs.times import parse_utc

    return parse_utc(doc["created_at"]).timestamp()
