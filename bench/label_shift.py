"""Can class-prior (label-shift) adaptation lift held-out accuracy? Leave-one-corpus-out, labels of the
held-out corpus hidden (issue 17, Build 3), on bench/loco.py's folds.

    .venv/bin/python bench/label_shift.py --data ../shared/data [--path tfidf|ours] [--corpora A,B] [--max-train 1000]

Per fold, 10% of the training rows are kept aside as a source validation set; the model (``tfidf``: the peer
of bench/loco.py, char 1–3-gram TF-IDF + logistic regression, trained on the other 90% — honest on every
corpus; ``ours``: the shipped encoder averaged with our n-gram part trained on the 90% — the encoder saw most
corpora, see bench/loco.py) gives posteriors on it and on the held-out texts. Columns:

* ``base``    — the posteriors as they are;
* ``em``      — EM re-estimation of the target class priors (Saerens et al. 2002) on the raw posteriors, source
  prior = the training rows' label mix (what bench/loco.py's ``prior`` column does);
* ``bcts``    — bias-corrected temperature scaling fitted on the source validation set (calibration only);
* ``bcts+em`` — EM on the calibrated posteriors, source prior = their mean on the validation set (Alexandari
  et al. 2020, "maximum likelihood with bias-corrected calibration");
* ``bbse``    — black-box shift estimation (Lipton et al. 2018): target priors from the validation confusion
  matrix and the target's predicted-label mix, applied to the calibrated posteriors;
* ``neutral`` — bcts+em, but only the neutral share is adapted (negative : positive kept at the source ratio);
* ``oracle``  — the calibrated posteriors re-weighted to the held-out corpus's *true* label mix: the most any
  label-shift correction can do.

Scores as bench/loco.py: ``bin`` = binary accuracy on the negative/positive rows, ``f1`` = 3-way macro-F1 on
corpora with neutral. The summary counts, per method, corpora lifted / hurt by at least half a point.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from loco import LABELS, corpora_or_none, metrics  # noqa: E402

METHODS = ("base", "em", "bcts", "bcts+em", "bbse", "neutral", "oracle")


def scores(y: np.ndarray, p: np.ndarray) -> tuple[float | None, float | None]:
    """bench/loco.py's scores (binary accuracy, 3-way macro-F1) for label indices ``y`` and posteriors ``p``."""
    m = metrics([LABELS[i] for i in y], p.tolist())
    return m["bin"], m["f1"]


