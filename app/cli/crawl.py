"""`voc crawl` and `voc status`: run spiders and show each source's health."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from app.cli import pass_app
from app.cli._progress import Interrupted, with_progress
from app.context import AppContext
from app.progress import Reporter

__all__ = ["commands"]


@click.command("crawl")
@click.argument("sources", nargs=-1)
@click.option("--product", "-p", help="Crawl only this product's targets (default: every product).")
@click.option("--since", help="Override the cursors: collect items newer than 7d, 24h, 30m or a date (2026-11-01).")
@click.option("--timeout", type=float, default=None, help="Stop the crawl after this many seconds.")
@click.option("--from-quarantine", is_flag=True,
              help="Crawl nothing: re-parse the saved bodies of pages that yielded nothing (crawl.quarantine_dir) with "
                   "the current parsers, into the index — after a parser fix.")
@click.option("--frontier", metavar="URL",
              help="Crawl on a shared Redis frontier (redis://host:6379/0): `voc worker crawl` processes join the round, "
                   "items are tagged by --tag-workers of our own plus any `voc worker tag`.")
@click.option("--tag-workers", type=click.IntRange(0, 64), default=1, show_default=True,
              help="With --frontier: tag workers this command starts for the round (0: rely on `voc worker tag`).")
@pass_app
@with_progress
def crawl(app: AppContext, sources: tuple[str, ...], product: str | None, since: str | None, timeout: float | None,
          from_quarantine: bool, frontier: str | None, tag_workers: int, progress: Reporter) -> None:
    """Crawl SOURCES (default: every enabled source with targets) through the Scrapy engine.

    Prints per source: pages, new / updated / dropped items with reasons, errors, pages that yielded nothing
    (their bodies kept for --from-quarantine), and a block with its fix. Exits 1 when a source failed or was blocked.
    Ctrl-C stops every source cleanly (cursors kept) and says which finished.
    """
    from app.crawl_watch import describe_interruption, watch_crawl
    from crawlers.errors import CrawlError
    from crawlers.runner import frontier_url, start_crawl

    if not frontier and not from_quarantine:  # crawl.redis.url (or its variable) puts every crawl on the frontier
        try:
            frontier = frontier_url(app.settings) or None
        except CrawlError as exc:
            raise click.UsageError(str(exc)) from exc
        if frontier:
            tag_workers = app.settings.crawl.redis.tag_workers
    if frontier:
        _crawl_on_frontier(app, frontier, sources, product, since, timeout, from_quarantine, tag_workers)
        return
    try:
        job = start_crawl(app.settings, sources=list(sources) or None, product=product, since=since,
                          from_quarantine=from_quarantine)
    except CrawlError as exc:
        raise click.UsageError(f"{exc} — see `voc crawl --help` and configs/sources.yaml") from exc
    report, interrupted = watch_crawl(job, progress, timeout=timeout or app.settings.crawl.run_timeout or None)
    if interrupted:
        click.echo(report.format())
        raise Interrupted(describe_interruption(report))
    if not report.runs and not report.not_run:
        click.echo("nothing in quarantine to re-parse" if from_quarantine
                   else "nothing to crawl: no source has targets in configs/sources.yaml")
        return
    click.echo(report.format())
    _check_health(app)
    if not report.ok and report.runs:
        raise click.ClickException("some sources did not finish cleanly — see above (and the log) for the reason and fix")


def _crawl_on_frontier(app: AppContext, url: str, sources: tuple[str, ...], product: str | None, since: str | None,
                       timeout: float | None, from_quarantine: bool, tag_workers: int) -> None:
    from crawlers.errors import CrawlError
    from crawlers.rounds import run_round
    from crawlers.runner import check_redis_url

    if from_quarantine:
        raise click.UsageError("--from-quarantine re-parses local files: run it without --frontier")
    try:
        check_redis_url(url, "--frontier")
    except CrawlError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        report = run_round(app.settings, url, sources=list(sources) or None, product=product, since=since,
                           tag_workers=tag_workers, timeout=timeout, config_dir=app.settings.config_dir)
    except CrawlError as exc:
        raise click.UsageError(f"{exc} — see `voc crawl --help` and configs/sources.yaml") from exc
    click.echo(report.format())
    _check_health(app)
    if not report.ok:
        raise click.ClickException("the round did not finish cleanly — see above (and the logs) for the reason")


def _check_health(app: AppContext) -> None:
    """Crawl health operations alerts (app/health.py) when ``crawl.health.notify`` names a subscriber: a problem never
    changes the command's outcome, it is reported."""
    if not app.settings.crawl.health.notify:
        return
    from app.health import check

    try:
        report = check(app.settings, now=datetime.now(UTC))
    except ValueError as exc:
        click.echo(f"crawl health not checked: {exc}", err=True)
        return
    if report.opened or report.resolved or report.failed:
        click.echo(report.summary())


