"""`voc worker crawl|tag`: long-running workers of a crawl spread over machines on one Redis (crawlers/frontier.py,
crawlers/itemqueue.py, crawlers/rounds.py)."""

from __future__ import annotations

import logging

import click

from app.cli import pass_app
from app.context import AppContext

__all__ = ["commands"]


def _url(app: AppContext, redis_url: str | None) -> str:
    from crawlers.errors import CrawlError
    from crawlers.runner import check_redis_url, frontier_url

    try:
        url = check_redis_url(redis_url, "--redis") if redis_url else frontier_url(app.settings)
    except CrawlError as exc:
        raise click.UsageError(str(exc)) from None
    if not url:
        raise click.UsageError(f"no Redis: pass --redis redis://host:6379/0, set {app.settings.crawl.redis.url_env or 'crawl.redis.url_env'}, "
                               "or crawl.redis.url in voc.yaml")
    return url


@click.group("worker")
def worker() -> None:
    """Long-running workers on a shared Redis: `crawl` joins every crawl round published there (by `voc crawl
    --frontier` or `voc demo --frontier`), `tag` classifies and indexes the items they queue. Run as many of each as
    you like, on as many machines; a worker that dies is taken over by the others. SIGTERM stops one cleanly."""


@worker.command("crawl")
@click.option("--redis", "redis_url", metavar="URL",
              help="Redis of the frontier (default: the variable crawl.redis.url_env names, VOC_REDIS_URL, else "
                   "crawl.redis.url; a password belongs in the variable, not on a command line others can list).")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between looks for a new round.")
@pass_app
def crawl_worker_cmd(app: AppContext, redis_url: str | None, poll: float) -> None:
    """Crawl every round published on the frontier, each once (a crawl process per round)."""
    from crawlers.frontier import redact
    from crawlers.rounds import crawl_worker

    url = _url(app, redis_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    click.echo(f"crawl worker on {redact(url)} (prefix {app.settings.crawl.redis.prefix}); SIGTERM stops it")
    crawl_worker(app.settings, url, poll=poll, config_dir=app.settings.config_dir)


@worker.command("tag")
@click.option("--redis", "redis_url", metavar="URL", help="Redis of the item queue (as for `voc worker crawl`).")
@click.option("--idle-exit", type=float, default=None, help="Exit after this many seconds without an item.")
@pass_app
def tag_worker_cmd(app: AppContext, redis_url: str | None, idle_exit: float | None) -> None:
    """Classify and index queued items; each is acknowledged only once it is in the index."""
    from crawlers.frontier import redact
    from crawlers.itemqueue import run_tag_worker

    url = _url(app, redis_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    click.echo(f"tag worker on {redact(url)} → index {app.settings.index.url}; SIGTERM stops it")
    stats = run_tag_worker(app.settings, url, idle_exit=idle_exit)
    click.echo(f"tag worker done: {stats.indexed} items indexed in {stats.batches} batches, {stats.claimed} taken "
               f"over from other workers, {stats.dead} dead-lettered")


commands = [worker]
