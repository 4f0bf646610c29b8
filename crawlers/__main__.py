"""``python -m crawlers crawl [--run-id ID] [--product P] [--since WHEN] SOURCE…`` — the crawler child
process of :func:`crawlers.runner.run_crawl`: one Scrapy crawler per source, one reactor, then exit."""

from __future__ import annotations

import argparse
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

    from scrapy.crawler import CrawlerProcess

    from configs import ConfigError, load_settings
    from crawlers.config import scrapy_settings
    from crawlers.extensions import new_run_id

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    values = scrapy_settings(settings, run_id=args.run_id or new_run_id())
    values["LOG_LEVEL"] = args.log_level
    process = CrawlerProcess(values)
    kwargs = {k: v for k, v in (("product", args.product), ("since", args.since)) if v}
    for name in args.sources:
        process.crawl(name, **kwargs)
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
