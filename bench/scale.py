"""Scaling of the Redis frontier: items/s with 1, 2, 4 tag workers and 1, 2, 4 crawl workers, against the
single-process pipeline measured in the same run.

    .venv/bin/python bench/scale.py [--items 2000] [--model PATH|rules] [--threads 1] [--workers 1,2,4]

Serves ``--items`` App Store reviews (bench/crawl.py's feed: 50 per page, 10 pages per app) on the loopback replay
server, starts a real ``redis-server`` (loopback, AOF on with ``appendfsync always``, as deploy/ ships it) and measures:

* **single process** — ``run_crawl`` without Redis (today's default: crawl, classify, index in one child and its
  classifier worker): items / wall time of the whole run.
* **tag workers** — the items are crawled once into a stream of their own (a round with no tag worker); then, for each
  K, K ``python -m crawlers tag`` processes start on an empty stream, and once every one has loaded its model and
  opened the index the items are appended at once: the rate is items indexed and acknowledged per second (model
  loads excluded, reported apart). All K write one SQLite index, as on one machine; Elasticsearch is the cluster path.
* **crawl workers** — J ``python -m crawlers worker`` processes wait; a round is published; the rate is items queued
  per second from publication until the frontier is empty (start-up of each worker's crawl child included: a round
  pays it). Items are not tagged in this part.

Each line gives items/s, the speed-up over one worker, the scaling efficiency (speed-up / workers) and items/s per
core used (workers beyond the machine's cores share them). The number of cores is printed and nothing is
extrapolated past it: a run on a 2-core machine says so; run it again on a bigger one for more. Every figure is
from this one run, on whatever load the machine had (printed).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import load_settings  # noqa: E402
from crawlers.replay import ReplayServer  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_crawl", ROOT / "bench" / "crawl.py")
bench_crawl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_crawl)  # type: ignore[union-attr]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(redis).exists():
        raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([redis, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--appendonly",
                             "yes", "--appendfsync", "always", "--save", ""], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    from crawlers.frontier import connect, wait_ready

    wait_ready(connect(url))
    return proc, url


def settings_for(root: Path, base_url: str, apps: list[str], threads: int | None, model: str, prefix: str):
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    cdir = bench_crawl.config_dir(root, base_url, apps, threads)
    voc = yaml.safe_load((cdir / "voc.yaml").read_text(encoding="utf-8"))
    voc["crawl"]["redis"] = {"prefix": prefix, "heartbeat": 0.5, "dead_after": 3.0}
    (cdir / "voc.yaml").write_text(yaml.safe_dump(voc, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOC_")}
    env.update(VOC_HOME=str(root / "home"), VOC_CLASSIFIER_MODEL=model)
    return load_settings(cdir, env=env)


def stat(client, prefix: str, name: str) -> int:
    value = client.hget(f"{prefix}:stats", name)
    return int(value) if value else 0


def fill_stream(settings, url: str) -> list[dict]:
    """Crawl a round with no tag worker (every item waits in the stream) and return the queued entries, to replay into
    each tag-worker measurement's own stream."""
    from crawlers.frontier import Keys, connect, round_busy
    from crawlers.rounds import publish_round
    from crawlers.runner import start_crawl

    client = connect(url)
    prefix = settings.crawl.redis.prefix
    rid = publish_round(client, prefix, sources=["appstore"])
    start_crawl(settings, sources=["appstore"], frontier=url, frontier_round=rid).wait()
    assert not round_busy(client, Keys(prefix, rid), "appstore")
    return [fields for _, fields in client.xrange(f"{prefix}:items")]


def tag_rate(settings, url: str, k: int, entries: list[dict]) -> tuple[float, float]:
    """(items/s, seconds until every worker had loaded its model): K workers start on an empty stream; once all are
    ready the entries are appended at once and the clock runs until every one is indexed and acknowledged."""
    from crawlers.frontier import connect
    from crawlers.itemqueue import ensure_group, queue_drained
    from crawlers.rounds import start_tag_worker

    client = connect(url)
    prefix = settings.crawl.redis.prefix
    ensure_group(client, prefix)
    settings.home.mkdir(parents=True, exist_ok=True)
    log_path = settings.home / f"tag-{k}.log"
    t0 = time.monotonic()
    with open(log_path, "ab") as log:
        procs = [start_tag_worker(settings, url, log=log) for _ in range(k)]
    try:
        while log_path.read_text(errors="replace").count("[crawlers.itemqueue] INFO: tag worker") < k:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a tag worker died: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        ready = time.monotonic()
        pipe = client.pipeline(transaction=False)
        for fields in entries:
            pipe.xadd(f"{prefix}:items", fields)
        pipe.execute()
        while stat(client, prefix, "indexed") < len(entries) or not queue_drained(client, prefix):
            time.sleep(0.02)
        return len(entries) / (time.monotonic() - ready), ready - t0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)


