"""`voc serve` (HTTP API + web page) and `voc schedule` (crawls, alerts and digests on their timers)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import datetime, timezone

import click

from app.cli import pass_app
from app.context import AppContext


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: web.host in voc.yaml, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: web.port in voc.yaml, 8080).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@pass_app
def serve(app: AppContext, host: str | None, port: int | None, log_level: str) -> None:
    """Serve the HTTP API (/api, docs at /docs) and the web page (/) with uvicorn.

    Tokens come from the env vars named by web.admin_tokens_env / web.read_tokens_env; with none set, only
    loopback clients get in (web.allow_anonymous_loopback). Requests naming a Host other than a loopback name,
    base_url's host or web.allowed_hosts get 400; proxy headers are believed only from web.trusted_proxies."""
    import uvicorn

    from app.api import create_app

    web = app.settings.web
    host = host or web.host
    port = web.port if port is None else port
    api = create_app(app.settings)
    auth = api.state.auth
    if not auth.tokens_configured:
        if web.allow_anonymous_loopback:
            click.echo(f"No API tokens configured ({web.admin_tokens_env}/{web.read_tokens_env}): only loopback "
                       "clients are let in, as admin.", err=True)
        else:
            click.echo(f"Warning: no API tokens configured ({web.admin_tokens_env}/{web.read_tokens_env}) and "
                       "anonymous loopback access is off: every request will get 401.", err=True)
    if host in ("0.0.0.0", "::", "") and not web.allowed_hosts:
        click.echo(f"Listening on every interface, but only loopback names and {web.base_url}'s host are "
                   "answered: name the server's public host in web.allowed_hosts.", err=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    click.echo(f"VOC web page: http://{shown}:{port}/   API docs: http://{shown}:{port}/docs", err=True)
    try:
        # Proxy headers are read by the app itself, from web.trusted_proxies only (app/api/_guard.py);
        # uvicorn's own reading of them (from 127.0.0.1 by default) is turned off.
        uvicorn.run(api, host=host, port=port, log_level=log_level, server_header=False, proxy_headers=False)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc} — choose another --port") from exc


@click.command("schedule")
@click.option("--list", "list_jobs", is_flag=True, help="Show the jobs and their next run times, then exit.")
@click.option("--history", "history", type=int, default=None, metavar="N",
              help="Show the newest N runs of the run history, then exit.")
@click.option("--run", "run_job", default=None, metavar="JOB",
              help="Run one job now (e.g. crawl:appstore, alerts, digest:day), wait for it, then exit.")
@click.option("--json", "as_json", is_flag=True, help="With --list/--history/--run: print JSON.")
@pass_app
def schedule(app: AppContext, list_jobs: bool, history: int | None, run_job: str | None, as_json: bool) -> None:
    """Run crawls on the cron expressions in sources.yaml (sources.<name>.schedule), evaluate and deliver
    alerts after each crawl and on web.schedule.alerts, send digests on web.schedule.digest_day/week.

    Never runs two crawls of the same source at once; keeps a run history (schedule.db next to the crawl
    state). Stops cleanly on SIGTERM/SIGINT: starts nothing new and waits for running jobs."""
    from app.scheduler import RunHistory, Scheduler, history_path

    def now() -> datetime:
        return datetime.now(timezone.utc)

    if history is not None:
        hist = RunHistory(history_path(app.settings))
        try:
            rows = [r.as_dict() for r in hist.recent(history)]
        finally:
            hist.close()
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo("No runs yet.")
        for r in rows:
            why = r["detail"].get("reason") or r["detail"].get("error") or ""
            click.echo(f"{r['started_at']}  {r['job']:<18} {r['status']:<8} {why}")
        return

    try:
        scheduler = Scheduler(app.settings, clock=now)
    except ValueError as exc:
        raise click.ClickException(f"{exc} — fix the cron expression") from exc
    try:
        if list_jobs:
            rows = [{"job": j.name, "cron": j.cron, "next_run": scheduler.next_runs()[j.name].isoformat()}
                    for j in scheduler.jobs]
            if as_json:
                click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            else:
                click.echo(f"Cron time zone: {scheduler.tz}")
                for r in rows:
                    click.echo(f"{r['job']:<18} {r['cron']:<16} next {r['next_run']}")
            return
        if run_job:
            try:
                record = scheduler.run_now(run_job)
            except KeyError as exc:
                raise click.ClickException(f"{exc.args[0]} — see `voc schedule --list`") from exc
            scheduler.drain()
            result = scheduler.history.recent(1, job=run_job)[0].as_dict() if record.id else record.as_dict()
            click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else
                       f"{result['job']}: {result['status']} {json.dumps(result['detail'], ensure_ascii=False)[:500]}")
            if result["status"] == "failed":
                raise click.ClickException(f"{run_job} failed — see the detail above")
            return

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            if stop.is_set():
                raise SystemExit(1)  # second signal: do not wait any longer
            click.echo(f"Received {signal.Signals(signum).name}: finishing running jobs, then exiting.", err=True)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        for j in scheduler.jobs:
            click.echo(f"{j.name:<18} {j.cron:<16} next {scheduler.next_runs()[j.name].isoformat()}", err=True)
        scheduler.run_forever(stop)
        click.echo("Scheduler stopped.", err=True)
    finally:
        scheduler.close()


commands = [serve, schedule]