def reweight(p: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    q = p * np.where(source > 0, target / np.maximum(source, 1e-12), 0.0)
    return q / q.sum(1, keepdims=True)


def em(p: np.ndarray, source: np.ndarray, iters: int = 200) -> np.ndarray:
    target = source.copy()
    for _ in range(iters):
        new = reweight(p, source, target).mean(0)
        if np.abs(new - target).max() < 1e-6:
            break
        target = new
    return target


def bcts(pv: np.ndarray, yv: np.ndarray):
    """A calibration map fitted on validation posteriors: softmax(log p / T + b)."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    lp = np.log(np.clip(pv, 1e-12, 1))

    def nll(th: np.ndarray) -> float:
        return float(-log_softmax(lp / th[0] + th[1:], 1)[np.arange(len(yv)), yv].mean())

    th = minimize(nll, np.array([1.0, 0, 0, 0]), method="L-BFGS-B", bounds=[(0.05, 20)] + [(-10, 10)] * 3).x
    return lambda p: np.exp(log_softmax(np.log(np.clip(p, 1e-12, 1)) / th[0] + th[1:], 1))


def bbse(pv: np.ndarray, yv: np.ndarray, pt: np.ndarray) -> np.ndarray:
    conf = np.zeros((3, 3))
    for a, b in zip(pv.argmax(1), yv):
        conf[a, b] += 1
    conf /= len(yv)
    source = np.bincount(yv, minlength=3) / len(yv)
    w = np.clip(np.linalg.lstsq(conf, np.bincount(pt.argmax(1), minlength=3) / len(pt), rcond=None)[0], 0, None)
    q = w * source
    return q / q.sum()


def adapted(pv: np.ndarray, yv: np.ndarray, ytr: np.ndarray, pt: np.ndarray, yt: np.ndarray) -> dict[str, np.ndarray]:
    source = np.bincount(ytr, minlength=3) / len(ytr)
    cal = bcts(pv, yv)
    pvc, ptc = cal(pv), cal(pt)
    src_cal = pvc.mean(0)
    q = em(ptc, src_cal)
    neutral = src_cal.copy()
    neutral[1] = q[1]
    neutral[[0, 2]] = src_cal[[0, 2]] / src_cal[[0, 2]].sum() * (1 - q[1])
    return {"base": pt, "em": reweight(pt, source, em(pt, source)), "bcts": ptc, "bcts+em": reweight(ptc, src_cal, q),
            "bbse": reweight(ptc, source, bbse(pv, yv, pt)), "neutral": reweight(ptc, src_cal, neutral),
            "oracle": reweight(ptc, src_cal, np.bincount(yt, minlength=3) / len(yt))}


def posteriors(path: str, train: list, val: list, test: list, clf=None):
    """(validation posteriors, held-out posteriors) of the fold's model."""
    if path == "tfidf":
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
        from sklearn.linear_model import LogisticRegression

        hv = HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=2 ** 20, alternate_sign=False, norm=None)
        x = hv.transform([t for t, *_ in train] + [t for t, *_ in val] + [t for t, *_ in test])
        xtr, xv, xt = x[: len(train)], x[len(train): len(train) + len(val)], x[len(train) + len(val):]
        tf = TfidfTransformer(sublinear_tf=True).fit(xtr)
        lr = LogisticRegression(solver="saga", C=4.0, max_iter=30, tol=1e-3, random_state=0).fit(
            tf.transform(xtr), [r[1] for r in train])
        cols = [list(lr.classes_).index(lab) for lab in LABELS]
        return lr.predict_proba(tf.transform(xv))[:, cols], lr.predict_proba(tf.transform(xt))[:, cols]
    from classifier.adapt import ngram_probs
    from classifier.ngram import fit_ngram

    runner = clf._runner
    ng = fit_ngram(runner.encode([t for t, *_ in train]), [LABELS.index(r[1]) for r in train], num_labels=3,
                   buckets=65521, epochs=4, seed=0)

    def ours(rows: list) -> np.ndarray:
        texts = [t for t, *_ in rows]
        return (np.array(ngram_probs(ng, runner.encode(texts))) + clf.predict_proba(texts)["sentiment"].numpy()) / 2

    return ours(val), ours(test)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--path", choices=("tfidf", "ours"), default="tfidf")
    ap.add_argument("--corpora", default="", help="comma-separated held-out corpora (default: all)")
    ap.add_argument("--max-train", type=int, default=1000)
    ap.add_argument("--max-test", type=int, default=1000)
    args = ap.parse_args(argv)
    from classifier.protocol import CORPUS_NAMES, fold_rows

    corpora = corpora_or_none(args.data, "bench/label_shift.py")
    if corpora is None:
        return 2
    held = [c for c in args.corpora.split(",") if c] or list(CORPUS_NAMES)
    clf = None
    if args.path == "ours":
        import torch

        from classifier.loading import load_model_classifier

        torch.set_num_threads(1)
        clf = load_model_classifier(REPO / "classifier" / "models" / "voc-small", threads=1, quantize=True)
        clf.model.sentiment_from = "encoder"
    print(f"path={args.path}; --max-train {args.max_train} per corpus, --max-test {args.max_test}; cells: bin/f1")
    print(f"{'held-out corpus':26}" + "".join(f"{m:>13}" for m in METHODS))
    table = []
    for name in held:
        train, test = fold_rows(corpora, name, max_train_per_corpus=args.max_train, max_test=args.max_test)
        idx = list(range(len(train)))
        random.Random(0).shuffle(idx)
        nval = len(train) // 10
        val, fit_rows = [train[i] for i in idx[:nval]], [train[i] for i in idx[nval:]]
        pv, pt = posteriors(args.path, fit_rows, val, test, clf)
        yv = np.array([LABELS.index(r[1]) for r in val])
        yt = np.array([LABELS.index(g) for _, g in test])
        ytr = np.array([LABELS.index(r[1]) for r in fit_rows])
        row = {m: scores(yt, p) for m, p in adapted(pv, yv, ytr, pt, yt).items()}
        table.append(row)
        cells = "".join(f"{b:6.3f}/{f:.3f}" if f is not None else f"{b:6.3f}/  —  " for b, f in row.values())
        print(f"{name:26}{cells}", flush=True)
    for m in METHODS[1:]:
        d_bin = [r[m][0] - r["base"][0] for r in table]
        d_f1 = [r[m][1] - r["base"][1] for r in table if r["base"][1] is not None]
        print(f"{m:8} vs base: binary mean {np.mean(d_bin):+.4f}, lifted {sum(x >= .005 for x in d_bin)} / hurt "
              f"{sum(x <= -.005 for x in d_bin)} of {len(d_bin)}, worst {min(d_bin):+.3f}; 3-way macro-F1 "
              + (", ".join(f"{x:+.3f}" for x in d_f1) or "—"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
