"""`voc replies list|approve|send`: replies to the App Store reviews of fix-verified incidents.

Thin adapters over :mod:`alerts.replies`; nothing is sent without approval, and a review is answered once.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click

from app.cli import pass_app
from app.cli.alerts import open_alert_store
from app.context import AppContext

__all__ = ["commands"]


def _store(app: AppContext) -> Any:
    from alerts.store import SqliteAlertStore

    st = open_alert_store(app)
    if not isinstance(st, SqliteAlertStore):
        st.close()
        raise click.ClickException("replies need the SQLite alert store (index.url sqlite:///…)")
    return st


@click.group("replies")
def replies_group() -> None:
    """Replies to App Store reviewers once their problem's fix is verified: list, approve, send."""


@replies_group.command("list")
@click.option("--status", type=click.Choice(["draft", "approved", "sending", "sent", "failed"]))
@click.option("--incident", metavar="ID", help="Only the replies of this incident (an id prefix is enough).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def list_cmd(app: AppContext, status: str | None, incident: str | None, as_json: bool) -> None:
    """List reply drafts and what became of them (review, incident, status, body, the review's text)."""
    from alerts.replies import list_replies

    st = _store(app)
    try:
        rows = list_replies(st, status=status, incident=incident)
    finally:
        st.close()
    for r in rows:
        if as_json:
            click.echo(json.dumps(r, ensure_ascii=False))
            continue
        click.echo(f"{r['review']}  {r['status']:<8} {r['app_version'] or '-':<8} incident {r['incident']}")
        click.echo(f"    评论: {r['review_text'][:80]}")
        click.echo(f"    回复: {r['body'][:120]}" + (f"\n    error: {r['last_error']}" if r["last_error"] else ""))
    if not rows and not as_json:
        click.echo("No replies.")


@replies_group.command("approve")
@click.argument("reviews", nargs=-1)
@click.option("--incident", metavar="ID", help="Approve every draft of this incident.")
@click.option("--by", default="cli", show_default=True, help="Who approves.")
@pass_app
def approve_cmd(app: AppContext, reviews: tuple[str, ...], incident: str | None, by: str) -> None:
    """Approve drafts (review ids from `voc replies list`, or --incident ID); only approved replies are sent."""
    from alerts.replies import ReplyError, approve

    st = _store(app)
    try:
        n = approve(st, reviews=reviews, incident=incident, by=by, now=datetime.now(timezone.utc))
    except ReplyError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        st.close()
    click.echo(f"Approved {n} repl{'y' if n == 1 else 'ies'}; `voc replies send` sends them.")


@replies_group.command("send")
@pass_app
def send_cmd(app: AppContext) -> None:
    """Send approved replies through the App Store Connect API (each review once; stops at its rate limit)."""
    from alerts.replies import ReplyError, send_approved

    st = _store(app)
    try:
        report = send_approved(app.settings, st, now=datetime.now(timezone.utc))
    except ReplyError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        st.close()
    click.echo(f"Replies: {report.summary()}")
    for review, why in report.failed.items():
        click.echo(f"  failed   {review}: {why}")
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} repl(ies) refused — see `voc replies list --status failed`")


commands = [replies_group]
