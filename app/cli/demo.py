"""`voc demo`: the whole cycle offline — replay, crawl, classify, index, alert — then the web page."""

from __future__ import annotations

import click

from app.cli import pass_app
from app.context import AppContext


def _fmt_dropped(dropped: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items())) or "none"


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the cycle instead of serving the web page.")
@pass_app
def demo(app: AppContext, no_serve: bool) -> None:
    """Run one offline cycle on the fictional app 轻记 (replayed App Store and forum), then serve the page."""
    from app.demo.cycle import run_demo_cycle

    s = app.settings
    click.echo(f"VOC demo — index {s.index.url}, classifier {s.classifier.model}")
    click.echo("Replaying the App Store review feed and a GBK Discuz! forum on 127.0.0.1 …")
    report = run_demo_cycle(s)
    click.echo("\nCrawl (real Scrapy engine against the replay server):")
    for src in report.crawl.sources:
        line = (f"  {src.source:<20} pages {src.pages:>3}  new {src.new:>4}  updated {src.updated:>4}  "
                f"dropped {sum(src.dropped.values()):>3} ({_fmt_dropped(src.dropped)})")
        click.echo(line)
        if src.blocked:
            click.echo(f"  {'':<20} blocked: {src.blocked}")
        for err in src.errors[:3]:
            click.echo(f"  {'':<20} error: {err}")
    click.echo(f"\nTagged and indexed: {report.documents} documents for product qingji")
    ev = report.evaluation
    click.echo(f"\nAlerts: {len(ev.raised)} raised, {len(ev.updated)} updated, {len(ev.resolved)} resolved")
    for alert in [*ev.raised, *ev.updated]:
        click.echo(f"  [{alert.severity}] {alert.title}")
        click.echo(f"      {alert.summary}")
    for d in report.delivery.deliveries:
        status = "delivered" if d.ok else f"failed: {d.error}"
        click.echo(f"  → {d.subscriber} via {d.channel}: {status}")
    click.echo(f"  demo inbox {report.inbox_url} received {len(report.inbox_messages)} message(s)")
    click.echo('\nSearch it:  voc search "登录 sentiment:negative"')
    click.echo('            voc search "topic:login since:1d" --sort time')
    click.echo("            voc alerts list")
    if no_serve:
        return
    from app.cli.serve import serve_app

    click.echo(f"\nServing the web page on {s.web.base_url} (Ctrl-C to stop)")
    serve_app(app.settings, host=s.web.host, port=s.web.port)


commands = [demo]
