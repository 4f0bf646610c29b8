"""Benchmark the HTTP API on a 1,000,000-document index: p50/p95 of search and trends requests under 8
concurrent clients on loopback (target p95 ≤ 150 ms).

    .venv/bin/python bench/api.py [--data ../shared/data] [--docs 1000000] [--db /tmp/voc-bench-api.db]

The index is built with bench/index.py's builder (real Chinese review sentences from --data; without them, a
small built-in sentence list) and kept at --db for reuse (``--rebuild`` forces a new one). The API runs in
its own process (uvicorn, one worker, as ``voc serve`` runs it, with its defaults: searches and histograms
in ``web.query_concurrency`` slots, one per core); 8 clients send the request mix over loopback HTTP, each
``--requests`` requests back to back with no pause (a p95 over fewer than ~200 searches swings by ±15 ms
between runs).

What a "search request" is: what the web page sends for one search — one ``/api/search`` asking for the
hits and the six facet lists (app/web/static/app.js, loadSearch; facets of large match sets count the newest
``web.facet_sample`` matches). A trends request is one ``/api/trends`` call (the trends view's charts are
separate calls). The peer, measured in the same run on the same database: the same service calls made
in-process by 8 threads with no HTTP, so the ratio is the cost of HTTP + JSON + auth + the ASGI stack.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)  # bench/index.py's NOW: docs span the 30 days before

#: What the page asks: searches (hits, and separately the facet counts), and the trend charts' histograms.
SEARCHES = [
    "质量", "物流 sentiment:negative", "客服 since:7d", "屏幕 topic:performance", "快递 很快", "退货 source:weibo,tieba",
    "电池 rating:1,2", "product:pad sentiment:negative since:3d", "包装 product:phone", '"性价比 高"',
]
TRENDS = [
    {"q": "since:30d", "interval": "day", "group_by": "sentiment"},
    {"q": "since:7d", "interval": "hour", "group_by": "topics"},
    {"q": "since:30d", "interval": "day", "group_by": "source"},
    {"q": "product:phone since:30d", "interval": "day", "group_by": "sentiment"},
    {"q": "source:appstore since:30d", "interval": "day", "group_by": "app_version"},
    {"q": "since:3d", "interval": "hour"},
    {"q": "topic:login since:7d", "interval": "hour", "group_by": "sentiment"},
    {"q": "product:pad sentiment:negative since:14d", "interval": "day", "group_by": "topics"},
]

FALLBACK_SENTENCES = [
    ("物流很快，包装也很好，质量不错", "衣服", 1), ("客服态度太差了，退货一直没人处理", "衣服", 0),
    ("屏幕很清晰，电池也耐用", "手机", 1), ("用了两天就卡顿，电池掉电快", "手机", 0),
    ("性价比高，值得购买", "平板", 1), ("快递太慢了，等了一个星期", "水果", 0),
    ("味道很好吃，下次还会再来", "外卖", 1), ("送餐超时，饭菜都凉了", "外卖", 0),
    ("书的印刷质量很好", "书籍", 1), ("发货慢，售后服务也不行", "热水器", 0),
]


def _index_bench():
    spec = importlib.util.spec_from_file_location("voc_bench_index", ROOT / "bench" / "index.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def tokenizer(text: str) -> list[str]:
    from classifier.normalize import segmenter_for

    return segmenter_for(())(text)


def build(db: Path, n: int, data: Path) -> None:
    from index import SqliteIndex

    ib = _index_bench()
    t0 = time.perf_counter()
    if (data / "online_shopping_10_cats.csv").is_file() and (data / "waimai_10k.csv").is_file():
        sentences = ib.load_sentences(data)
    else:
        print(f"no sentence data in {data}; using {len(FALLBACK_SENTENCES)} built-in sentences")
        sentences = FALLBACK_SENTENCES
    tokens = [" ".join(tokenizer(s[0])) for s in sentences]
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    ix = SqliteIndex(db, tokenizer=tokenizer)
    docs = ib.make_docs(n, sentences, tokens)
    print(f"  made {len(docs):,} docs from {len(sentences):,} sentences ({time.perf_counter() - t0:.0f}s)", flush=True)
    from app.progress import reporter_for

    with reporter_for().task("index", total=len(docs), unit="docs") as task:  # progress on stderr
        for i in range(0, len(docs), 2000):
            ix.upsert(docs[i:i + 2000])
            task(min(i + 2000, len(docs)))
    del docs
    ix._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # noqa: SLF001 - bench only: start from a clean file
    ix.close()


def doc_count(db: Path) -> int:
    """Documents in the index file ``db`` (0 when there is none)."""
    return _index_bench().documents(db) if db.exists() else 0


def settings_for(db: Path):
    from configs import load_settings

    home = db.parent
    return load_settings(ROOT / "configs", env={"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules",
                                               "VOC_INDEX_URL": f"sqlite:///{db}"})


def serve(db: Path, cache_seconds: float, facet_concurrency: int = 0, query_concurrency: int = 0) -> None:
    """Child process: the API on a free loopback port; prints ``PORT n`` when listening."""
    import dataclasses

    import uvicorn

    from app.api import create_app
    from index import SqliteIndex

    settings = settings_for(db)
    settings = settings.replace(voc=dataclasses.replace(settings.voc, web=dataclasses.replace(
        settings.web, cache_seconds=cache_seconds, facet_concurrency=facet_concurrency,
        query_concurrency=query_concurrency)))
    index = SqliteIndex(db, tokenizer=tokenizer)
    app = create_app(settings, index=index, clock=lambda: NOW)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))

    def announce() -> None:
        while not server.started:
            time.sleep(0.05)
        print(f"PORT {server.servers[0].sockets[0].getsockname()[1]}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


FACET_FIELDS = "sentiment,topics,source,intent,platform,product"
KINDS = ("search", "trends")


def requests() -> list[tuple[str, tuple[str, dict]]]:
    """What the page sends: a search is one request (hits and facet counts), the trends view histograms."""
    out = [("search", ("/api/search", {"q": q, "facets": FACET_FIELDS})) for q in SEARCHES]
    out += [("trends", ("/api/trends", dict(t, tz="Asia/Shanghai"))) for t in TRENDS]
    return out


def warm_up(call) -> None:
    for _kind, (path, params) in requests():  # page cache, statement cache, first-call costs
        call(0, path, params)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def process_cpu_ms(pid: int) -> float | None:
    """CPU time (user + system, ms) a process has used so far, from /proc; None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def run_clients(call, clients: int, per_client: int) -> dict[str, list[float]]:
    """``clients`` clients, each sending ``per_client`` page requests one after another
    (``call(client, path, params)``); latencies in ms per kind."""
    reqs = requests()
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    lock = threading.Lock()
    errors: list[str] = []

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(per_client):
            kind, (path, params) = reqs[rnd.randrange(len(reqs))]
            t0 = time.perf_counter()
            try:
                call(seed, path, params)
            except Exception as exc:  # noqa: BLE001 - report, do not hide
                errors.append(f"{path} {params}: {exc}")
                continue
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                lat[kind].append(ms)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("request errors:\n" + "\n".join(errors[:5]))
    return lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--db", default="/tmp/voc-bench-api.db", help="index file, reused when it has --docs documents")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=50, help="requests per client (p95 of fewer samples swings by ±15 ms between runs)")
    ap.add_argument("--cache-seconds", type=float, default=30.0,
                    help="web.cache_seconds for the second HTTP run (the first always runs with the cache off)")
    ap.add_argument("--facet-concurrency", type=int, default=0,
                    help="web.facet_concurrency of the server (0: the configured default, one per CPU core)")
    ap.add_argument("--query-concurrency", type=int, default=0,
                    help="web.query_concurrency of the server (0: the configured default, one per CPU core)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    db = Path(args.db).resolve()
    if args.serve:
        serve(db, args.cache_seconds, args.facet_concurrency, args.query_concurrency)
        return 0

    have = doc_count(db)
    if args.rebuild or have != args.docs:
        print(f"building a {args.docs:,}-document index at {db} …", flush=True)
        build(db, args.docs, Path(args.data))
    else:
        print(f"reusing {db} ({have:,} documents; --rebuild for a fresh one)")

    import httpx

    def http_run(cache_seconds: float) -> tuple[dict[str, list[float]], float, float | None]:
        proc = subprocess.Popen([sys.executable, __file__, "--serve", "--db", str(db), "--cache-seconds",
                                 str(cache_seconds), "--facet-concurrency", str(args.facet_concurrency),
                                 "--query-concurrency", str(args.query_concurrency)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line.startswith("PORT "):
                raise SystemExit(f"server did not start: {line!r}")
            base = f"http://127.0.0.1:{int(line.split()[1])}"
            http = [httpx.Client(base_url=base, timeout=120) for _ in range(args.clients)]

            def over_http(i: int, path: str, params: dict) -> None:
                r = http[i].get(path, params=params)
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
                r.json()

            warm_up(over_http)
            t0, cpu0 = time.perf_counter(), process_cpu_ms(proc.pid)
            lat = run_clients(over_http, args.clients, args.requests)
            elapsed, cpu1 = time.perf_counter() - t0, process_cpu_ms(proc.pid)
            for c in http:
                c.close()
            n = sum(len(v) for v in lat.values())
            return lat, elapsed, (cpu1 - cpu0) / n if cpu0 is not None and cpu1 is not None else None
        finally:
            proc.terminate()
            proc.wait(10)

    load_before = os.getloadavg()
    http_lat, http_s, http_cpu = http_run(0)
    cached_lat, _cached_s, _ = http_run(args.cache_seconds) if args.cache_seconds > 0 else ({}, 0.0, None)

    # peer: the same service calls in-process (8 threads, no HTTP/JSON/ASGI), same database
    from app.api import _service as service
    from index import SqliteIndex

    index = SqliteIndex(db, tokenizer=tokenizer)
    sample = settings_for(db).web.facet_sample  # as the server counts facets

    def in_process(_i: int, path: str, params: dict) -> None:
        if path == "/api/search":
            query = service.build_query(params["q"], now=NOW, limit=20, facets=params.get("facets", "").split(","),
                                        facet_sample=sample)
            json.dumps(service.search(index, query), ensure_ascii=False)
        else:
            p = dict(params)
            json.dumps(service.trends(index, p.pop("q"), now=NOW, **p), ensure_ascii=False)

    warm_up(in_process)
    t0, cpu0 = time.perf_counter(), time.process_time()
    peer_lat = run_clients(in_process, args.clients, args.requests)
    peer_s, peer_cpu = time.perf_counter() - t0, (time.process_time() - cpu0) * 1000 / sum(map(len, peer_lat.values()))
    index.close()

    n = doc_count(db)
    print(f"\n{n:,} documents · {args.clients} concurrent clients × {args.requests} requests · loopback HTTP · "
          f"{os.cpu_count()} CPUs")
    slots = args.facet_concurrency or f"auto = {settings_for(db).web.facet_slots}"
    qslots = args.query_concurrency or f"auto = {settings_for(db).web.query_slots}"
    print(f"HTTP: cache off (web.cache_seconds=0), web.query_concurrency={qslots} (searches and histograms at once), "
          f"web.facet_concurrency={slots} (exact facet computations at once), "
          f"web.facet_sample={settings_for(db).web.facet_sample} (facets of larger match sets count the newest ones); "
          "peer: the same calls in-process, no HTTP, no cache, no slots")
    print("search = one page search: /api/search with the hits and six facet lists; load average "
          f"{'/'.join(f'{x:.1f}' for x in load_before)} before, {'/'.join(f'{x:.1f}' for x in os.getloadavg())} after "
          "(other work on the machine lengthens every latency; CPU per request below does not depend on it much)")
    print(f"{'request':<8} {'HTTP p50/p95 (ms)':>20} {'in-process p50/p95':>20}  {'p95 ratio':>9}  target p95 ≤ 150 ms")
    for kind in KINDS:
        h, p = http_lat[kind], peer_lat[kind]
        h50, h95, p50, p95 = pct(h, 50), pct(h, 95), pct(p, 50), pct(p, 95)
        verdict = "PASS" if h95 <= 150 else "MISS"
        print(f"{kind:<8} {h50:>9.1f} / {h95:>7.1f} {p50:>10.1f} / {p95:>7.1f}  {h95 / p95:>8.2f}x  "
              f"{verdict} (n={len(h)})")
    if cached_lat:
        print(f"HTTP with web.cache_seconds={args.cache_seconds:g} (the page's repeated questions; this mix repeats "
              f"{len(requests())} distinct requests, so after warm-up nearly all are hits):")
        for kind in KINDS:
            c = cached_lat[kind]
            print(f"{kind:<8} {pct(c, 50):>9.1f} / {pct(c, 95):>7.1f}   {'PASS' if pct(c, 95) <= 150 else 'MISS'} (n={len(c)})")
    total = sum(len(http_lat[k]) for k in KINDS)
    print(f"throughput: HTTP {total / http_s:.0f} req/s, in-process {total / peer_s:.0f} calls/s "
          f"(ratio {(total / http_s) / (total / peer_s):.2f})")
    if http_cpu is not None:
        print(f"CPU per request of the mix: server {http_cpu:.1f} ms (HTTP, cache off), in-process {peer_cpu:.1f} ms; "
              f"{os.cpu_count()} CPUs to themselves would answer at most {1000 * (os.cpu_count() or 1) / http_cpu:.0f} "
              "req/s over HTTP")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