def crawl_rate(settings, url: str, j: int) -> tuple[float, int]:
    from crawlers.frontier import Keys, connect, round_busy
    from crawlers.rounds import publish_round, start_crawl_worker

    client = connect(url)
    prefix = settings.crawl.redis.prefix
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / f"crawl-{j}.log", "ab") as log:
        procs = [start_crawl_worker(settings, url, log=log, poll=0.05) for _ in range(j)]
    try:
        time.sleep(1.0)  # the workers are polling for rounds
        t0 = time.monotonic()
        rid = publish_round(client, prefix, sources=["appstore"])
        keys = Keys(prefix, rid)
        first = None
        while round_busy(client, keys, "appstore") or client.scard(keys.finished) < 1:
            if first is None and client.xlen(f"{prefix}:items"):
                first = time.monotonic()
            time.sleep(0.02)
        end = time.monotonic()
        queued = client.xlen(f"{prefix}:items")
        joined = client.scard(keys.workers)
        if joined < j:
            print(f"  (crawl ×{j}: only {joined} workers took part before the round was done)")
        return queued / (end - t0), joined, (first or end) - t0, queued / max(end - (first or t0), 1e-9)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)


def line(label: str, k: int, rate: float, base: float, cores: int, extra: str = "") -> str:
    speedup = rate / base if base else 0.0
    return (f"  {label} ×{k}: {rate:8.1f} items/s  speed-up {speedup:4.2f}  efficiency {speedup / k:4.2f}  "
            f"{rate / min(k, cores):7.1f} items/s per core used{extra}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--model", help="classifier model path or 'rules' (default: the configured model)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per tag worker and for the baseline (1)")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--data", type=Path)
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    texts = bench_crawl.texts_from(args.data, args.items)
    work = Path(tempfile.mkdtemp(prefix="voc-bench-scale-"))
    redis_proc = None
    try:
        with ReplayServer() as server:
            apps = bench_crawl.serve(server, texts)
            model = args.model or load_settings(env={k: v for k, v in os.environ.items()}).classifier.model
            redis_proc, url = start_redis(work / "redis")
            print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f}; {args.items} items; classifier "
                  f"{model}; {args.threads} torch thread(s) per process; Redis AOF appendfsync always")
            if cores < max(counts):
                print(f"note: only {cores} cores here — workers beyond {cores} share them, so those rows show contention,"
                      f" not scaling; no machine with more cores was available for this run: nothing is extrapolated")

            from crawlers.runner import run_crawl

            base = settings_for(work / "single", server.url, apps, args.threads, model, "single")
            t0 = time.monotonic()
            report = run_crawl(base, sources=["appstore"])
            single = (report.new + report.updated) / (time.monotonic() - t0)
            print(f"single process (crawl + classify + index, today's default): {single:.1f} items/s "
                  f"({report.new} items)")

            print("tag workers (steady state: every worker has loaded its model before the items arrive):")
            entries = fill_stream(settings_for(work / "fill", server.url, apps, args.threads, model, "fill"), url)
            rates: dict[int, float] = {}
            for k in counts:
                s = settings_for(work / f"tag{k}", server.url, apps, args.threads, model, f"tag{k}")
                rate, startup = tag_rate(s, url, k, entries)
                rates[k] = rate
                print(line("tag", k, rate, rates[counts[0]] / counts[0], cores,
                           f"  (model loaded in {startup:.1f} s; ×{rate / single:.2f} the single-process rate)"))

            print("crawl workers (publication → frontier empty, each worker's crawl child start-up included; no tagging):")
            rates = {}
            for j in counts:
                s = settings_for(work / f"crawl{j}", server.url, apps, args.threads, model, f"crawl{j}")
                rate, joined, startup, steady = crawl_rate(s, url, j)
                rates[j] = rate
                print(line("crawl", j, rate, rates[counts[0]] / counts[0], cores,
                           f"  ({joined} joined; ×{rate / single:.2f} the single-process rate; first item after "
                           f"{startup:.1f} s, {steady:.0f} items/s from there)"))
    finally:
        if redis_proc is not None:
            redis_proc.kill()
            redis_proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
