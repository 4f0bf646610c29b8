"""Leave-one-corpus-out sentiment protocol (issue 17): train without a corpus, test on it, for every
sentiment-labelled corpus of shared/data (each online_shopping category its own corpus), in one run.

    .venv/bin/python bench/loco.py --data ../shared/data [--max-train 3000] [--max-test 1500] [--no-snownlp]

Columns, all on the same held-out rows of each fold (data and deduplication: :mod:`classifier.protocol`):

* ``ngram``   — our character n-gram sentiment model (:mod:`classifier.ngram`, the shipped model's second
  part) retrained on the fold's training rows: honest on every corpus;
* ``ours``    — what ships: the shipped encoder's sentiment averaged with the fold's n-gram model. The encoder
  is NOT retrained per fold (16 CPU-minutes each; see the model card), so on the corpora it was trained on
  (marked ``seen``) this column tested on training data and is left out of the honest mean;
* ``prior``   — ``ours`` with class priors re-estimated by EM on the held-out texts (labels hidden);
* ``adapt``   — ``ours`` adapted to the held-out corpus without its labels (:mod:`classifier.adapt`): class
  priors re-estimated by EM on its texts, then the n-gram model retrained with its confident pseudo-labels;
* ``tfidf``   — the peer: char 1–3-gram TF-IDF (hashed, 2^20 features, sublinear tf, IDF from the fold's
  training rows) + logistic regression, trained on the same rows;
* ``enc+tfidf`` — the shipped encoder averaged with the peer's model instead of our n-gram model: what an
  n-gram part as strong as the peer would give (same caveat as ``ours`` on ``seen`` corpora);
* ``snownlp`` — SnowNLP 0.12 (``sentiments >= 0.5``), no training.

Scores: ``bin`` = accuracy on the held-out rows labelled negative or positive (argmax of those two
probabilities); ``f1`` = 3-way macro-F1 (argmax over negative/neutral/positive) on corpora with neutral rows.
Mean and worst are over corpora. Training rows are capped per corpus and test rows per corpus (seeded
samples), so a fold trains in about a minute on one CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LABELS = ("negative", "neutral", "positive")
#: Corpora the shipped encoder (voc-small, see its model card) was trained on, fully or in part.
SEEN_BY_ENCODER = {f"shopping:{c}" for c in ("书籍", "平板", "水果", "洗发水", "热水器", "蒙牛", "衣服", "计算机")} | {
    "waimai_10k", "smp2020_usual", "smp2020_virus", "clue_emotion2020", "covid19_weibo_emotion",
    "bdci2018_car_aspect", "chinese_absa",
    "nlpcc2014_weibo_emotion",  # many of its posts are inside covid19_weibo_emotion (data README)
}


def corpora_or_none(data: Path, prog: str):
    """The corpora under ``data``, or None once ``prog: <what is missing and how to fetch it>`` is on stderr."""
    from classifier.protocol import DataMissing, load_corpora

    try:
        return load_corpora(data)
    except DataMissing as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def metrics(gold: list[str], probs: list[list[float]]) -> dict[str, float | None]:
    """Binary accuracy on two-class gold rows; 3-way macro-F1 when the gold has neutral."""
    from classifier.evaluate import macro_f1

    two = [(g, p) for g, p in zip(gold, probs) if g != "neutral"]
    binary = sum((p[2] >= p[0]) == (g == "positive") for g, p in two) / len(two) if two else None
    f1 = None
    if "neutral" in gold:
        pred = [LABELS[max(range(3), key=p.__getitem__)] for p in probs]
        f1 = macro_f1(gold, pred, list(LABELS))
    return {"bin": binary, "f1": f1}


def snownlp_probs(texts: list[str]) -> list[list[float]]:
    from snownlp import SnowNLP

    out = []
    for t in texts:
        try:
            s = SnowNLP(t).sentiments
        except Exception:  # noqa: BLE001 — SnowNLP fails on a few odd strings; count them as undecided
            s = 0.5
        out.append([1 - s, 0.0, s])
    return out


def tfidf_peer(train_x, train_y: list[str], test_x) -> list[list[float]]:
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    tf = TfidfTransformer(sublinear_tf=True).fit(train_x)
    lr = LogisticRegression(solver="saga", C=4.0, max_iter=30, tol=1e-3, random_state=0).fit(tf.transform(train_x), train_y)
    p = lr.predict_proba(tf.transform(test_x))
    cols = [list(lr.classes_).index(lab) if lab in lr.classes_ else None for lab in LABELS]
    return [[float(row[c]) if c is not None else 0.0 for c in cols] for row in p]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="shared/data folder")
    ap.add_argument("--model", type=Path, default=REPO / "classifier" / "models" / "voc-small")
    ap.add_argument("--corpora", default="", help="comma-separated subset of held-out corpora (default: all)")
    ap.add_argument("--max-train", type=int, default=3000, help="training rows per corpus at most")
    ap.add_argument("--max-test", type=int, default=1500, help="test rows per held-out corpus at most")
    ap.add_argument("--ngram-epochs", type=int, default=5)
    ap.add_argument("--no-snownlp", action="store_true")
    ap.add_argument("--no-adapt", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the per-corpus figures here")
    ap.add_argument("--merge", type=Path, nargs="+", help="only print the table of earlier --json outputs (runs "
                                                          "split by --corpora), in corpus order")
    args = ap.parse_args(argv)
    if args.merge:
        rows = [r for f in args.merge for r in json.loads(f.read_text(encoding="utf-8"))]
        from classifier.protocol import CORPUS_NAMES

        rows.sort(key=lambda r: CORPUS_NAMES.index(r["corpus"]))
        print(_header())
        for r in rows:
            print(_line(r))
        _summary(rows)
        return 0

    import torch

    from classifier.adapt import adapt_probs, em_priors, ngram_probs, reweight
    from classifier.loading import load_model_classifier
    from classifier.ngram import fit_ngram
    from classifier.protocol import CORPUS_NAMES, fold_rows

    torch.set_num_threads(1)
    corpora = corpora_or_none(args.data, "bench/loco.py")
    if corpora is None:
        return 2
    held = [c for c in args.corpora.split(",") if c] or list(CORPUS_NAMES)
    unknown = sorted(set(held) - set(CORPUS_NAMES))
    if unknown:
        print(f"bench/loco.py: unknown corpora {unknown}; known: {', '.join(CORPUS_NAMES)}", file=sys.stderr)
        return 2
    t0 = time.time()
    clf = load_model_classifier(args.model, threads=1, quantize=True)
    clf.model.sentiment_from = "encoder"
    runner = clf._runner
    from sklearn.feature_extraction.text import HashingVectorizer

    hv = HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=2 ** 20, alternate_sign=False, norm=None)
    lab_id = {lab: i for i, lab in enumerate(LABELS)}
    rows_out = []
    print(_header(), flush=True)
    for name in held:
        train, test = fold_rows(corpora, name, max_train_per_corpus=args.max_train, max_test=args.max_test)
        texts = [t for t, _, _ in train]
        test_texts = [t for t, _ in test]
        gold = [g for _, g in test]
        ids = runner.encode(texts)
        ngram = fit_ngram(ids, [lab_id[lab] for _, lab, _ in train], num_labels=3, buckets=65521,
                          epochs=args.ngram_epochs, seed=0)
        test_ids = runner.encode(test_texts)
        p_ng = ngram_probs(ngram, test_ids)
        p_enc = clf.predict_proba(test_texts)["sentiment"].tolist()
        p_ours = [[(a + b) / 2 for a, b in zip(e, g)] for e, g in zip(p_enc, p_ng)]
        prior = [sum(1 for _, lab, _ in train if lab == L) / len(train) for L in LABELS]
        result = {"corpus": name, "n": len(test), "seen": name in SEEN_BY_ENCODER,
                  "ours": metrics(gold, p_ours), "ngram": metrics(gold, p_ng)}
        if not args.no_adapt:
            result["prior"] = metrics(gold, reweight(p_ours, prior, em_priors(p_ours, prior)))
            p_adapt = adapt_probs(p_enc, p_ng, train_ids=ids, train_labels=[lab_id[lab] for _, lab, _ in train],
                                  target_ids=test_ids, train_prior=prior, epochs=args.ngram_epochs)
            result["adapt"] = metrics(gold, p_adapt)
        x_all = hv.transform(texts + test_texts)
        p_tfidf = tfidf_peer(x_all[: len(texts)], [lab for _, lab, _ in train], x_all[len(texts):])
        result["tfidf"] = metrics(gold, p_tfidf)
        # what an n-gram part as strong as the peer would give: the encoder averaged with the peer's model
        result["enc+tfidf"] = metrics(gold, [[(a + b) / 2 for a, b in zip(e, t)] for e, t in zip(p_enc, p_tfidf)])
        if not args.no_snownlp:
            result["snownlp"] = metrics(gold, snownlp_probs(test_texts))
        rows_out.append(result)
        print(_line(result), flush=True)
    _summary(rows_out)
    print(f"({time.time() - t0:.0f} s; --max-train {args.max_train} per corpus, --max-test {args.max_test})")
    if args.json:
        args.json.write_text(json.dumps(rows_out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def _header() -> str:
    return (f"{'held-out corpus':26} {'n':>5} {'seen':>4} | {'ours':>11} {'prior':>11} {'adapt':>11} {'ngram':>11} "
            f"{'tfidf':>11} {'enc+tfidf':>11} {'snownlp':>7}   (bin / 3-way f1)")


def _cell(m: dict | None) -> str:
    if not m:
        return f"{'—':>11}"
    b = f"{m['bin']:.3f}" if m["bin"] is not None else "  —  "
    f = f"{m['f1']:.3f}" if m["f1"] is not None else "  —  "
    return f"{b}/{f}"


def _line(r: dict) -> str:
    sn = r.get("snownlp")
    return (f"{r['corpus']:26} {r['n']:>5} {'yes' if r['seen'] else 'no':>4} | {_cell(r['ours'])} {_cell(r.get('prior'))} {_cell(r.get('adapt'))} "
            f"{_cell(r['ngram'])} {_cell(r['tfidf'])} {_cell(r.get('enc+tfidf'))} {sn['bin'] if sn else float('nan'):7.3f}")


def _summary(rows: list[dict]) -> None:
    def agg(col: str, key: str, subset: list[dict]) -> str:
        vals = [r[col][key] for r in subset if r.get(col) and r[col][key] is not None]
        return f"mean {sum(vals) / len(vals):.3f} worst {min(vals):.3f} (n={len(vals)})" if vals else "—"

    unseen = [r for r in rows if not r["seen"]]
    print("\nsummary (bin = binary accuracy, f1 = 3-way macro-F1):")
    for col in ("ours", "prior", "adapt", "ngram", "tfidf", "enc+tfidf", "snownlp"):
        print(f"  {col:8} all corpora: bin {agg(col, 'bin', rows)}; f1 {agg(col, 'f1', rows)}")
        print(f"  {col:8} corpora the encoder never saw: bin {agg(col, 'bin', unseen)}; f1 {agg(col, 'f1', unseen)}")
    gaps = [r["ngram"]["bin"] - r["tfidf"]["bin"] for r in rows if r["ngram"]["bin"] is not None]
    if gaps:
        print(f"  ngram − tfidf, binary: mean {sum(gaps) / len(gaps):+.3f}, worst {min(gaps):+.3f}, "
              f"ahead on {sum(g > 0 for g in gaps)} of {len(gaps)}")
    gaps = [r["ours"]["bin"] - r["tfidf"]["bin"] for r in unseen if r["ours"]["bin"] is not None]
    if gaps:
        print(f"  ours − tfidf (unseen corpora), binary: mean {sum(gaps) / len(gaps):+.3f}, worst {min(gaps):+.3f}, "
              f"ahead on {sum(g > 0 for g in gaps)} of {len(gaps)}")


if __name__ == "__main__":
    raise SystemExit(main())
