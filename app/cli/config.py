"""`voc check-config`: validate every config file, exactly as every other command loads them."""

from __future__ import annotations

import click

from app.cli import pass_app
from app.context import AppContext


@click.command("check-config")
@pass_app
def check_config(app: AppContext) -> None:
    """Validate voc.yaml, sources.yaml, topics.yaml and alerts.yaml (cron expressions, time zone, required
    files, the model folder); exit 2 naming the file and key on error."""
    from configs.settings import check_model_path

    s = app.settings
    check_model_path(s)
    click.echo(f"OK: {s.config_dir}")
    click.echo(f"  index: {s.index.url}")
    click.echo(f"  classifier: {s.classifier.model}")
    click.echo(f"  time zone: {s.time_zone}")
    click.echo(f"  products: {', '.join(p.id for p in s.sources.products) or '(none)'}")
    click.echo(f"  topics: {len(s.topics.topics)}; rules: {len(s.alerts.rules)}; subscribers: {len(s.alerts.subscribers)}")


commands = [check_config]
