"""`voc alerts evaluate|deliver|list|show|ack|resolve|retry|backtest` and `voc digest`.

Thin adapters over the :mod:`alerts` package; domain errors become one-line messages with a hint.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from app.cli import pass_app
from app.cli._progress import with_progress
from app.context import AppContext
from app.progress import Reporter
from configs.times import format_utc, parse_utc

__all__ = ["commands"]


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    try:
        return parse_utc(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO date/time like 2026-11-24T06:00:00Z, got {value!r}") from None


_NOW = click.option("--now", "now_text", metavar="ISO", help="Evaluate as of this time (default: now, UTC).")


def open_alert_store(app: AppContext) -> Any:
    """The alert store of ``app``'s settings; a click error that says what to check when it cannot open."""
    from alerts import AlertStoreError, open_store

    try:
        return open_store(app.settings)
    except AlertStoreError as exc:
        raise click.ClickException(f"{exc} — check index.url in voc.yaml and that its folder is writable") from exc


@click.group("alerts")
def alerts_group() -> None:
    """Detect spikes, emerging terms, rating drops and high-risk posts; manage and deliver alerts."""


@alerts_group.command("evaluate")
@click.option("--rule", "rules", multiple=True, help="Only this rule (repeatable; runs it even if disabled).")
@click.option("--no-deliver", is_flag=True, help="Queue notifications without sending them.")
@_NOW
@pass_app
def evaluate_cmd(app: AppContext, rules: tuple[str, ...], no_deliver: bool, now_text: str | None) -> None:
    """Run the rules against the index, update alerts, then send what is due from the outbox."""
    import alerts

    now = _now(now_text)
    unknown = [r for r in rules if app.settings.alerts.rule(r) is None]
    if unknown:
        raise click.ClickException(f"unknown rule {unknown[0]!r} — see `voc alerts rules` or configs/alerts.yaml")
    store = open_alert_store(app)
    try:
        report = alerts.evaluate(app.settings, app.index, now=now, store=store, rules=rules or None)
        from app.cli._show import local_time, localize

        zone = app.settings.time_zone
        click.echo(f"Evaluated at {local_time(now, zone)} ({zone}): {report.summary()}")
        for label, recs in (("raised", report.raised), ("updated", report.updated), ("resolved", report.resolved)):
            for rec in recs:
                click.echo(f"  {label:<8} {rec.fingerprint}  [{rec.severity}] {rec.title}")
                click.echo(f"           {localize(rec.summary, zone)}")
        for name, error in report.errors.items():
            click.echo(f"  error    rule {name}: {error}", err=True)
        if not no_deliver:
            dr = alerts.deliver(app.settings, now=now, store=store)
            click.echo(f"Delivered: {dr.summary()}")
            for d in dr.failed:
                click.echo(f"  failed   {d.subscriber}/{d.channel} {d.id}: {d.error}")
    finally:
        store.close()
    if report.errors:  # the other rules ran and their alerts were delivered; the exit status still says so
        raise click.ClickException(f"{len(report.errors)} rule(s) failed: {', '.join(report.errors)} — the other "
                                   "rules ran; see the errors above and the log for the tracebacks")


@alerts_group.command("deliver")
@_NOW
@pass_app
def deliver_cmd(app: AppContext, now_text: str | None) -> None:
    """Send every due notification from the outbox (retries with backoff)."""
    import alerts

    report = alerts.deliver(app.settings, now=_now(now_text))
    click.echo(f"Delivered: {report.summary()}")
    for d in report.failed:
        click.echo(f"  failed   {d.subscriber}/{d.channel} {d.id}: {d.error}")


@alerts_group.command("rules")
@pass_app
def rules_cmd(app: AppContext) -> None:
    """List the configured rules and channels (secrets never shown)."""
    from alerts._evaluate import channel_ready
    from configs.alerts import format_duration

    for r in app.settings.alerts.rules:
        click.echo(f"{r.name:<28} {r.kind:<15} {'enabled' if r.enabled else 'disabled':<9} "
                   f"window {format_duration(r.window)}")
    for c in app.settings.alerts.channels:
        ready = "ready" if channel_ready(app.settings, c.name) else f"not configured (set {c.url_env})"
        click.echo(f"channel {c.name:<20} {c.kind:<9} {ready}")


@alerts_group.command("list")
@click.option("--state", type=click.Choice(["open", "resolved", "fixed", "fix_verified", "fix_ineffective"]),
              help="Only alerts in this state.")
