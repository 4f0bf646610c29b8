"""``python -m crawlers crawl [--run-id ID] [--product P] [--since WHEN] SOURCE…`` — the crawler child
process of :func:`crawlers.runner.run_crawl`: one Scrapy crawler per source, one reactor, then exit."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers")
    sub = parser.add_subparsers(dest="command", required=True)
    crawl = sub.add_parser("crawl", help="run spiders through the Scrapy engine")
    crawl.add_argument("sources", nargs="+")
    crawl.add_argument("--run-id")
    crawl.add_argument("--product")
    crawl.add_argument("--since")
    crawl.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)

    from configs import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    _prestart_classifier(settings)

    from scrapy.crawler import CrawlerProcess

    from crawlers.config import scrapy_settings
    from crawlers.extensions import new_run_id

    values = scrapy_settings(settings, run_id=args.run_id or new_run_id())
    values["LOG_LEVEL"] = args.log_level
    process = CrawlerProcess(values)
    # Scrapy leaves the root logger at NOTSET and filters in its handler, so every debug call (one
    # "Scraped from" per item) built a record only to drop it; the level on the root skips them early.
    logging.getLogger().setLevel(values["LOG_LEVEL"])
    kwargs = {k: v for k, v in (("product", args.product), ("since", args.since)) if v}
    for name in args.sources:
        process.crawl(name, **kwargs)
    process.start()
    return 0


def _prestart_classifier(settings) -> None:
    """Start the classifier worker process before Scrapy is even imported, so the model loads while the
    crawl starts up; the first crawler's classify pipeline takes it over (see crawlers._classify_worker)."""
    from crawlers import _classify_worker

    spec = _classify_worker.worker_spec(settings, settings.crawl.classify_in)
    if spec is not None:
        _classify_worker.prestart(*spec)


if __name__ == "__main__":
    sys.exit(main())
