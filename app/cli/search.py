"""`voc search`, `voc export`, `voc prune`, `voc reindex`: thin adapters over the index package."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from app.cli import pass_app
from app.cli._progress import Counted, Interrupted, with_progress
from app.progress import Reporter
from app.context import AppContext
from configs.times import format_utc, parse_duration

#: Terminal escape sequences (CSI, OSC, other ESC/C1 sequences) that crawled text might carry.
_ESCAPES = re.compile(r"(\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(\x1b\]|\x9d)[^\x07\x1b\x9c]*(\x07|\x1b\\|\x9c)?|\x1b[@-_]?")


def clean(text: str | None) -> str:
    """Crawled text made safe for a terminal: control and format characters (ESC, bidi overrides …) removed,
    line breaks and tabs turned into spaces."""
    if not text:
        return ""
    out = []
    for ch in _ESCAPES.sub("", text):
        if ch in "\n\r\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") and ch != "\u200d":
            continue
        else:
            out.append(ch)
    return "".join(out)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _query(app: AppContext, words: tuple[str, ...], **kw: Any) -> Any:
    from index import QueryError, parse_query

    try:
        topics = {t.id: t.name for t in app.settings.topics.topics}
        return parse_query(" ".join(words), now=_now(), topics=topics, **kw)
    except QueryError as exc:
        raise click.UsageError(f"bad query: {exc}") from exc


def _index(app: AppContext) -> Any:
    from index import IndexBackendError

    try:
        return app.index
    except IndexBackendError as exc:
        raise click.ClickException(f"cannot open the index: {exc} — check index.url in voc.yaml") from exc


#: Characters of a document id that `voc search` shows (10 hex digits: about one pair of documents sharing a
#: prefix in 1.5 million);
#: `voc label` accepts any unique prefix.
SHORT_ID = 10
#: `--facet` accepts the query language's field names too.
FACET_ALIASES = {"topic": "topics", "version": "app_version"}
_NOT_WORD = re.compile(r"[\W_]+")


def dup_key(doc: dict[str, Any]) -> str:
    """Hits with the same key are one message: the crawl's near-duplicate cluster, else the same words
    (punctuation, spaces and case ignored)."""
    if doc.get("dup_of"):
        return f"cluster:{doc['dup_of']}"
    return "text:" + _NOT_WORD.sub("", f"{doc.get('title') or ''}{doc.get('text') or ''}").lower()


def fold_duplicates(hits: list[Any], groups: int) -> list[list[Any]]:
    """The first ``groups`` distinct messages among ``hits``, each a list of its copies in hit order."""
    out: dict[str, list[Any]] = {}
    for hit in hits:
        key = dup_key(hit.doc)
        if key not in out and len(out) >= groups:
            continue
        out.setdefault(key, []).append(hit)
    return list(out.values())


def _render_hit(n: int, group: list[Any], *, zone: str, topic_names: dict[str, str]) -> str:
    from app.cli._show import local_time

    hit = group[0]
    d = hit.doc
    tags = [click.style(clean(str(d.get("id") or ""))[:SHORT_ID], fg="green"), clean(d.get("source")),
            local_time(d.get("created_at"), zone), clean(d.get("sentiment"))]
    if d.get("topics"):
        tags.append(",".join(clean(t) for t in d["topics"]))
    if d.get("app_version"):
        tags.append("v" + clean(str(d["app_version"])))
    if d.get("rating") is not None:
        tags.append("★" * int(d["rating"]))
    if d.get("risk"):
        tags.append(click.style("⚠ " + ",".join(clean(r) for r in d["risk"]), fg="red", bold=True))
    if len(group) > 1:
        tags.append(click.style(f"×{len(group)} same text", fg="magenta"))
    head = click.style(f"[{n}] ", fg="cyan") + " · ".join(t for t in tags if t)
    lines = [head]
    if d.get("title"):
        lines.append("    " + click.style(clean(d["title"]), bold=True))
    text = "".join(click.style(clean(seg), bold=True, fg="yellow") if matched else clean(seg)
                   for seg, matched in hit.highlight) or clean(d.get("text"))
    lines.append("    " + text)
    if d.get("url"):
        lines.append("    " + click.style(clean(d["url"]), dim=True))
    if len(group) > 1:
        others = " ".join(clean(str(h.doc.get("id") or ""))[:SHORT_ID] for h in group[1:6])
        lines.append("    " + click.style(f"also: {others}" + (" …" if len(group) > 6 else ""), dim=True))
    return "\n".join(lines)


@click.command("search")
@click.argument("query", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (hits, total, facets).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 10_000),
              help="Messages to show (copies of one text are folded into one, with their count).")
@click.option("--offset", default=0, type=click.IntRange(0), help="Skip this many hits.")
@click.option("--sort", type=click.Choice(["relevance", "time"]), default="relevance", show_default=True)
@click.option("--facet", "facets", multiple=True,
              help="Count hits per value of a field (repeatable): topic, source, sentiment, version, …")
@click.option("--sql", "show_sql", is_flag=True, help="Show the SQL (or Elasticsearch body) and exit.")
@pass_app
def search(app: AppContext, query: tuple[str, ...], as_json: bool, limit: int, offset: int, sort: str,
           facets: tuple[str, ...], show_sql: bool) -> None:
    """Search feedback: free words (all must match), "quoted phrases" and field:value filters.

    \b
    Example: voc search 闪退 登录 product:demo source:weibo,appstore sentiment:negative since:7d

    Fields (any of several values: a,b): product, source, sentiment, topic, intent, risk, platform,
    version, rating (1-5); since:/until: take 30m, 24h, 7d, 2w or a date (2026-11-01, a local day).
    Each hit shows its short id (for `voc label`), source, time (voc.yaml time_zone), sentiment, topics,
    version, stars and risk flags; copies of the same text are shown once with their count.
    Topic, sentiment and intent also take their Chinese names (topic:登录, sentiment:负面). A word also
    finds longer words it is part of (续费 finds 自动续费); -word excludes it (after --: voc search -- -广告 闪退).
    """
    from index import IndexBackendError, QueryError

    facets = tuple(FACET_ALIASES.get(f, f) for f in facets)
    fetch = limit if as_json or show_sql else min(10_000, limit * 4 + 20) if limit else 0
    try:
        q = _query(app, query, limit=fetch, offset=offset, sort=sort, facets=facets)
    except ValueError as exc:  # e.g. an unknown facet
        raise click.UsageError(str(exc)) from exc
    ix = _index(app)
    if show_sql:
        try:
            click.echo(ix.explain(q))
        except QueryError as exc:
            raise click.UsageError(f"bad query: {exc}") from exc
        return
    try:
        result = ix.search(q)
    except QueryError as exc:  # too many words, or stopped at the time limit
        raise click.UsageError(f"bad query: {exc}") from exc
    except IndexBackendError as exc:
        raise click.ClickException(f"search failed: {exc}") from exc
    if as_json:
        click.echo(json.dumps({
            "total": result.total,
            "hits": [{"doc": h.doc, "score": h.score, "highlight": [[s, m] for s, m in h.highlight]} for h in result.hits],
            "facets": {k: [[v, n] for v, n in vals] for k, vals in result.facets.items()},
            "facets_sampled": result.facets_sampled,
        }, ensure_ascii=False, default=str))
        return
    zone = app.settings.time_zone
    names = {t.id: t.name for t in app.settings.topics.topics}
    groups = fold_duplicates(result.hits, limit)
    for i, group in enumerate(groups, start=1):
        click.echo(_render_hit(i, group, zone=zone, topic_names=names))
    covered = sum(len(g) for g in groups)
    folded = covered - len(groups)
    sampled = f" (of the newest {result.facets_sampled} matches)" if result.facets_sampled else ""
    for field, values in result.facets.items():
        label = (lambda v: f"{clean(v)}({clean(names[v])})" if v in names else clean(v)) if field == "topics" else clean
        click.echo(f"{field}{sampled}: " + ", ".join(f"{label(v)} {n}" for v, n in values))
    if groups:
        click.echo(click.style(f"times in {zone}" + (f"; {folded} copies folded into their first hit" if folded else "")
                               + "; label a hit with `voc label ID sentiment=…`", dim=True))
    shown = f"{offset + 1}–{offset + covered} of " if groups else ""
    click.echo(f"{shown}{result.total} hits")


@click.command("export")
@click.argument("query", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), required=True,
              help="csv: UTF-8 with a byte-order mark (Excel reads Chinese correctly); xlsx: an Excel workbook; "
                   "jsonl: one JSON document per line, every field.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output).")
@click.option("--no-bom", is_flag=True, help="CSV without the UTF-8 byte-order mark (for tools that mind it).")
@pass_app
@with_progress
def export(app: AppContext, query: tuple[str, ...], fmt: str, output: str | None, no_bom: bool,
           progress: Reporter) -> None:
    """Export every document matching QUERY (same language as voc search) as CSV, XLSX or JSON lines.

    CSV and XLSX have one column per field (lists joined by ;); text a spreadsheet would run as a formula
    starts with an apostrophe, and raw_text's <br> line breaks are real line breaks."""
    from index import IndexBackendError
    from index.service import export as run_export

    q = _query(app, query)
    task = progress.task("export", unit="docs", total=_matches(_index(app), q))
    ix = Counted(_index(app), task)
    try:
        if output:
            with task, open(output, "wb") as fh:
                n = run_export(ix, q, fh, fmt=fmt, bom=not no_bom)
            click.echo(f"exported {n} documents to {output}", err=True)
        else:
            stdout = sys.stdout.buffer  # click.get_binary_stream is deprecated in click 8.5, gone in 9
            if fmt == "xlsx" and stdout.isatty():
                raise click.UsageError("an XLSX workbook is binary: write it to a file with --output FILE.xlsx")
            with task:
                n = run_export(ix, q, stdout, fmt=fmt, bom=not no_bom)
            stdout.flush()
            click.echo(f"exported {n} documents", err=True)
    except IndexBackendError as exc:
        raise click.ClickException(f"export failed: {exc}") from exc