@click.option("--rule", help="Only this rule.")
@click.option("--product", help="Only this product.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def list_cmd(app: AppContext, state: str | None, rule: str | None, product: str | None, limit: int, as_json: bool) -> None:
    """List incidents, most recently changed first (--json: one object per line: id, state, title, severity,
    product, opened_at, topics, terms, versions, sources, count, baseline, query, …)."""
    from alerts.view import incident_view

    store = open_alert_store(app)
    try:
        recs = store.list(state=state, rule=rule, product=product, limit=limit)
    finally:
        store.close()
    for rec in recs:
        if as_json:
            click.echo(json.dumps(incident_view(rec), ensure_ascii=False))
            continue
        from app.cli._show import localize

        ack = " acked" if rec.acked_at else ""
        click.echo(f"{rec.fingerprint}  {rec.state:<8}{ack:<6} [{rec.severity}] v{rec.version} {rec.title}")
        for i, line in enumerate(_why(rec)):
            click.echo(f"    {localize(line, app.settings.time_zone) if i == 0 else line}")
    if not recs and not as_json:
        click.echo("No alerts.")


def _why(rec: Any) -> list[str]:
    """The figures: the lead's summary, then each joined signal in words."""
    lines = [rec.summary]
    lines += [f"{e.get('text', '')}" for e in rec.detail.get("evidence", ())]
    return lines


def _get(store: Any, fingerprint: str) -> Any:
    rec = store.get(fingerprint)
    if rec is None:
        raise click.ClickException(f"no single alert matches {fingerprint!r} — see `voc alerts list`")
    return rec


@alerts_group.command("show")
@click.argument("fingerprint")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def show_cmd(app: AppContext, fingerprint: str, as_json: bool) -> None:
    """Show one incident (a unique id prefix is enough): why, its posts, history, deliveries (--json: the
    `list --json` object plus posts and history)."""
    from alerts.message import search_url
    from alerts.view import incident_detail

    store = open_alert_store(app)
    try:
        rec = _get(store, fingerprint)
        events = store.events(rec.fingerprint)
        deliveries = [d for d in store.outbox() if d.fingerprint == rec.fingerprint]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(incident_detail(rec, events, index=app.index, deliveries=deliveries), ensure_ascii=False))
        return
    click.echo(f"{rec.title}")
    click.echo(f"  id {rec.fingerprint}  lead rule {rec.rule} ({rec.kind})  product {rec.product}  key {rec.key or '-'}")
    click.echo(f"  state {rec.state}  severity {rec.severity}  version {rec.version}"
               + (f"  acknowledged by {rec.acked_by}" if rec.acked_at else ""))
    from app.cli._show import local_time, localize

    click.echo(f"  why: {localize(rec.summary, app.settings.time_zone)}")
    for line in _why(rec)[1:]:
        click.echo(f"    {line}")
    d = rec.detail
    for label, key in (("topics", "topic_names"), ("terms", "terms")):
        if d.get(key):
            click.echo(f"  {label}: {'、'.join(d[key])}")
    if d.get("versions"):
        click.echo("  versions: " + ", ".join(v if isinstance(v, str) else str(v[0]) for v in d["versions"]))
    if d.get("sources"):
        click.echo("  sources: " + ", ".join(f"{s} {n}" for s, n in d["sources"]))
    for i, s in enumerate(d.get("samples", [])[:5], 1):
        more = f" ×{s['similar']}" if (s.get("similar") or 1) > 1 else ""
        click.echo(f"  {i}. {s.get('text', '')[:100]}{more} ({s.get('source', '')}) {s.get('url', '')}")
    if d.get("query") is not None:
        click.echo(f"  search: {search_url(app.settings.web.base_url, d['query'])}")
    fix = d.get("fix")
    if isinstance(fix, dict):
        click.echo(f"  fix: {fix.get('version') or '-'} from {local_time(str(fix.get('date')), app.settings.time_zone)}"
                   f"  verdict {fix.get('verdict')}" + (f"  ticket {fix['ticket']}" if fix.get("ticket") else ""))
        if fix.get("text"):
            click.echo(f"    {fix['text']}")
    for t in d.get("tickets") or []:
        click.echo(f"  ticket: {t.get('tracker')} {t.get('key') or ''} {t.get('url') or ''}")
    for e in events:
        click.echo(f"  v{e['version']} {e['event']:<9} {local_time(e['at'], app.settings.time_zone)} "
                   f"({app.settings.time_zone})")
    for dl in deliveries:
        click.echo(f"  → v{dl.version} {dl.subscriber}/{dl.channel}: {dl.status} ({dl.attempts} attempts)"
                   + (f" {dl.last_error}" if dl.last_error else ""))


