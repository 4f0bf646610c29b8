"""Classifier throughput and accuracy against SnowNLP, in one run on 2 threads.

    .venv/bin/python bench/classify.py [--data ../shared/data] [--model classifier/models/voc-small]

Held-out data: the left-out domain of the shipped model (online_shopping_10_cats, category 手机 — never seen
in training), split into short (≤ 60 chars) and long (150–260 chars, ~200) reviews; without the corpora it
falls back to the hand-labelled app-feedback set (short texts only). Gold labels are binary, so accuracy is
negative-vs-positive for both (ours: the larger of the two probabilities; SnowNLP: sentiments ≥ 0.5).
Speed is texts/s of the full ``predict`` path (normalization, tokenization, model, keyword topics, risk) vs
``SnowNLP(text).sentiments``; prints ours/SnowNLP ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def held_out(data: Path, n: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    rows: list[tuple[str, str]] = []
    f = data / "online_shopping_10_cats.csv"
    if f.is_file():
        with f.open(encoding="utf-8-sig", newline="") as fh:
            for r in csv.DictReader(fh):
                if r["cat"] == "手机" and r["review"].strip():
                    rows.append((r["review"].replace("\ufeff", "").strip(), "positive" if r["label"] == "1" else "negative"))
        rnd = random.Random(seed)
        rnd.shuffle(rows)
        short = [r for r in rows if len(r[0]) <= 60][:n]
        long = [r for r in rows if 150 <= len(r[0]) <= 260][:n]
        return {"short": short, "long": long, "source": [("online_shopping_10_cats.csv, cat=手机 (left out of training)", "")]}
    from classifier.evaluate import load_eval_set

    app = [(r["text"], r["sentiment"]) for r in load_eval_set() if r["sentiment"] != "neutral"]
    return {"short": app, "long": [], "source": [("classifier/eval/app_feedback.jsonl (non-neutral)", "")]}


def timed(fn, texts: list[str], min_seconds: float) -> tuple[float, list]:
    out = fn(texts)  # warm-up, and the predictions used for accuracy
    n, start = 0, time.perf_counter()
    while True:
        fn(texts)
        n += len(texts)
        el = time.perf_counter() - start
        if el >= min_seconds:
            return n / el, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--model", default="classifier/models/voc-small")
    ap.add_argument("--n", type=int, default=400, help="texts per length")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum timing window per measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()

    import torch
    from snownlp import SnowNLP

    from classifier.model import load_model_classifier

    torch.set_num_threads(args.threads)
    sets = held_out(args.data, args.n, args.seed)
    ours = load_model_classifier(REPO / args.model, threads=args.threads, batch_size=args.batch_size)
    ours_q = load_model_classifier(REPO / args.model, threads=args.threads, batch_size=args.batch_size, quantize=True)

    def ours_binary(clf):
        from classifier.normalize import classification_text

        def run(texts: list[str]) -> list[str]:
            clf.predict(texts)  # the full path is what is timed
            p = clf.predict_proba([classification_text(t) for t in texts])["sentiment"]
            return ["positive" if p[i, 2] >= p[i, 0] else "negative" for i in range(len(texts))]
        return run

    def ours_predict(clf):
        return lambda texts: clf.predict(texts)

    def snow(texts: list[str]) -> list[str]:
        return ["positive" if SnowNLP(t).sentiments >= 0.5 else "negative" for t in texts]

    print(f"data: {sets['source'][0][0]}; threads={args.threads}; batch={args.batch_size}; model={ours.model_version}")
    results = {}
    for length in ("short", "long"):
        rows = sets[length]
        if not rows:
            continue
        texts, gold = [t for t, _ in rows], [g for _, g in rows]
        avg = sum(map(len, texts)) / len(texts)
        acc = {}
        speed = {}
        for name, clf in (("voc", ours), ("voc-int8", ours_q)):
            speed[name], _ = timed(ours_predict(clf), texts, args.seconds)
            preds = ours_binary(clf)(texts)
            acc[name] = sum(p == g for p, g in zip(preds, gold)) / len(gold)
            tags = clf.predict(texts)
            acc[name + "-3way"] = sum(t.sentiment == g for t, g in zip(tags, gold)) / len(gold)
        sub = texts[: max(50, len(texts) // 4)]
        speed["snownlp"], _ = timed(snow, sub, args.seconds)
        sp = snow(texts)
        acc["snownlp"] = sum(p == g for p, g in zip(sp, gold)) / len(gold)
        results[length] = {"n": len(texts), "avg_chars": round(avg, 1), "texts_per_s": {k: round(v, 1) for k, v in speed.items()},
                           "accuracy": {k: round(v, 4) for k, v in acc.items()}}
        print(f"\n[{length}] n={len(texts)} avg {avg:.0f} chars")
        for k, v in speed.items():
            print(f"  {k:10s} {v:10.1f} texts/s")
        for k, v in acc.items():
            print(f"  {k:16s} accuracy {v:.4f}")
        print(f"  speed ratio voc/snownlp      = {speed['voc'] / speed['snownlp']:.1f}x "
              f"(int8: {speed['voc-int8'] / speed['snownlp']:.1f}x; target >= 10x)")
        print(f"  accuracy gain voc - snownlp = {100 * (acc['voc'] - acc['snownlp']):+.1f} points "
              f"(3-way argmax: {100 * (acc['voc-3way'] - acc['snownlp']):+.1f})")
    print("\n" + json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
