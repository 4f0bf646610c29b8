"""Evaluation: per-head metrics (accuracy, macro-F1; topics micro/macro F1) and the model card text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifier._base import SENTIMENTS, Tags

__all__ = ["EVAL_SET", "accuracy", "macro_f1", "multilabel_f1", "score_tags", "evaluate_heads",
           "evaluate_eval_set", "load_eval_set", "card_text"]

#: The hand-written, hand-labelled app-feedback evaluation set shipped with the code.
EVAL_SET = Path(__file__).resolve().parent / "eval" / "app_feedback.jsonl"


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else 0.0


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None) -> float:
    labels = list(labels) if labels is not None else sorted(set(gold))
    f1s = []
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s) if f1s else 0.0


def multilabel_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    labels = sorted({t for g in gold for t in g})
    tp = fp = fn = 0
    per = []
    for lab in labels:
        a = sum(lab in g and lab in p for g, p in zip(gold, pred))
        b = sum(lab not in g and lab in p for g, p in zip(gold, pred))
        c = sum(lab in g and lab not in p for g, p in zip(gold, pred))
        tp, fp, fn = tp + a, fp + b, fn + c
        per.append(2 * a / (2 * a + b + c) if a else 0.0)
    extra_fp = sum(len(set(p) - set(labels)) for p in pred)
    fp += extra_fp
    return {"micro_f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0,
            "macro_f1": round(sum(per) / len(per), 4) if per else 0.0,
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0}


def score_tags(rows: Sequence[dict[str, Any]], tags: Sequence[Tags]) -> dict[str, Any]:
    """Metrics for each head that ``rows`` carry gold labels for (``sentiment``, ``intent``, ``topics``)."""
    out: dict[str, Any] = {"n": len(rows)}
    for head in ("sentiment", "intent"):
        pairs = [(r[head], getattr(t, head)) for r, t in zip(rows, tags) if r.get(head)]
        if pairs:
            g, p = [a for a, _ in pairs], [b for _, b in pairs]
            out[head] = {"n": len(g), "accuracy": round(accuracy(g, p), 4), "macro_f1": round(macro_f1(g, p), 4)}
    pairs_t = [(list(r["topics"]), list(t.topics)) for r, t in zip(rows, tags) if r.get("topics") is not None]
    if pairs_t:
        out["topics"] = {"n": len(pairs_t), **multilabel_f1([a for a, _ in pairs_t], [b for _, b in pairs_t])}
    return out


def evaluate_heads(clf: Any, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sentiment metrics on corpus rows (texts already normalized): 3-way accuracy and macro-F1 over the
    labels present, plus ``binary_accuracy`` (negative vs positive only, for two-class corpora)."""
    if not rows:
        return {"n": 0}
    texts = [r["text"] for r in rows]
    probs = clf.predict_proba(texts)["sentiment"]
    gold = [r["sentiment"] for r in rows]
    pred = [SENTIMENTS[int(i)] for i in probs.argmax(-1)]
    neg, pos = SENTIMENTS.index("negative"), SENTIMENTS.index("positive")
    binary = [(g, "positive" if probs[i, pos] >= probs[i, neg] else "negative")
              for i, g in enumerate(gold) if g != "neutral"]
    return {"n": len(rows), "accuracy": round(accuracy(gold, pred), 4),
            "macro_f1": round(macro_f1(gold, pred, sorted(set(gold))), 4),
            "binary_accuracy": round(accuracy([a for a, _ in binary], [b for _, b in binary]), 4) if binary else None,
            "predicted_neutral": round(pred.count("neutral") / len(pred), 4)}


