"""`voc classify`, `voc train`, `voc eval`, `voc label`: thin adapters over the classifier package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.cli import pass_app
from app.cli._progress import Interrupted, with_progress
from app.progress import Reporter
from app.context import AppContext

if TYPE_CHECKING:
    from classifier import Classifier
    from index import FeedbackIndex


def _classifier(app: AppContext, topics_file: str | None) -> Classifier:
    from classifier import ClassifierError, load_classifier
    from configs.topics import load_topics_file

    topics = load_topics_file(topics_file) if topics_file else None
    try:
        return load_classifier(app.settings, topics=topics) if topics else app.classifier
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("classify")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A .csv or .jsonl file of texts to tag.")
@click.option("--text-col", default="text", show_default=True, help="The column (or JSON field) holding the text.")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write JSON Lines: each input row plus sentiment, sentiment_score, intent, topics, risk.")
@click.option("--topics", "topics_file", type=click.Path(dir_okay=False, exists=True),
              help="Use another taxonomy file (same format as configs/topics.yaml).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run: keep the rows already in --output.")
@pass_app
@with_progress
def classify(app: AppContext, input_path: Path, text_col: str, output_path: Path, topics_file: str | None,
             resume: bool, progress: Reporter) -> None:
    """Tag any CSV/JSONL file (exported tickets, survey answers); bad rows are reported, not fatal.

    Ctrl-C stops after the current batch with complete rows in --output; --resume goes on from there."""
    from classifier import ClassifierError
    from classifier.files import classify_file

    clf = _classifier(app, topics_file)
    try:
        with progress.task("classify", unit="rows") as task:
            report = classify_file(clf, input_path, output_path, text_col=text_col, resume=resume, progress=task,
                                   batch_size=max(256, app.settings.classifier.batch_size))
    except ClassifierError as exc:
        raise click.ClickException(f"{exc}") from exc
    except KeyboardInterrupt:
        raise Interrupted(f"{output_path} holds complete rows only — run the same command with --resume "
                          "to tag the rest") from None
    for bad in report.bad[:20]:
        click.echo(f"skipped line {bad.line}: {bad.reason}", err=True)
    if len(report.bad) > 20:
        click.echo(f"... and {len(report.bad) - 20} more bad rows", err=True)
    click.echo(f"tagged {report.written} of {report.rows} rows with {clf.model_version} → {output_path}"
               + (f" ({len(report.bad)} bad rows skipped)" if report.bad else "")
               + (f" ({report.resumed} of them by the interrupted run)" if report.resumed else ""))


@click.command("train")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Training corpora folder (default: classifier.training_data, ../shared/data).")
@click.option("--output", "output_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Model directory to write (default: classifier.model, or classifier/models/voc-small).")
@click.option("--epochs", type=click.IntRange(1, 50), help="Passes over the data (default: 4).")
@click.option("--max-minutes", type=click.FloatRange(0.1, 600),
              help="Stop training after this long; evaluation and saving come after (default: 14).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", type=click.IntRange(1, 64), help="Torch threads for training (default: 1).")
@click.option("--holdout", "holdout", multiple=True,
              help="Domain left out of training; repeatable, the first is reported (default: 手机, absa_phone).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Another training setting, e.g. hidden_size=96 or checkpoint_minutes=5 (see TrainingConfig).")
@click.option("--resume", is_flag=True,
              help="Continue from the checkpoint an interrupted run left (same data and settings).")
@pass_app
@with_progress
def train_cmd(app: AppContext, data_dir: Path | None, output_dir: Path | None, epochs: int | None,
              max_minutes: float | None,
              seed: int, threads: int | None, holdout: tuple[str, ...], overrides: tuple[str, ...], resume: bool,
              progress: Reporter) -> None:
    """Train the default model from the corpora, templates, taxonomy examples and label corrections.

    A checkpoint is kept beside the output (every minute, and when Ctrl-C stops training); --resume goes on
    from it to the model an uninterrupted run makes."""
    from classifier import ClassifierError
    from classifier.corrections import open_store
    from classifier.train import TrainingConfig, train

    s = app.settings
    data = s.resolve(data_dir) if data_dir else s.resolve(s.classifier.training_data)
    if not data.is_dir():
        raise click.ClickException(f"training data folder {data} not found — pass --data DIR with the corpora "
                                   "(online_shopping_10_cats.csv, waimai_10k.csv, ...; see the model card)")
    model = s.classifier.model
    out = s.resolve(output_dir) if output_dir else s.resolve("classifier/models/voc-small" if model == "rules" else model)
    with open_store(s) as store:
        corrections = tuple(store.training_rows())
    extra: dict[str, Any] = {"holdout_domains": holdout} if holdout else {}
    if epochs is not None:
        extra["epochs"] = epochs
    if max_minutes is not None:
        extra["max_minutes"] = max_minutes
    if threads is not None:
        extra["threads"] = threads
    extra.update(_training_overrides(overrides))
    try:
        cfg = TrainingConfig(data_dir=data, output_dir=out, seed=seed,
                             corrections=corrections, **extra)
        steps = progress.lazy_task("train", unit="steps", limit=cfg.max_minutes * 60)
        try:
            result = train(cfg, s, log=progress.echo, resume=resume, progress=steps)
        finally:
            steps.close()  # type: ignore[attr-defined]
    except (ClassifierError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        from classifier._checkpoint import Checkpoint

        if Checkpoint(out, "").path.exists():
            raise Interrupted("training stopped; run the same command with --resume to continue from its "
                              "checkpoint") from None
        raise Interrupted("stopped before the first training step; nothing to resume") from None
    m = result.metrics
    click.echo(f"saved {result.path} in {result.seconds / 60:.1f} min ({len(corrections)} corrections used)")
    click.echo(f"held-out split: {json.dumps(m['validation'], ensure_ascii=False)}")
    click.echo(f"left-out domain: {json.dumps(m['left_out_domain'], ensure_ascii=False)}")
    if "app_feedback_eval" in m:
        click.echo(f"app feedback eval: {json.dumps(m['app_feedback_eval'], ensure_ascii=False)}")


def _training_overrides(values: tuple[str, ...]) -> dict[str, object]:
    """``--set KEY=VALUE`` → TrainingConfig keyword arguments, each converted to its setting's type."""
    import dataclasses

    from classifier.train import TrainingConfig

    fields = {f.name: f for f in dataclasses.fields(TrainingConfig)
              if f.name not in ("data_dir", "output_dir", "corrections", "seed", "holdout_domains")}
    out: dict[str, object] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE with KEY one of {', '.join(sorted(fields))}",
                                     param_hint="--set")
        default = fields[key].default
        try:
            if raw.strip().lower() == "none" and default is None:
                out[key] = None
            elif isinstance(default, bool):
                out[key] = raw.strip().lower() in ("1", "true", "yes")
            elif isinstance(default, int) or default is None:
                out[key] = int(raw)
            elif isinstance(default, float):
                out[key] = float(raw)
            else:
                out[key] = raw
        except ValueError:
            raise click.BadParameter(f"{item!r}: {key} takes a {type(default).__name__}", param_hint="--set") from None
    return out


