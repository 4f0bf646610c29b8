"""`voc demo`: the whole cycle offline — replay, crawl, classify, index, alert — then the web page."""

from __future__ import annotations

from typing import Any

import click

from app.cli import pass_app
from app.context import AppContext


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the cycle instead of serving the web page.")
@click.option("--frontier", metavar="URL",
              help="Crawl on a shared Redis frontier (redis://host:6379/0) with a tag worker, instead of in one process: "
                   "the same documents come out.")
@pass_app
def demo(app: AppContext, no_serve: bool, frontier: str | None) -> None:
    """Run one offline cycle on the fictional app 轻记 (replayed App Store feed and GBK forum), then serve the page."""
    from app.cli._show import localize
    from app.demo.cycle import run_demo_cycle

    s = app.settings
    click.echo(f"VOC demo — index {s.index.url}, classifier {s.classifier.model}")
    click.echo("Replaying the App Store review feed and a GBK Discuz! forum of 轻记 on 127.0.0.1 …\n")
    if frontier:
        from crawlers.errors import CrawlError
        from crawlers.frontier import redact
        from crawlers.runner import check_redis_url

        try:
            check_redis_url(frontier, "--frontier")
        except CrawlError as exc:
            raise click.UsageError(str(exc)) from None

        click.echo(f"Crawling on the Redis frontier {redact(frontier)}: a crawl worker, a tag worker, one round …\n")
    report = run_demo_cycle(s, frontier=frontier)
    click.echo(report.crawl.format())
    click.echo("  (one forum thread sits behind the forum's login wall on purpose: it is reported, the rest goes on)")
    click.echo(f"\nTagged and indexed: {report.documents} documents for product qingji "
               f"({report.negative} negative, model {report.model_version})")
    ev = report.evaluation
    click.echo(f"\nAlerts: {ev.summary()}")
    for alert in [*ev.raised, *ev.updated]:
        click.echo(f"  [{alert.severity}] {alert.title}")
        for e in alert.detail.get("evidence", ()) or [{"text": localize(alert.summary, s.time_zone)}]:
            click.echo(f"      {e['text']}")
    for (subscriber, channel), (ok, failed) in sorted(report.delivery_counts().items()):
        click.echo(f"  → {subscriber} via {channel}: {ok} delivered" + (f", {failed} failed (will retry)" if failed else ""))
    click.echo(f"  demo inbox {report.inbox_url} received {len(report.inbox_messages)} message(s)")
    if report.crawl.returncode == 0:
        _fix_day(s, report, frontier)
    click.echo('\nSearch it:  voc search "登录 sentiment:negative"')
    click.echo('            voc search "topic:login since:1d" --sort time')
    click.echo("            voc alerts list")
    click.echo(f"(times in {s.time_zone}; the web page opens on an overview of the product: voc serve)")
    if report.crawl.returncode != 0 or any(r.status == "failed" for r in report.crawl.runs):
        raise click.ClickException("the demo crawl failed — see the lines above and the crawl log")
    if no_serve:
        return
    from app.cli.serve import serve

    click.get_current_context().invoke(serve, host=None, port=None, log_level="warning")


def _fix_day(s: Any, first: Any, frontier: str | None) -> None:
    """The story continues: 3.2.1 fixes login; a day later the fix is checked and replies are drafted."""
    from app.demo.cycle import run_demo_cycle

    click.echo("\nThe next day: 3.2.1 ships an hour later with the login fix (`voc alerts fix ID --version 3.2.1`) …")
    day = run_demo_cycle(s, now=first.evaluation.now, fix_day=True, frontier=frontier)
    fixed = day.fixed
    if fixed is None:
        click.echo("  (no login incident to follow)")
        return
    fix = fixed.detail.get("fix") or {}
    click.echo(f"  incident {fixed.fingerprint}: {fixed.state} — {fix.get('text', '')}")
    click.echo(f"  demo inbox received {len(day.inbox_messages)} message(s)")
    click.echo(f"  {len(day.drafts)} reply draft(s) for the 3.2.0 login reviews, none sent: voc replies list · "
               "voc replies approve --incident ID · voc replies send")


commands = [demo]
