"""Intent on the labelled app-feedback intent set (``classifier/eval/intent.jsonl``; provenance and labelling
guide in ``classifier/eval/README.md``), per class, on its ``test`` part (``--split dev`` for the part the
rules were written from, ``--split train`` for the part labelled afterwards; the learned layers are fitted on
both, so only ``test`` is held out).

    .venv/bin/python bench/intent.py [--model classifier/models/voc-small] [--split test]

Prints accuracy, macro-F1 and per-class precision / recall / F1 of the shipped classifier's intent (for the
shipped model: its own intent layer, :mod:`classifier.intent_model`), then, in the same run on the same
sentences and sentiments, the macro-F1 of the text-only layer (what a sentiment-only checkpoint or the rules
stand-in gets) and of the rules alone (:func:`classifier.intent.rule_decision`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SET = REPO / "classifier" / "eval" / "intent.jsonl"


def per_class(gold: list[str], pred: list[str], labels: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for lab in labels:
        tp = sum(g == p == lab for g, p in zip(gold, pred))
        fp = sum(p == lab != g for g, p in zip(gold, pred))
        fn = sum(g == lab != p for g, p in zip(gold, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        out[lab] = {"n": tp + fn, "precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "classifier" / "models" / "voc-small")
    ap.add_argument("--split", default="test", choices=("test", "dev", "train", "all"))
    ap.add_argument("--errors", action="store_true", help="print the misclassified sentences (dev only)")
    args = ap.parse_args(argv)
    from classifier._base import INTENTS
    from classifier.intent import intent_of, rule_decision
    from classifier.loading import load_model_classifier
    from classifier.normalize import classification_text

    rows = [json.loads(line) for line in SET.open(encoding="utf-8")]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    clf = load_model_classifier(args.model, threads=2, quantize=True)
    tags = clf.predict([r["text"] for r in rows])
    pred = [t.intent for t in tags]
    gold = [r["intent"] for r in rows]
    labels = list(INTENTS)
    pc = per_class(gold, pred, labels)
    macro = sum(v["f1"] for v in pc.values()) / len(pc)
    acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
    print(f"intent, {args.split} part of {SET.relative_to(REPO)}: n={len(rows)} accuracy {acc:.3f} macro-F1 {macro:.3f}")
    print(f"{'class':18} {'n':>4} {'prec':>6} {'recall':>6} {'f1':>6}")
    for lab, v in pc.items():
        print(f"{lab:18} {v['n']:>4} {v['precision']:6.3f} {v['recall']:6.3f} {v['f1']:6.3f}")
    texts = [classification_text(r["text"]) for r in rows]
    for name, fn in (("text-only layer", intent_of), ("rules alone", rule_decision)):
        other = [fn(t, tag.sentiment) for t, tag in zip(texts, tags)]
        f1 = sum(v["f1"] for v in per_class(gold, other, labels).values()) / len(labels)
        acc_o = sum(g == p for g, p in zip(gold, other)) / len(gold)
        print(f"  same sentences, {name}: accuracy {acc_o:.3f} macro-F1 {f1:.3f}")
    confusions = Counter((g, p) for g, p in zip(gold, pred) if g != p)
    print("most frequent confusions (gold → predicted):", ", ".join(f"{g}→{p} {n}" for (g, p), n in confusions.most_common(6)))
    if args.errors:
        if args.split == "test":
            print("--errors shows dev sentences only (the test part stays unread)", file=sys.stderr)
            return 2
        for r, p in zip(rows, pred):
            if p != r["intent"]:
                print(f"  {r['intent']:>17} ← {p:17} {r['text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