def load_eval_set(path: Path = EVAL_SET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate_eval_set(clf: Any, path: Path = EVAL_SET) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    rows = load_eval_set(path)
    return score_tags(rows, clf.predict([r["text"] for r in rows]))


def _fmt(m: dict[str, Any] | None) -> str:
    return json.dumps(m, ensure_ascii=False) if m else "—"


def _ngram_sentence(config: dict[str, Any]) -> str:
    if not config.get("ngram_buckets"):
        return "."
    return f""", plus a character
n-gram sentiment model (hashed 1–3-grams of the same token ids, {config['ngram_buckets']:,} buckets × 3 labels =
{config['ngram_buckets'] * 3 + 3:,} of the parameters: a logistic regression, {config['ngram_epochs']} epochs on the same
training rows after the encoder) whose sentiment
probabilities are averaged with the encoder's, equal weights (`classifier.ngram`)."""


def _parts_text(parts: dict[str, Any] | None) -> str:
    if not parts:
        return ""
    lines = ["Each part alone (the shipped sentiment is their average; `VocModel.sentiment_from`):"]
    for name, m in parts.items():
        lines.append(f"- {name}: held-out split {_fmt(m.get('validation'))}; left-out domain "
                     f"{_fmt(m.get('left_out_domain'))}; app feedback {_fmt(m.get('app_feedback_sentiment'))}")
    return "\n".join(lines) + "\n\n"


def card_text(*, name: str, config: dict[str, Any], sizes: dict[str, int], metrics: dict[str, Any], seconds: float,
              params: int, vocab: int) -> str:
    """The model card written next to the weights (data, sizes, measured metrics, reproduce command)."""
    v, lo = metrics.get("validation", {}), metrics.get("left_out_domain", {})
    app = metrics.get("app_feedback_eval") or {}
    return f"""# {name}

A small BERT-style, character-level Chinese encoder ({config['num_layers']} layers, hidden {config['hidden_size']},
{config['num_heads']} heads, {params:,} parameters in all, vocabulary {vocab} characters) with three heads: sentiment
(negative / neutral / positive), intent (bug, feature_request, question, service_complaint, praise, other) and
topics (multi-label, the ids of `configs/topics.yaml` at training time){_ngram_sentence(config)}
Trained from scratch on {config['threads']} CPU thread(s) in {seconds / 60:.1f} minutes ({metrics.get('steps')} encoder
steps{', stopped by the time budget' if metrics.get('stopped_early') else ''}).
Weights: `model.safetensors`; labels, normalization settings (`voc_normalization`) and library versions
(`voc_versions`) in `config.json`.

## Reproduce

```
voc train --data ../shared/data --output classifier/models/{name} --seed {config['seed']} --epochs {config['epochs']} --max-minutes {config['max_minutes']:g} --threads {config['threads']}
```

## Data

Sentiment is learned from labelled corpora (shared/data; provenance in its README): online_shopping_10_cats
(binary), waimai_10k (binary), chinese_absa clauses (binary), SMP2020-EWECT / CLUE emotion / COVID-19 Weibo
emotion (emotions mapped: joy/like → positive, anger/sadness/fear/disgust → negative, 无情绪 → neutral;
surprise dropped), BDCI 2018 car comments (all-aspects-neutral → neutral; agreeing signs → positive/negative;
mixed dropped). Texts are normalized (`classifier.normalize`), deduplicated on the normalized text, and texts
with conflicting labels are dropped.

Neutral, intent and topics have no labelled data in our domain; they are learned by weak supervision:
- neutral: the Weibo 无情绪 posts and neutral car-forum comments, plus app-feedback templates (questions,
  feature requests, plain statements);
- intent: a freshly trained model tags intent with the shipped text-only intent layer
  (`classifier/intent_model.py`: logistic regression over character n-grams, the cue-phrase rules of
  `classifier/intent.py` and the model's sentiment, fitted on the hand-labelled intent set) — `voc_intent_mode:
  rules`. An intent head is trained too — on {config['template_rows']} app-feedback template sentences
  labelled by construction (weight 1.0) plus the rule labels of every corpus text (weight 0.3) — but alone it
  does not beat the rules (`voc_intent_mode: model`). `python -m classifier.intent_fit --model DIR` then refits
  the head on the labelled intent set together with a layer of the model's own (`voc_intent_mode: layer`);
- topics: taxonomy keyword matches on every training text plus the taxonomy's example sentences. At inference,
  the *current* taxonomy tags (keywords, and resemblance to each topic's examples: `classifier.topics`), so a
  new topic works at once; the topic head is trained but not used for tagging (it put `crash` on login
  complaints; issue 17).

At most {config['max_rows_per_domain']} rows are drawn per corpus domain (this caps the Weibo emotion posts; every
product-review category is smaller). Label corrections (`voc label`, the web UI): {config.get('corrections', 0)} used, each repeated
{config.get('correction_weight', 1)}× and overriding the corpus label of the same text. Sizes (rows): {_fmt(sizes)}. Held out: a random {config['val_fraction']:.0%} validation split, and the whole
domain `{config['holdout_domains'][0]}` (also excluded: {', '.join(config['holdout_domains'][1:]) or 'nothing else'}) as
the left-out domain.

## Measured metrics

Sentiment, held-out split (3-way argmax; binary = negative vs positive on two-class rows):
{_fmt(v)}

Sentiment, left-out domain `{config['holdout_domains'][0]}` (never seen in training; binary gold labels):
{_fmt(lo)}

{_parts_text(metrics.get('parts'))}App feedback evaluation set — `classifier/eval/app_feedback.jsonl`, {app.get('n', 0)} sentences written and
labelled by hand by the VOC team for this purpose (not crawled; the same team wrote the templates and the
taxonomy keywords, so treat the intent/topic figures as optimistic). Labelling guide: sentiment is the writer's
attitude (a plain question or request is neutral); the `feature_request` topic goes on every feature request;
other topics name what the text is about, not every word it contains:
- sentiment: {_fmt(app.get('sentiment'))}
- intent (shipped: rules given the model's sentiment): {_fmt(app.get('intent'))}
- intent, the model's intent head instead (`voc_intent_mode: model` in config.json): {_fmt(app.get('intent_head'))}
- topics: {_fmt(app.get('topics'))}

## Limits

Trained on product reviews and Weibo posts, not app-store text; sarcasm, mixed reviews and very long texts
(truncated at {config['max_length']} characters) are weak spots. Risk flags are rules (`classifier.risk`), not
this model.
"""