@alerts_group.command("ack")
@click.argument("fingerprint")
@click.option("--by", default="cli", show_default=True, help="Who acknowledges.")
@pass_app
def ack_cmd(app: AppContext, fingerprint: str, by: str) -> None:
    """Acknowledge an alert: its updates stop notifying until it resolves."""
    import alerts

    try:
        rec = alerts.ack(app.settings, fingerprint, by=by, now=_now(None))
    except alerts.AlertNotFoundError:
        raise click.ClickException(f"no single alert matches {fingerprint!r} — see `voc alerts list`") from None
    click.echo(f"Acknowledged {rec.fingerprint}: {rec.title}")


@alerts_group.command("fix")
@click.argument("fingerprint")
@click.option("--version", "fix_version", default="", help="The app version that fixes it (app stores: posts on "
              "this version or later are compared with earlier versions).")
@click.option("--date", "date_text", metavar="DATE", help="When the fix shipped (YYYY-MM-DD, 00:00 Asia/Shanghai, or "
              "ISO time; default: now).")
@click.option("--note", default="", help="What was fixed.")
@click.option("--ticket", default="", metavar="URL", help="The ticket of the fix.")
@click.option("--by", default="cli", show_default=True, help="Who marks it fixed.")
@_NOW
@pass_app
def fix_cmd(app: AppContext, fingerprint: str, fix_version: str, date_text: str | None, note: str, ticket: str,
            by: str, now_text: str | None) -> None:
    """Mark an incident fixed; `voc alerts evaluate` verifies it in the data once fixes.observe has passed
    (state fix_verified or fix_ineffective, with the rates before and after; subscribers are told once)."""
    import alerts
    from alerts.fixes import mark_fixed, parse_fix_date

    try:
        date = parse_fix_date(date_text) if date_text else None
        rec = mark_fixed(app.settings, fingerprint, version=fix_version, date=date, note=note, ticket=ticket, by=by,
                         now=_now(now_text))
    except alerts.AlertNotFoundError:
        raise click.ClickException(f"no single alert matches {fingerprint!r} — see `voc alerts list`") from None
    except alerts.AlertsError as exc:
        raise click.ClickException(str(exc)) from None
    fix = rec.detail["fix"]
    click.echo(f"Marked fixed {rec.fingerprint}: {rec.title}\n  verified by `voc alerts evaluate` from {fix['due_at']}")


@alerts_group.command("ticket")
@click.argument("fingerprint")
@click.option("--to", "to", required=True, metavar="TRACKER",
              help="A tracker of alerts.yaml's trackers: (shipped: jira, github, webhook).")
@pass_app
def ticket_cmd(app: AppContext, fingerprint: str, to: str) -> None:
    """File an incident to an issue tracker (Jira, GitHub issues, a webhook); the ticket URL is stored and
    shown. Once per incident and tracker: filing again prints the stored ticket."""
    import alerts
    from alerts.tickets import file_ticket

    try:
        ticket = file_ticket(app.settings, fingerprint, to=to, now=_now(None))
    except alerts.AlertNotFoundError:
        raise click.ClickException(f"no single alert matches {fingerprint!r} — see `voc alerts list`") from None
    except alerts.AlertsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Ticket {ticket.get('key') or ''} on {ticket['tracker']}: {ticket.get('url') or '(no URL returned)'}")


@alerts_group.command("resolve")
@click.argument("fingerprint")
@pass_app
def resolve_cmd(app: AppContext, fingerprint: str) -> None:
    """Resolve an alert by hand; subscribers are told once."""
    import alerts

    try:
        rec = alerts.resolve(app.settings, fingerprint, now=_now(None))
    except alerts.AlertNotFoundError:
        raise click.ClickException(f"no single alert matches {fingerprint!r} — see `voc alerts list`") from None
    click.echo(f"Resolved {rec.fingerprint}: {rec.title}")


@alerts_group.command("retry")
@pass_app
def retry_cmd(app: AppContext) -> None:
    """Re-queue deliveries that were given up (after fixing a channel's URL or secret)."""
    store = open_alert_store(app)
    try:
        n = store.retry_failed(now=_now(None))
    finally:
        store.close()
    click.echo(f"Re-queued {n} deliveries; run `voc alerts deliver` to send them.")


