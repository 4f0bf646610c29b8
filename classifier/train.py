"""Training: build the VOC model from the corpora, templates, taxonomy examples and label corrections.

``train(config, settings)`` dedupes the data (normalized text; conflicting labels dropped), holds out a
random split and one whole domain, trains a small BERT-style char-level encoder with three heads under a
time budget, evaluates, and saves a complete model directory with its model card. See the model card for
how each head is supervised.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from classifier._base import INTENTS, SENTIMENTS, TrainingDataError
from classifier._corpora import read_all
from classifier._weak import taxonomy_rows, template_rows
from classifier.ngram import fit_ngram, pad_batch
from classifier.normalize import classification_text, normalization_config
from classifier._checkpoint import Checkpoint, fingerprint as _fingerprint, plain as _plain, rnd_state as _rnd_state
from classifier.rules import TopicMatcher, rule_intent, rule_sentiment

__all__ = ["TrainingConfig", "TrainResult", "train", "prepare_rows", "build_vocab", "build_splits"]

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    data_dir: Path | None
    output_dir: Path
    #: Domains kept out of training entirely; the first is the left-out-domain test set.
    holdout_domains: tuple[str, ...] = ("手机", "absa_phone")
    hidden_size: int = 192
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 384
    max_length: int = 128
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 8e-4
    weight_decay: float = 0.01
    val_fraction: float = 0.04
    template_rows: int = 4000
    min_char_count: int = 3
    max_vocab: int = 6000
    max_minutes: float = 14.0
    #: Torch threads for training. 1 by default: on a shared 2-core machine two threads oversubscribe and run
    #: several times slower; on an idle machine --threads 2 is faster.
    threads: int = 1
    seed: int = 0
    #: Rows per corpus domain at most (None: all); small values make quick test models.
    max_rows_per_domain: int | None = 12000
    corrections: tuple[dict[str, Any], ...] = ()
    correction_weight: int = 5
    model_name: str = "voc-small"
    #: Hash buckets of the character n-gram sentiment model averaged with the encoder (0: encoder alone).
    ngram_buckets: int = 65521
    ngram_epochs: int = 5
    #: Minutes between training checkpoints (``<output>.checkpoint/``; also written when training is stopped).
    checkpoint_minutes: float = 1.0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be a multiple of num_heads {self.num_heads}")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_minutes <= 0:
            raise ValueError("epochs, batch_size and max_minutes must be positive")
        if self.checkpoint_minutes <= 0:
            raise ValueError(f"checkpoint_minutes must be positive, got {self.checkpoint_minutes}")
        if self.ngram_buckets < 0 or self.ngram_epochs < 1:
            raise ValueError(f"ngram_buckets must be >= 0 and ngram_epochs >= 1, got {self.ngram_buckets}, "
                             f"{self.ngram_epochs}")


@dataclass
class TrainResult:
    path: Path
    metrics: dict[str, Any]
    sizes: dict[str, int]
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)


def prepare_rows(raw: list[dict[str, Any]], topics: Any) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Normalize, dedupe (conflicting sentiment labels: dropped) and add weak intent/topic labels."""
    match = TopicMatcher(topics)
    seen: dict[str, dict[str, Any]] = {}
    conflicts: set[str] = set()
    for r in raw:
        text = classification_text(r["text"])
        if len(text) < 2:
            continue
        old = seen.get(text)
        if old is not None:
            if old.get("correction") and not r.get("correction"):
                continue
            if old.get("sentiment") != r.get("sentiment") and not r.get("correction"):
                conflicts.add(text)
            if r.get("correction"):
                seen[text] = {**old, **r, "text": text}
            continue
        seen[text] = {**r, "text": text}
    out = []
    for text, r in seen.items():
        if text in conflicts:
            continue
        sentiment = r.get("sentiment") or rule_sentiment(text)[0]
        r = {**r, "sentiment": sentiment}
        r.setdefault("intent", rule_intent(text, sentiment))
        if r.get("topics") is None:
            r["topics"] = list(match(text))
        out.append(r)
    return out, {"raw": len(raw), "unique": len(seen), "conflicting_dropped": len(conflicts)}