def _parse_label_cols(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        head, _, col = v.partition("=")
        if head not in ("sentiment", "intent", "topics"):
            raise click.BadParameter(f"{head!r}: use sentiment, intent or topics (optionally HEAD=COLUMN)",
                                     param_hint="--label-col")
        out[head] = col or head
    return out


@click.command("eval")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A labelled .csv or .jsonl file.")
@click.option("--text-col", default="text", show_default=True)
@click.option("--label-col", "label_cols", multiple=True, required=True,
              help="HEAD or HEAD=COLUMN with gold labels; HEAD is sentiment, intent or topics. Repeatable.")
@click.option("--topics", "topics_file", type=click.Path(dir_okay=False, exists=True), help="Another taxonomy file.")
@pass_app
@with_progress
def eval_cmd(app: AppContext, input_path: Path, text_col: str, label_cols: tuple[str, ...],
             topics_file: str | None, progress: Reporter) -> None:
    """Metrics per head (accuracy and macro-F1; topics micro/macro F1) of the configured model on a labelled file."""
    from classifier import ClassifierError
    from classifier.evaluate import score_tags
    from classifier.files import read_rows

    cols = _parse_label_cols(label_cols)
    clf = _classifier(app, topics_file)
    rows, bad = [], 0
    try:
        for _line, row, _problem in read_rows(input_path, text_col):
            if row is None:
                bad += 1
                continue
            gold: dict[str, object] = {"text": row[text_col]}
            for head, col in cols.items():
                value = row.get(col)
                if head == "topics":
                    if isinstance(value, str):
                        value = [t for t in value.replace(",", " ").split() if t]
                    gold[head] = list(value) if isinstance(value, list) else None
                else:
                    gold[head] = str(value).strip() if value not in (None, "") else None
            rows.append(gold)
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from exc
    if not rows:
        raise click.ClickException(f"{input_path}: no usable rows")
    texts, predicted = [str(r["text"]) for r in rows], []
    step = max(256, app.settings.classifier.batch_size)
    try:
        with progress.task("eval", unit="rows", total=len(texts)) as task:
            for i in range(0, len(texts), step):
                predicted.extend(clf.predict(texts[i:i + step]))
                task(len(predicted))
    except KeyboardInterrupt:
        raise Interrupted(f"stopped after {len(predicted)} of {len(texts)} rows; nothing was written") from None
    metrics = score_tags(rows, predicted)
    click.echo(f"model: {clf.model_version}; rows: {len(rows)}" + (f" ({bad} bad rows skipped)" if bad else ""))
    for head in ("sentiment", "intent", "topics"):
        if head in metrics:
            click.echo(f"{head}: " + ", ".join(f"{k}={v}" for k, v in metrics[head].items()))


def _find_doc(index: FeedbackIndex, doc_id: str) -> dict[str, Any]:
    """The document with id ``doc_id``, or the one whose id starts with it (the short id `voc search` shows)."""
    from index import Filters

    doc = index.get(doc_id)
    if doc is not None:
        return doc
    found: list[str] = []
    if len(doc_id) >= 4:
        for d in index.scan(Filters(), fields=["id"], batch_size=5000):
            if str(d["id"]).startswith(doc_id):
                found.append(d["id"])
                if len(found) > 5:
                    break
    if len(found) == 1 and (doc := index.get(found[0])) is not None:
        return doc
    if len(found) > 1:
        raise click.ClickException(f"{doc_id!r} is the start of several ids ({', '.join(found[:5])}"
                                   f"{' …' if len(found) > 5 else ''}) — give more characters")
    raise click.ClickException(f"no document {doc_id!r} in the index — check the id (voc search shows each hit's "
                               "short id first)")


@click.command("label")
@click.argument("doc_id")
@click.argument("assignments", nargs=-1, required=True)
@pass_app
def label(app: AppContext, doc_id: str, assignments: tuple[str, ...]) -> None:
    """Correct a document's tags, e.g. `voc label ID sentiment=negative topics=login,payment` (`risk=` clears
    its risk flags).

    The correction is stored (classifier.labels_path) for the next `voc train`, applied to the indexed
    document at once, and kept when a crawl fetches the document again."""
    from classifier.corrections import CorrectionError, apply_labels, open_store, parse_assignments

    s = app.settings
    try:
        labels = parse_assignments(assignments, topic_ids=[t.id for t in s.topics.topics])
    except CorrectionError as exc:
        raise click.ClickException(f"{exc}") from exc
    doc = _find_doc(app.index, doc_id)
    doc_id = doc["id"]
    with open_store(s) as store:
        c = store.add(doc_id, text=doc.get("text") or "", **labels)
    app.index.upsert([apply_labels(doc, c.labels())])
    click.echo(f"corrected {doc_id}: " + ", ".join(f"{k}={','.join(v) if isinstance(v, list) else v}"
                                                  for k, v in c.labels().items()))


commands = [classify, train_cmd, eval_cmd, label]