@alerts_group.command("backtest")
@click.argument("rule_name", metavar="RULE")
@click.option("--from", "from_text", metavar="DATE", help="Replay the index from this date/time.")
@click.option("--to", "to_text", metavar="DATE", help="… to this date/time (default: now).")
@click.option("--series", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A CSV of timestamp,value rows instead of the index (volume_spike rules).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per firing.")
@click.option("--all", "show_all", is_flag=True, help="Every firing evaluation, not only each episode's first.")
@pass_app
@with_progress
def backtest_cmd(app: AppContext, rule_name: str, from_text: str | None, to_text: str | None, series: Path | None,
                 as_json: bool, show_all: bool, progress: Reporter) -> None:
    """Replay history through RULE and print when and why it would have fired (nothing is stored or sent)."""
    import alerts

    rule = app.settings.alerts.rule(rule_name)
    if rule is None:
        names = ", ".join(r.name for r in app.settings.alerts.rules)
        raise click.ClickException(f"unknown rule {rule_name!r} — configured rules: {names}")
    if series is None and not from_text:
        raise click.UsageError("give --from DATE [--to DATE] to replay the index, or --series counts.csv")
    start = _now(from_text) if from_text else None
    end = _now(to_text) if to_text else None
    rows: list[dict[str, Any]] = []
    try:
        if series is not None:
            data = alerts.read_series_csv(series.read_text(encoding="utf-8"))
            for m, new in alerts.backtest(rule, data, start=start, end=end):
                rows.append({"timestamp": m.at, "product": "", "key": m.key, "new": new, "severity": m.severity,
                             "figures": m.figures, "title": ""})
        else:
            assert start is not None
            with progress.task("backtest", unit="steps") as task:
                found = alerts.backtest_index(rule, app.settings, app.index, start=start, end=end or _now(None),
                                              progress=task)
            for sig, new in found:
                rows.append({"timestamp": sig.match.at, "product": sig.product, "key": sig.match.key, "new": new,
                             "severity": sig.match.severity, "figures": sig.match.figures, "title": sig.title})
    except alerts.AlertsError as exc:
        raise click.ClickException(f"{exc}") from None
    shown = [r for r in rows if show_all or r["new"]]
    for r in shown:
        f = r["figures"]
        if as_json:
            click.echo(json.dumps({"timestamp": format_utc(r["timestamp"]), "rule": rule.name,
                                   "product": r["product"], "key": r["key"], "new": r["new"], "severity": r["severity"],
                                   **f.as_dict()}, ensure_ascii=False))
        else:
            what = " ".join(x for x in (r["product"], r["key"]) if x) or "series"
            click.echo(f"{format_utc(r['timestamp'])}  {what}  [{r['severity']}]  {f.describe()}")
    if not as_json:
        click.echo(f"{sum(1 for r in rows if r['new'])} alert(s) would have fired ({len(rows)} firing evaluations).")


@click.command("digest")
@click.option("--period", type=click.Choice(["day", "week"]), default="day", show_default=True)
@click.option("--print", "print_only", is_flag=True, help="Print the Markdown instead of sending it.")
@_NOW
@pass_app
def digest_cmd(app: AppContext, period: str, print_only: bool, now_text: str | None) -> None:
    """Top issues, change against the previous period, new topics and sentiment mix → subscribers."""
    import alerts
    from alerts.digest import render_digest

    now = _now(now_text)
    digest = alerts.build_digest(app.settings, app.index, period=period, now=now)
    if print_only:
        click.echo(render_digest(digest).body_markdown)
        return
    from alerts._evaluate import channel_ready
    from app.cli._show import channel_target

    s = app.settings
    channels = {c.name: c for c in s.alerts.channels}
    targets = [(sub.name, channels[c]) for sub in s.alerts.subscribers if sub.digest for c in sub.channels
               if c in channels and channel_ready(s, c)]
    if not targets:
        click.echo(f"{digest.title}: not sent — no subscriber in {s.config_dir / 'alerts.yaml'} has `digest: true` "
                   "with a ready channel (use --print to read it here)")
        return
    queued = alerts.send_digest(s, digest, now=now)
    report = alerts.deliver(s, now=now)
    click.echo(f"{digest.title}: queued {queued} deliveries; {report.summary()}")
    if not queued:
        click.echo("  already queued for this period before; each subscriber gets it once")
    failed = {(d.subscriber, d.channel): d for d in report.failed}
    sent = {(d.subscriber, d.channel) for d in report.sent}
    for subscriber, ch in targets:
        d = failed.get((subscriber, ch.name))
        state = f"failed: {d.error}" if d else "sent" if (subscriber, ch.name) in sent else "not sent in this run"
        click.echo(f"  → {subscriber}/{ch.name} ({ch.kind}) {channel_target(s, ch)}: {state}")


commands = [alerts_group, digest_cmd]
