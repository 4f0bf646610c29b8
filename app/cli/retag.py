"""`voc retag`: tag every indexed document again (after `voc train` or a taxonomy change)."""

from __future__ import annotations

import click

from app.cli import pass_app
from app.cli._progress import Interrupted, with_progress
from app.context import AppContext
from app.progress import Reporter

__all__ = ["commands"]


@click.command("retag")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000), help="Documents per batch.")
@click.option("--resume", is_flag=True, help="Continue an interrupted retag after its last batch.")
@pass_app
@with_progress
def retag(app: AppContext, batch: int, resume: bool, progress: Reporter) -> None:
    """Tag every indexed document again with the configured model and topics; corrected labels are kept.

    Ctrl-C stops after the current batch; --resume continues from there."""
    from app.resume import resume_point, retag as run_retag
    from classifier import ClassifierError
    from classifier.corrections import open_store
    from index import IndexBackendError

    s = app.settings
    try:
        clf = app.classifier
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from exc
    point = resume_point(s, "retag", s.index.url, s.index.name)
    try:
        with open_store(s) as corrections, progress.task("retag", unit="docs") as task:
            report = run_retag(app.index, clf, point, corrections=corrections, resume=resume, batch=batch,
                               viral=s.classifier.viral_engagement, progress=task, say=progress.echo)
    except IndexBackendError as exc:
        raise click.ClickException(f"retag failed: {exc} — run it again with --resume") from exc
    except KeyboardInterrupt:
        raise Interrupted(f"{task.done} documents tagged; run `voc retag --resume` to tag the rest") from None
    click.echo(f"tagged {report.tagged} documents with {report.model_version}"
               + (f" ({report.resumed} by the interrupted run)" if report.resumed else "")
               + (f"; kept the corrected labels of {report.corrected}" if report.corrected else ""))


commands = [retag]