def _ago(dt: datetime | None, now: datetime) -> str:
    if dt is None:
        return "never"
    secs = int((now - dt).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{max(secs, 0)}s ago"


@click.command("status")
@click.option("--days", type=int, default=7, show_default=True, help="Days of items-per-day history.")
@click.option("--check-health", is_flag=True,
              help="Also open / resolve and send crawl health alerts (crawl.health in voc.yaml) now.")
@pass_app
def status(app: AppContext, days: int, check_health: bool) -> None:
    """Show each source's last run, last success, new items per day and block state (with its fix), pages that
    yielded nothing (with what to do), runs that died, and the sources `voc crawl` would run that never have."""
    if check_health:
        _check_health(app)
    from crawlers.runner import failure_lines, select_sources
    from crawlers.state import CrawlState

    path = app.settings.resolve(app.settings.crawl.state_path)
    if not path.exists():
        click.echo(f"no crawl has run yet (state: {path}) — run `voc crawl`")
        return
    now = datetime.now(UTC)
    with CrawlState(path) as state:
        health = state.source_health(days=days, now=now)
    if not health:
        click.echo("no crawl has run yet — run `voc crawl`")
        return
    recorded = {h.source.split(":", 1)[0] for h in health}  # forum:<name> records are forum's
    for name in select_sources(app.settings, None, None)[0]:
        if name not in recorded:  # would run with `voc crawl`, but never has
            click.echo(f"{name:<9} never run — `voc crawl {name}` (or wait for its schedule)")
    for h in health:
        run = h.last_run
        state_word = "running" if h.running else ("died" if h.dead else run.status)
        per_day = " ".join(str(n) for _, n in h.items_per_day)
        click.echo(f"{h.source:<9} {state_word:<8} last run {_ago(run.started_at, now)}, last success "
                   f"{_ago(h.last_success, now)}; new items per day (last {days}d): {per_day}")
        click.echo(f"          last run: pages {run.pages}, new {run.new}, updated {run.updated}, errors {run.errors}"
                   + (f", dropped {', '.join(f'{k} {v}' for k, v in sorted(run.dropped.items()))}" if run.dropped else ""))
        if h.dead:
            click.echo(f"          the run's process ({h.dead}) is gone without recording an end (killed, or the disk "
                       f"was full?); last error: {_last_error(app, run) or 'none in its log'} — run `voc crawl "
                       f"{h.source.split(':', 1)[0]}` again")
        elif run.status == "failed" and not run.failures and run.error_messages:
            click.echo(f"          last error: {run.error_messages[-1]}")
        for line in failure_lines(run):
            click.echo(f"          {line}")
        for warning in run.warnings:
            click.echo(f"          {warning}")
        if h.blocked:
            click.echo(f"          {h.source} blocked: {h.blocked[0]} — {h.blocked[1]}")


def _last_error(app: AppContext, run) -> str:
    """The last error in the crawl log of ``run`` (``data/logs/crawl-<run id>.log`` beside the state file)."""
    from crawlers.runner import last_error

    log = app.settings.resolve(app.settings.crawl.state_path).parent / "logs" / f"crawl-{run.run_id}.log"
    return last_error(log)


commands = [crawl, status]
