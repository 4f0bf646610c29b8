"""Fit the learned intent layers (:mod:`classifier.intent_model`) on the labelled intent set: the shipped
text-only one (``classifier/intent_weights.json``, used with any sentiment model and by the rules stand-in),
and a VOC model's own, fitted together with its intent head (``intent_layer.json`` and the head's weights in
the model directory; ``voc_intent_mode: layer``).

    .venv/bin/python -m classifier.intent_fit [--model classifier/models/voc-small] [--text-only]

Refit after retraining a model: its sentiment and pooled vectors are features. Needs scikit-learn (the
``dev`` extra); tagging needs only numpy. Reads the ``dev`` and ``train`` parts of ``classifier/eval/intent.jsonl`` — never ``test`` — with the
shipped model's sentiment for each sentence (the sentiment and the rules' decision are features), and fits a
multinomial logistic regression (L2, C=1) over the sentences' character 1–3-grams seen in at least two of
them plus the dense features (and, for a model's own layer, its pooled encoder vector). The knobs were chosen by 5-fold cross-validation on the ``train`` part (see
``classifier/eval/README.md``). Deterministic: the same rows and model give the same weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from classifier._base import INTENTS
from classifier.evaluate import macro_f1
from classifier.intent import CUES, cue_flags, rule_decision
from classifier.intent_model import LAYER_FILE, WEIGHTS, IntentWeights, dense_features, grams
from classifier.normalize import classification_text

__all__ = ["SET", "fit", "cross_validate", "main"]

REPO = Path(__file__).resolve().parents[1]
SET = Path(__file__).with_name("eval") / "intent.jsonl"
#: the parts fitted on; ``test`` stays unseen.
FIT_SPLITS = ("dev", "train")
#: How much the standardized pooled vector counts against the n-grams and rules under the one L2 penalty
#: (0.3 chosen by 5-fold cross-validation on the ``train`` part, from 0.1 / 0.3 / 0.6 / 1.0).
POOLED_SCALE = 0.3


def fit(texts: list[str], sentiments: list[str], labels: list[str], *, pooled: np.ndarray | None = None,
        c: float = 1.0, min_df: int = 2) -> tuple[IntentWeights, tuple[np.ndarray, np.ndarray] | None]:
    """The layer fitted on normalized ``texts`` with their ``sentiments`` and gold intents ``labels``; with
    ``pooled`` (the model's pooled encoder vector per text, what its intent head reads) also the intent head's
    (weight, bias) fitted jointly — the standardized vectors scaled by :data:`POOLED_SCALE`, folded back."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    missing = sorted(set(INTENTS) - set(labels))
    if missing:
        raise ValueError(f"the intent layer needs examples of every intent; none of {', '.join(missing)}")
    names = list(CUES)
    dense = np.array([dense_features(rule_decision(t, s), s, cue_flags(t, names))
                      for t, s in zip(texts, sentiments)])
    vec = CountVectorizer(analyzer=lambda t: sorted(grams(t)), binary=True, min_df=min_df)
    x_grams = vec.fit_transform(texts)
    blocks = [x_grams, csr_matrix(dense)]
    if pooled is not None:
        mu, sd = pooled.mean(0), pooled.std(0) + 1e-6
        blocks.append(csr_matrix((pooled - mu) / sd * POOLED_SCALE))
    x = hstack(blocks).tocsr()
    lr = LogisticRegression(C=c, max_iter=5000)
    lr.fit(x, labels)
    order = [list(lr.classes_).index(lab) for lab in INTENTS]
    coef = lr.coef_[order].T  # (features, labels)
    vocab = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
    n, k = len(vocab), dense.shape[1]
    layer = IntentWeights(list(INTENTS), vocab, coef[:n], coef[n:n + k], lr.intercept_[order], names)
    if pooled is None:
        return layer, None
    w_pooled = coef[n + k:] * (POOLED_SCALE / sd)[:, None]  # (hidden, labels)
    return layer, (w_pooled.T.copy(), -(mu @ w_pooled))


def cross_validate(texts: list[str], sentiments: list[str], gold: list[str], splits: list[str],
                   pooled: np.ndarray | None, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Macro-F1 on the ``train`` part by ``folds``-fold cross-validation (each fold fitted on ``dev`` and the
    other folds): the rules alone, the text-only layer and (with ``pooled``) a model's own layer. Printed and
    returned. The rules were written from ``dev`` only, so on ``train`` their figure is honest."""
    import random

    held = [i for i, s in enumerate(splits) if s == "train"]
    random.Random(seed).shuffle(held)
    preds: dict[str, dict[int, str]] = {"rules alone": {}, "text-only layer": {}, "model layer": {}}
    for k in range(folds):
        test = held[k::folds]
        out = set(test)
        fit_idx = [i for i in range(len(texts)) if i not in out]
        pick = lambda seq, idx: [seq[i] for i in idx]  # noqa: E731
        text_layer, _ = fit(pick(texts, fit_idx), pick(sentiments, fit_idx), pick(gold, fit_idx))
        for i in test:
            preds["rules alone"][i] = rule_decision(texts[i], sentiments[i])
            dense = dense_features(preds["rules alone"][i], sentiments[i], cue_flags(texts[i], text_layer.cues))
            preds["text-only layer"][i] = text_layer.predict(texts[i], dense)
        if pooled is not None:
            layer, head = fit(pick(texts, fit_idx), pick(sentiments, fit_idx), pick(gold, fit_idx),
                              pooled=pooled[fit_idx])
            assert head is not None
            for i in test:
                dense = dense_features(preds["rules alone"][i], sentiments[i], cue_flags(texts[i], layer.cues))
                preds["model layer"][i] = layer.predict(texts[i], dense, head[0] @ pooled[i] + head[1])
    result = {}
    for name, p in preds.items():
        if p:
            result[name] = macro_f1([gold[i] for i in held], [p[i] for i in held], INTENTS)
            print(f"{folds}-fold CV on the train part (n={len(held)}), {name}: macro-F1 {result[name]:.3f}")
    return result


def pooled_vectors(clf: Any, texts: list[str]) -> np.ndarray:
    """What ``clf``'s intent head reads for each prepared text: the model's pooled encoder vector."""
    seen: list[np.ndarray] = []
    hook = clf.model.intent.register_forward_pre_hook(lambda _m, inp: seen.append(inp[0].detach().float().numpy()))
    try:
        for text in texts:  # one at a time: a text's vector does not depend on its batch, its order here does not matter
            clf.predict_proba([text])
    finally:
        hook.remove()
    return np.concatenate(seen)


def write_model_layer(model_dir: Path, layer: IntentWeights, head: tuple[np.ndarray, np.ndarray]) -> None:
    """Store ``layer`` as the model's own (``LAYER_FILE``), its intent head's new weights in model.safetensors,
    and ``voc_intent_mode: layer`` in config.json."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    weights_path = model_dir / "model.safetensors"
    with safe_open(str(weights_path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["intent.weight"] = torch.tensor(head[0], dtype=tensors["intent.weight"].dtype)
    tensors["intent.bias"] = torch.tensor(head[1], dtype=tensors["intent.bias"].dtype)
    save_file(tensors, str(weights_path), metadata=metadata)
    _write_json(model_dir / LAYER_FILE, layer.to_json())
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["voc_intent_mode"] = "layer"
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "classifier" / "models" / "voc-small")
    ap.add_argument("--out", type=Path, default=WEIGHTS, help="where the text-only layer goes")
    ap.add_argument("--text-only", action="store_true", help="fit the shipped text-only layer only, not the model's own")
    ap.add_argument("--cv", action="store_true", help="print 5-fold cross-validation on the train part; write nothing")
    args = ap.parse_args(argv)
    from classifier.loading import load_model_classifier

    rows = [json.loads(line) for line in SET.open(encoding="utf-8")]
    rows = [r for r in rows if r["split"] in FIT_SPLITS]
    texts = [classification_text(r["text"]) for r in rows]
    clf = load_model_classifier(args.model, threads=2, quantize=True)
    sentiments = [t.sentiment for t in clf.predict(texts, normalized=True)]
    gold = [r["intent"] for r in rows]
    if args.cv:
        has_head = hasattr(clf.model, "intent")
        cross_validate(texts, sentiments, gold, [r["split"] for r in rows],
                       pooled_vectors(clf, texts) if has_head else None)
        return 0
    weights, _ = fit(texts, sentiments, gold)
    _write_json(args.out, weights.to_json())
    print(f"text-only layer: fitted on {len(rows)} sentences ({', '.join(FIT_SPLITS)}), "
          f"{len(weights.gram_index)} n-grams → {args.out}")
    if args.text_only:
        return 0
    if not hasattr(clf.model, "intent"):
        print(f"{args.model} has no intent head: only the text-only layer was fitted", file=sys.stderr)
        return 0
    layer, head = fit(texts, sentiments, gold, pooled=pooled_vectors(clf, texts))
    assert head is not None
    write_model_layer(args.model, layer, head)
    print(f"model layer and intent head: fitted on the same rows → {args.model / LAYER_FILE}, its model.safetensors "
          "and config.json (voc_intent_mode: layer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
