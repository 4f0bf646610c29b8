"""How long the landing page's overview takes on a large index, against the search page's own request
measured in the same run on the same database (ratio = overview / search).

    .venv/bin/python bench/overview.py [--docs 200000] [--db /tmp/voc-bench-overview.db] [--data ../shared/data]

The index is built with bench/api.py's builder (real review sentences over the 30 days before its NOW) and
kept at --db. Both calls run in-process through app.api's service functions, warm, one at a time:
``overview`` (two exact facet counts over the period and the one before, a topic histogram) for the default
7-day period and for 30 days, and the page's search (``/api/search`` with hits and the facet lists, facets
sampled over the newest ``web.facet_sample`` matches). The overview's answer is cached for
``web.cache_seconds`` per product, period and drill query, so this is the cost of the first visit.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _api_bench():
    spec = importlib.util.spec_from_file_location("voc_bench_api", ROOT / "bench" / "api.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--db", default="/tmp/voc-bench-overview.db")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    api = _api_bench()
    db = Path(args.db)
    if api.doc_count(db) != args.docs:
        print(f"building {args.docs:,} documents at {db} …", flush=True)
        api.build(db, args.docs, Path(args.data))
    from app.api import _overview, _service as service
    from index import SqliteIndex

    settings = api.settings_for(db)
    ix = SqliteIndex(db, tokenizer=api.tokenizer)
    product = next(iter(ix.search(service.build_query("", now=api.NOW, facets=("product",))).facets.get("product", [])),
                   ("", 0))[0]
    names = {t.id: t.name for t in settings.topics.topics}
    q = service.build_query("", now=api.NOW, limit=20, facets=service.DEFAULT_FACETS,
                            facet_sample=settings.web.facet_sample)
    rows = {"search (page: hits + sampled facets)": timed(lambda: service.search(ix, q), args.repeat)}
    for period in ("7d", "30d"):
        rows[f"overview {period}"] = timed(lambda period=period: _overview.overview(
            ix, [], product=product, period=period, q="", now=api.NOW, tz=settings.time_zone, topic_names=names),
            args.repeat)
    base = statistics.median(rows["search (page: hits + sampled facets)"])
    print(f"{ix.count():,} documents, product {product!r}; median of {args.repeat} warm calls, one at a time")
    for name, ms in rows.items():
        print(f"  {name:<40} {statistics.median(ms):8.1f} ms   ×{statistics.median(ms) / base:.1f} of search")
    ix.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
