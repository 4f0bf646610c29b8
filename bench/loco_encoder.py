"""A reduced, honest encoder fold: train the voc-small architecture from scratch *without* a corpus, on every
other sentiment corpus (new ones included), for a fixed time, and test it on the held-out corpus — next to
the TF-IDF peer trained on the same rows (issue 17, Build 1 / 2).

    .venv/bin/python bench/loco_encoder.py --data ../shared/data --corpora weibo2018 --minutes 7

``bench/loco.py`` cannot retrain the encoder per fold (16 CPU-minutes each, 24 folds); this runs the folds you
name, with a time budget per fold, so the question "does an encoder trained on diverse data beat the peer on
a corpus it never saw" gets an honest answer where the compute allows. Same data, deduplication and caps as
bench/loco.py (:mod:`classifier.protocol`); sentiment head only (3-way), the n-gram part retrained on the
same rows, ``ours`` = their average as shipped.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--corpora", required=True, help="comma-separated held-out corpora")
    ap.add_argument("--minutes", type=float, default=7.0, help="encoder training budget per fold")
    ap.add_argument("--max-train", type=int, default=4000)
    ap.add_argument("--max-test", type=int, default=1000)
    args = ap.parse_args(argv)
    import torch
    from torch import nn

    from classifier._base import INTENTS, SENTIMENTS
    from classifier.adapt import ngram_probs
    from classifier.model import VocModel
    from classifier.ngram import fit_ngram, pad_batch
    from classifier.protocol import fold_rows
    from classifier.train import _batches, _tokenizer, build_vocab, descend
    from loco import corpora_or_none, metrics, tfidf_peer
    from transformers import BertConfig

    torch.set_num_threads(1)
    corpora = corpora_or_none(args.data, "bench/loco_encoder.py")
    if corpora is None:
        return 2
    lab = {s: i for i, s in enumerate(SENTIMENTS)}
    print(f"{'held-out corpus':26} {'n':>5} {'train':>6} {'steps':>6} | {'encoder':>11} {'ours':>11} {'ngram':>11} "
          f"{'tfidf':>11}   (bin / 3-way f1)", flush=True)
    for name in [c for c in args.corpora.split(",") if c]:
        torch.manual_seed(0)
        rnd = random.Random(0)
        train, test = fold_rows(corpora, name, max_train_per_corpus=args.max_train, max_test=args.max_test)
        texts = [t for t, _, _ in train]
        vocab = build_vocab(texts, min_count=3, max_size=6000)
        tok = _tokenizer(vocab)
        enc = lambda ts, tok=tok: list(tok([t[:126] for t in ts], truncation=True, max_length=128,  # noqa: E731
                                           return_token_type_ids=False, return_attention_mask=False)["input_ids"])
        ids, test_ids = enc(texts), enc([t for t, _ in test])
        y = torch.tensor([lab[s] for _, s, _ in train])
        cfg = BertConfig(vocab_size=len(vocab), hidden_size=192, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=384, max_position_embeddings=130, pad_token_id=0)
        cfg.voc_labels = {"sentiment": list(SENTIMENTS), "intent": list(INTENTS), "topics": ["none"]}
        model = VocModel(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=8e-4, weight_decay=0.01)
        total = math.ceil(len(ids) / 64) * 3
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s, total=total: min(1.0, (s + 1) / 100) * max(
            0.05, 0.5 * (1 + math.cos(math.pi * min(1.0, s / total)))))
        deadline, step = time.monotonic() + args.minutes * 60, 0
        model.train()
        while time.monotonic() < deadline and step < total:
            for idx in _batches(ids, 64, rnd):
                x, m = pad_batch(ids, idx)
                loss = nn.functional.cross_entropy(model(input_ids=x, attention_mask=m)["sentiment"], y[idx])
                descend(loss, model, opt, sched)
                step += 1
                if time.monotonic() > deadline or step >= total:
                    break
        model.eval()
        p_enc = []
        with torch.inference_mode():
            for i in range(0, len(test_ids), 128):
                x, m = pad_batch(test_ids, range(i, min(i + 128, len(test_ids))))
                p_enc.extend(torch.softmax(model(input_ids=x, attention_mask=m)["sentiment"], -1).tolist())
        ngram = fit_ngram(ids, y.tolist(), num_labels=3, buckets=65521, epochs=4, seed=0)
        p_ng = ngram_probs(ngram, test_ids)
        p_ours = [[(a + b) / 2 for a, b in zip(e, g)] for e, g in zip(p_enc, p_ng)]
        from sklearn.feature_extraction.text import HashingVectorizer

        hv = HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=2 ** 20, alternate_sign=False, norm=None)
        x_all = hv.transform(texts + [t for t, _ in test])
        p_tf = tfidf_peer(x_all[: len(texts)], [s for _, s, _ in train], x_all[len(texts):])
        gold = [g for _, g in test]
        cells = [metrics(gold, p) for p in (p_enc, p_ours, p_ng, p_tf)]
        fmt = lambda m: (f"{m['bin']:.3f}" if m["bin"] is not None else "  —  ") + "/" + (  # noqa: E731
            f"{m['f1']:.3f}" if m["f1"] is not None else "  —  ")
        print(f"{name:26} {len(test):>5} {len(train):>6} {step:>6} | " + " ".join(f"{fmt(c):>11}" for c in cells),
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