def _matches(ix: Any, q: Any) -> int | None:
    """How many documents the query matches (the total an export's progress counts to)."""
    from index import IndexBackendError
    from index.query import split_terms

    try:
        if not split_terms(q.text) and not q.raw:
            return int(ix.count(q.filters))
        return int(ix.search(dataclasses.replace(q, limit=0, offset=0, facets=())).total)
    except (IndexBackendError, ValueError):
        return None


def _age(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}: for example 365d, 48h or 30m", param_hint="--older-than") from None


@click.command("prune")
@click.option("--older-than", "older_than", required=True, help="Age such as 365d, 48h, 52w or 30m (by created_at).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@pass_app
@with_progress
def prune(app: AppContext, older_than: str, dry_run: bool, progress: Reporter) -> None:
    """Delete feedback created more than --older-than ago."""
    from index import IndexBackendError
    from index.base import Filters
    from index.service import prune as run_prune

    cutoff = _now() - _age(older_than)
    try:
        with progress.task("prune", unit="docs", total=_index(app).count(Filters(until=cutoff))) as task:
            n = run_prune(Counted(_index(app), task, count="deletes"), cutoff, dry_run=dry_run)
    except IndexBackendError as exc:
        raise click.ClickException(f"prune failed: {exc}") from exc
    except KeyboardInterrupt:
        raise Interrupted(f"{task.done} documents deleted before the interruption; run it again to delete "
                          "the rest") from None
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {n} documents created before {format_utc(cutoff)}")


@click.command("reindex")
@click.option("--to", "to_url", required=True,
              help="Target index URL: sqlite:///path/other.db or http(s)://host:9200 (same name and credentials).")
@click.option("--name", "to_name", default=None,
              help="Elasticsearch alias of the target (default: index.name), e.g. to copy into a fresh one.")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--resume", is_flag=True, help="Continue an interrupted reindex to the same target after its last batch.")
@pass_app
@with_progress
def reindex(app: AppContext, to_url: str, to_name: str | None, batch: int, resume: bool, progress: Reporter) -> None:
    """Copy every document, and the alert state beside it, from the configured index to another
    (e.g. SQLite → Elasticsearch). Ids, tags and applied label corrections are kept; re-running is safe.

    Ctrl-C stops after the current batch; --resume continues from there."""
    from index import IndexBackendError, open_index
    from app.resume import reindex as run_reindex, resume_point

    s = app.settings
    same_name = to_name is None or to_name == s.index.name
    if (to_url == s.index.url and same_name) or (
            s.sqlite_path(to_url) is not None and s.sqlite_path(to_url) == s.sqlite_path()):
        raise click.UsageError("--to is the configured index itself; name another URL (or --name)")
    source = _index(app)
    try:
        target_settings = s.index if to_name is None or same_name else dataclasses.replace(s.index, name=to_name)
        target = open_index(target_settings, url=to_url, home=s.home, tokenizer=app.tokenizer, secrets=s.secrets)
    except (IndexBackendError, ValueError) as exc:
        raise click.ClickException(f"cannot open the target index {to_url}: {exc}") from exc
    point = resume_point(s, "reindex", s.index.url, s.index.name, to_url, to_name or s.index.name)
    try:
        with progress.task("reindex", unit="docs") as task:
            report, before = run_reindex(source, target, point, resume=resume, batch=batch, progress=task,
                                          say=progress.echo)
    except IndexBackendError as exc:
        raise click.ClickException(f"reindex failed: {exc} — re-running with --resume is safe (upserts are "
                                   "idempotent)") from exc
    except KeyboardInterrupt:
        raise Interrupted(f"{task.done} documents copied; run the same command with --resume to copy the "
                          "rest") from None
    finally:
        target.close()
    click.echo(f"copied {report.copied} documents to {to_url} ({report.new} new, {report.updated} updated)"
               + (f"; {before} more were copied by the interrupted run" if before else ""))
    alerts = _copy_alert_state(app, to_url, to_name or s.index.name)
    click.echo(f"copied {alerts} alerts with their history and deliveries; label corrections stay in "
               f"{s.classifier.labels_path} and apply to both indexes")


def _copy_alert_state(app: AppContext, to_url: str, to_name: str) -> int:
    """Alert records, events and outbox move with the documents (they live beside the index)."""
    from alerts.store import AlertStoreError, open_store, open_store_at

    try:
        source = open_store(app.settings)
        try:
            target = open_store_at(app.settings, to_url, to_name)
            try:
                return target.restore_state(source.export_state())
            finally:
                target.close()
        finally:
            source.close()
    except AlertStoreError as exc:
        raise click.ClickException(f"documents copied, but the alert state was not: {exc} — re-running is safe") from exc


commands = [search, export, prune, reindex]