def build_vocab(texts: list[str], *, min_count: int, max_size: int, extra: str = "") -> list[str]:
    counts = Counter(ch for t in texts for ch in t.lower() if not ch.isspace())
    chars = [c for c, n in counts.most_common(max_size) if n >= min_count]
    ascii_pieces = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    vocab = list(SPECIALS) + sorted(set(chars) | set(ascii_pieces) | set(extra.lower()) - {" "})
    vocab += ["##" + c for c in ascii_pieces]
    return vocab


def _tokenizer(vocab: list[str]) -> Any:
    # transformers 5 keeps BertTokenizerFast only as a runtime alias its type surface omits; 4.x needs this name.
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]

    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True, tokenize_chinese_chars=True,
                            strip_accents=False, model_max_length=512)
    probe = tok("闪退abc")["input_ids"]
    if len(tok) != len(vocab) or 1 in probe[1:-1] and "闪" in vocab:
        raise RuntimeError(f"tokenizer did not take the {len(vocab)}-entry vocabulary (got {len(tok)})")
    return tok


def _encode(tok: Any, rows: list[dict[str, Any]], max_length: int) -> list[list[int]]:
    from classifier.model import head_tail

    enc = tok([head_tail(r["text"], max_length - 2) for r in rows], truncation=True, max_length=max_length, return_token_type_ids=False,
              return_attention_mask=False)
    return list(enc["input_ids"])


def _batches(ids: list[list[int]], batch_size: int, rnd: random.Random) -> list[list[int]]:
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), rnd.random()))
    chunks = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    rnd.shuffle(chunks)
    return chunks


def descend(loss: torch.Tensor, model: nn.Module, opt: torch.optim.Optimizer, sched: Any) -> None:
    """One optimizer step down ``loss``: gradients clipped to norm 1.0, then the learning-rate schedule advances."""
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()


def build_splits(config: TrainingConfig, topics: Any, rnd: random.Random) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """(train rows, validation rows, left-out-domain rows, sizes) — deterministic for a seeded ``rnd``."""
    raw: list[dict[str, Any]] = []
    if config.data_dir is not None:
        if not config.data_dir.is_dir():
            raise TrainingDataError(config.data_dir, "training data folder not found — pass --data DIR (the "
                                    "shared/data corpora; see classifier/models/voc-small/README.md)")
        try:
            corpus, missing = read_all(config.data_dir)
        except (OSError, KeyError, ValueError) as exc:
            raise TrainingDataError(config.data_dir, f"cannot read corpora: {exc}") from exc
        if missing:
            print(f"note: corpora not found under {config.data_dir}: {', '.join(missing)}", file=sys.stderr)
        if not corpus:
            raise TrainingDataError(config.data_dir, "none of the training corpora is there (expected "
                                    "online_shopping_10_cats.csv, waimai_10k.csv, ...; see the model card)")
        if config.max_rows_per_domain:
            per: Counter[str] = Counter()
            rnd.shuffle(corpus)
            corpus = [r for r in corpus if per.update([r["domain"]]) or per[r["domain"]] <= config.max_rows_per_domain]
        raw.extend(corpus)
    raw.extend({**r, "domain": "templates", "source": "templates"} for r in template_rows(config.template_rows, seed=config.seed))
    raw.extend({**r, "domain": "taxonomy", "source": "topics.yaml"} for r in taxonomy_rows(topics))
    raw.extend({**c, "domain": "corrections", "source": "corrections", "correction": True} for c in config.corrections)
    rows, dedupe = prepare_rows(raw, topics)
    if len(rows) < 20:
        raise TrainingDataError(config.data_dir or "(none)", f"only {len(rows)} usable rows — too little to train")

    held = [r for r in rows if r["domain"] in config.holdout_domains]
    left_out = [r for r in held if r["domain"] == config.holdout_domains[0]]
    pool = [r for r in rows if r["domain"] not in config.holdout_domains]
    rnd.shuffle(pool)
    fixed = [r for r in pool if r["domain"] in ("taxonomy", "corrections")]
    pool = [r for r in pool if r["domain"] not in ("taxonomy", "corrections")]
    n_val = max(1, int(len(pool) * config.val_fraction))
    val, train_rows = pool[:n_val], pool[n_val:] + fixed
    train_rows += [r for r in fixed if r["domain"] in ("taxonomy", "corrections")] * (config.correction_weight - 1)
    sizes = {"train": len(train_rows), "validation": len(val), "left_out_domain": len(left_out), **dedupe}
    return train_rows, val, left_out, sizes


