"""``python -m crawlers crawl [--run-id ID] [--product P] [--since WHEN] [--from-quarantine] SOURCE…`` — the
crawler child process of :func:`crawlers.runner.run_crawl`: one Scrapy crawler per source, one reactor, then exit
(1 when a crawler could not run at all, its reason recorded as the source's failed run)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys

#: The crawl child's garbage collector after start-up: young collections every 5,000 allocations (not 700)
#: and a full one every 100 older collections (not 10). See :func:`_tune_gc`.
GC_THRESHOLDS = (5000, 20, 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers")
    sub = parser.add_subparsers(dest="command", required=True)
    crawl = sub.add_parser("crawl", help="run spiders through the Scrapy engine")
    crawl.add_argument("sources", nargs="+")
    crawl.add_argument("--run-id")
    crawl.add_argument("--product")
    crawl.add_argument("--since")
    crawl.add_argument("--log-level", default="INFO")
    crawl.add_argument("--from-quarantine", action="store_true",
                       help="re-parse the saved bodies of pages that yielded nothing, instead of crawling")
    crawl.add_argument("--round", help="crawl this round on the Redis frontier of $VOC_FRONTIER_URL (crawlers.frontier)")
    tag = sub.add_parser("tag", help="tag and index items from the Redis item queue of $VOC_FRONTIER_URL until SIGTERM")
    tag.add_argument("--idle-exit", type=float, default=None, help="exit after this many seconds without an item")
    worker = sub.add_parser("worker", help="join every crawl round published on the Redis frontier of $VOC_FRONTIER_URL")
    worker.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.command in ("tag", "worker"):
        return _worker(args)
    gc.disable()  # start-up only allocates what lives as long as the process: see _tune_gc
    # The classifier worker the runner started beside this process is loading the model already; this
    # process takes it over (checked against the loaded settings below).
    from crawlers import _classify_worker

    _classify_worker.adopt_from_env(os.environ)

    from configs import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        _classify_worker.discard_prestarted()  # a model nobody will use: stop loading it
        return 2
    frontier = os.environ.get("VOC_FRONTIER_URL") if args.round else None
    if frontier is None:
        _prestart_classifier(settings)

    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawlers.config import scrapy_settings
    from crawlers.state import new_run_id

    values = scrapy_settings(settings, run_id=args.run_id or new_run_id())
    values["LOG_LEVEL"] = args.log_level
    if frontier:
        from crawlers.frontier import frontier_settings, worker_id

        r = settings.crawl.redis
        values = frontier_settings(values, frontier, prefix=r.prefix, round_id=args.round, worker=worker_id(),
                                   heartbeat=r.heartbeat, dead_after=r.dead_after, ttl_hours=r.round_ttl_hours)
    process = CrawlerProcess(values)
    kwargs = {k: v for k, v in (("product", args.product), ("since", args.since)) if v}
    failed: dict[str, str] = {}
    for name in args.sources:
        spidercls = process.spider_loader.load(name)
        if args.from_quarantine:
            from crawlers.spiders._base import reparse_class

            spidercls = reparse_class(spidercls)
        elif frontier:
            from crawlers.frontier import frontier_class

            spidercls = frontier_class(spidercls)
        crawler = process.create_crawler(spidercls)
        crawler.signals.connect(_log_levels, signal=signals.spider_opened)
        # A crawler that cannot start (the index cannot be opened: locked by another writer, read-only, a bad
        # path) fails its Deferred; without this errback the error was lost and the process exited 0.
        process.crawl(crawler, **kwargs).addErrback(_crawl_failed, name, failed)
    _tune_gc()
    process.start()
    if failed:
        _record_failures(settings, values["VOC_RUN_ID"], failed, product=args.product)
        return 1
    return 0


def _worker(args) -> int:
    """``tag``: a tag worker (crawlers.itemqueue); ``worker``: a crawl worker (crawlers.rounds) — both on the Redis of
    ``$VOC_FRONTIER_URL`` (an environment variable, so a password never shows in a process list)."""
    from configs import ConfigError, load_settings

    url = os.environ.get("VOC_FRONTIER_URL") or ""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    url = url or settings.crawl.redis.url
    if not url:
        print("Error: no Redis URL: set VOC_FRONTIER_URL or crawl.redis.url in voc.yaml", file=sys.stderr)
        return 2
    if args.command == "tag":
        from crawlers.itemqueue import run_tag_worker

        stats = run_tag_worker(settings, url, idle_exit=args.idle_exit)
        print(f"tag worker done: {stats.indexed} items indexed in {stats.batches} batches, {stats.claimed} claimed "
              f"from other workers, {stats.dead} dead-lettered", file=sys.stderr)
        return 0
    from crawlers.rounds import crawl_worker

    crawl_worker(settings, url, poll=args.poll)
    return 0


def _crawl_failed(failure, name: str, failed: dict[str, str]) -> None:
    exc = failure.value
    failed[name] = f"the {name} crawler could not run: {type(exc).__name__}: {exc}"
    logging.getLogger("crawlers").error("%s", failed[name], exc_info=(failure.type, failure.value, failure.getTracebackObject()))
    print(f"Error: {failed[name]}", file=sys.stderr)


def _record_failures(settings, run_id: str, failed: dict[str, str], *, product: str | None) -> None:
    """Record each source whose crawler could not run as ``failed`` with the reason (``voc crawl`` and ``voc status``
    show it); a state database that cannot be written either leaves the reason on stderr and in the log."""
    from crawlers.state import CrawlState, SourceRun, utcnow

    try:
        with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
            for name, why in failed.items():
                now = utcnow()
                state.finish_run(SourceRun(run_id=run_id, source=name, product=product, status="failed", started_at=now,
                                           finished_at=now, duration=0.0, errors=1, error_messages=(why,)))
    except Exception as exc:  # noqa: BLE001 - the failure to report is the one above
        print(f"Error: cannot record the failure in the crawl state either: {exc}", file=sys.stderr)


def _log_levels(spider) -> None:
    """Scrapy's logging config gives its ``scrapy`` logger DEBUG and leaves the root at NOTSET (every crawler,
    as it starts, sets it so again), filtering in its handler; so each debug call — a "Scraped from" per
    item — built a record only to drop it. Given the run's level once the spider is open, both loggers skip
    those calls early."""
    level = spider.crawler.settings.get("LOG_LEVEL")
    logging.getLogger().setLevel(level)
    logging.getLogger("scrapy").setLevel(level)


def _tune_gc() -> None:
    """Garbage collection for the crawl, called once start-up is done (collection was off until then).

    Start-up built what lives as long as the process — modules, Scrapy's engine, settings — and every full
    collection of the crawl would walk all of it again: frozen, the collector skips it. Items die young,
    and the old generation only grows by what a run keeps (seen ids, cursors), so collections can be rarer.
    Measured on 5,000 App Store reviews: collection took 0.42 s of the crawl process's CPU, 0.16 s so.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()


def _prestart_classifier(settings) -> None:
    """Start the classifier worker process before Scrapy is even imported, so the model loads while the
    crawl starts up; the first crawler's classify pipeline takes it over (see crawlers._classify_worker).
    Usually the runner started it already; one started for other settings is replaced."""
    from crawlers import _classify_worker

    spec = _classify_worker.worker_spec(settings, settings.crawl.classify_in)
    if spec is not None:
        _classify_worker.prestart(*spec)


if __name__ == "__main__":
    sys.exit(main())