def _part_metrics(clf: Any, val: list[dict[str, Any]], left_out: list[dict[str, Any]]) -> dict[str, Any]:
    """Sentiment metrics of the encoder alone and of the n-gram model alone (the shipped model averages them)."""
    from classifier.evaluate import evaluate_eval_set, evaluate_heads

    out = {}
    for part in ("encoder", "ngram"):
        clf.model.sentiment_from = part
        app = evaluate_eval_set(clf)
        out[part] = {"validation": evaluate_heads(clf, val), "left_out_domain": evaluate_heads(clf, left_out),
                     "app_feedback_sentiment": app.get("sentiment") if app else None}
    clf.model.sentiment_from = "ensemble"
    return out


def train(config: TrainingConfig, settings: Any, *, log: Any = print, resume: bool = False,
          progress: Callable[[int, int | None], None] | None = None) -> TrainResult:
    """Train, evaluate and save the model described by ``config``; returns the saved path and metrics.

    ``progress(steps done, total steps)`` is called after each training step; whatever it raises (Ctrl-C, a
    cancelled job) stops training with a checkpoint of that step saved beside the output directory, and
    ``resume=True`` continues from it — with the same data and configuration, to the same model an
    uninterrupted run makes. A checkpoint is also written every ``checkpoint_minutes``; the finished model
    replaces it."""
    from transformers import BertConfig

    from classifier.evaluate import card_text, evaluate_heads, evaluate_eval_set
    from classifier.model import ModelClassifier, VocModel, save_model

    started = time.monotonic()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rnd = random.Random(config.seed)
    topics = settings.topics.topics
    topic_ids = [t.id for t in topics]

    train_rows, val, left_out, sizes = build_splits(config, topics, rnd)
    log(f"rows: {sizes}")

    vocab = build_vocab([r["text"] for r in train_rows], min_count=config.min_char_count, max_size=config.max_vocab,
                        extra="".join(k for t in topics for k in t.keywords))
    tok = _tokenizer(vocab)
    s_idx = {s: i for i, s in enumerate(SENTIMENTS)}
    i_idx = {s: i for i, s in enumerate(INTENTS)}
    t_idx = {s: i for i, s in enumerate(topic_ids)}
    ids = _encode(tok, train_rows, config.max_length)
    ys = torch.tensor([s_idx[r["sentiment"]] for r in train_rows])
    yi = torch.tensor([i_idx[r["intent"]] for r in train_rows])
    yt = torch.zeros(len(train_rows), max(1, len(topic_ids)))
    for n, r in enumerate(train_rows):
        for t in r["topics"]:
            if t in t_idx:
                yt[n, t_idx[t]] = 1.0
    # weak (rule) intent labels count less than constructed ones
    wi = torch.tensor([1.0 if r["domain"] in ("templates", "corrections") or r.get("correction") else 0.3 for r in train_rows])

    bert_cfg = BertConfig(vocab_size=len(vocab), hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
                          num_attention_heads=config.num_heads, intermediate_size=config.intermediate_size,
                          max_position_embeddings=config.max_length + 2, type_vocab_size=1,
                          hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, pad_token_id=0)
    bert_cfg.voc_labels = {"sentiment": list(SENTIMENTS), "intent": list(INTENTS), "topics": topic_ids}
    bert_cfg.voc_normalization = normalization_config()
    bert_cfg.voc_max_length = config.max_length
    bert_cfg.voc_tokenizer = "char"
    bert_cfg.voc_intent_mode = "rules"
    model = VocModel(bert_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(ids) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.05, 0.5 * (1 + math.cos(math.pi * min(1.0, s / total)))))
    ce, bce = nn.CrossEntropyLoss(), nn.BCEWithLogitsLoss()
    steps_left = total
    checkpoint = Checkpoint(config.output_dir, _fingerprint(config, sizes, vocab, ids))
    state = checkpoint.load() if resume else None
    first_epoch = first_batch = 0
    resumed_batches: list[list[int]] | None = None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        rnd.setstate(_rnd_state(state["python_rng"]))
        step, first_epoch, first_batch = state["step"], state["epoch"], state["batch"]
        resumed_batches = state["batches"]
        started -= state["elapsed"]
        log(f"resuming from step {step} of {total} (epoch {first_epoch + 1}, checkpoint {checkpoint.path})")
    else:
        checkpoint.discard()
        step = 0
    deadline = started + config.max_minutes * 60
    stopped_early = False
    model.train()
    batches: list[list[int]] = []
    #: after each step: (epoch, next batch, that epoch's batches, the batch shuffler's state); None until this
    #: run took a step
    pos: tuple[int, int, list[list[int]], Any] | None = None
    at_boundary = True

    def save() -> None:
        assert pos is not None
        checkpoint.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "torch_rng": torch.get_rng_state(), "python_rng": _plain(pos[3]), "step": step,
                         "epoch": pos[0], "batch": pos[1], "batches": pos[2], "elapsed": time.monotonic() - started})

    next_save = time.monotonic() + config.checkpoint_minutes * 60
    if progress is not None:
        progress(step, steps_left)  # where this run starts (a resumed run: the checkpoint's step)
    try:
        for epoch in range(first_epoch, config.epochs):
            running = 0.0
            if resumed_batches is not None and epoch == first_epoch:
                batches, start_b = resumed_batches, first_batch
            else:
                batches, start_b = _batches(ids, config.batch_size, rnd), 0
            for b in range(start_b, len(batches)):
                idx = batches[b]
                at_boundary = False
                x, m = pad_batch(ids, idx)
                out = model(input_ids=x, attention_mask=m)
                it = torch.tensor(idx)
                li = (nn.functional.cross_entropy(out["intent"], yi[it], reduction="none") * wi[it]).mean()
                loss = ce(out["sentiment"], ys[it]) + li + bce(out["topics"], yt[it])
                descend(loss, model, opt, sched)
                step += 1
                pos = (epoch, b + 1, batches, rnd.getstate())
                at_boundary = True
                running += loss.item()
                if b % 200 == 199:
                    log(f"epoch {epoch + 1} step {b + 1}/{steps_per_epoch} loss {running / 200:.3f} "
                        f"{time.monotonic() - started:.0f}s")
                    running = 0.0
                if time.monotonic() >= next_save:
                    save()
                    next_save = time.monotonic() + config.checkpoint_minutes * 60
                if progress is not None:
                    progress(step, steps_left)  # may stop here (Ctrl-C, a cancelled job): see the except below
                if time.monotonic() > deadline:
                    stopped_early = True
                    break
            if stopped_early:
                log(f"time budget of {config.max_minutes} min reached in epoch {epoch + 1}")
                break
    except BaseException:
        if at_boundary and pos is not None:  # between two steps: the state is whole, keep it
            save()
            log(f"checkpoint saved at step {step} of {total}: {checkpoint.path} (continue with --resume)")
        raise
    model.eval()
    if config.ngram_buckets:
        t0 = time.monotonic()
        model.attach_ngram(fit_ngram(ids, ys.tolist(), num_labels=len(SENTIMENTS), buckets=config.ngram_buckets,
                                     epochs=config.ngram_epochs, seed=config.seed))
        log(f"n-gram sentiment model: {config.ngram_buckets} buckets, {time.monotonic() - t0:.0f}s")
    bert_cfg.voc_model_version = f"{config.model_name}-{time.strftime('%Y%m%d')}-s{config.seed}"
    clf = ModelClassifier(model, tok, topics=topics, batch_size=128, threads=config.threads)
    metrics: dict[str, Any] = {"validation": evaluate_heads(clf, val), "left_out_domain": evaluate_heads(clf, left_out),
               "steps": step, "stopped_early": stopped_early}
    app_eval = evaluate_eval_set(clf)
    if app_eval is not None:
        metrics["app_feedback_eval"] = app_eval
        clf.intent_mode = "model"
        head_eval = evaluate_eval_set(clf)
        metrics["app_feedback_eval"]["intent_head"] = head_eval["intent"] if head_eval else None
        clf.intent_mode = bert_cfg.voc_intent_mode
    if model.ngram is not None:
        metrics["parts"] = _part_metrics(clf, val, left_out)
    seconds = time.monotonic() - started
    cfg_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items() if k != "corrections"}
    cfg_dict["corrections"] = len(config.corrections)
    card = card_text(name=config.model_name, config=cfg_dict, sizes=sizes, metrics=metrics, seconds=seconds,
                     params=sum(p.numel() for p in model.parameters()), vocab=len(vocab))
    path = save_model(model, tok, config.output_dir, card=card)
    checkpoint.discard()
    return TrainResult(path=path, metrics=metrics, sizes=sizes, seconds=seconds, config=cfg_dict)
