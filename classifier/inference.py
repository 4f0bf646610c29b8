"""Inference around a loaded model: length-sorted batching, thread use, and the tags a VOC model gives.

Imports neither transformers nor the training code: :mod:`classifier.lean` loads the VOC models this wraps
without them (:mod:`classifier.model` loads any other checkpoint through transformers).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from classifier._base import Tags
from classifier.invariant import quantize_linear, rowwise
from classifier.ngram import pad_batch
from classifier.normalize import classification_text
from classifier.risk import risk_flags
from classifier.intent import intent_of
from classifier.intent_model import IntentWeights
from classifier.rules import rule_intent
from classifier.topics import TopicTagger

__all__ = ["ModelClassifier", "BatchRunner", "head_tail", "set_threads", "uncached_onednn", "quantize_linear",
           "MAX_BATCH_TOKENS", "padded_width"]


def _softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, -1)


def head_tail(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters keeping the first quarter and the last three quarters."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + text[len(text) - (limit - head):]


def set_threads(threads: int) -> None:
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def uncached_onednn() -> None:
    """Let oneDNN (torch's kernel library; in these models it runs GELU) keep no compiled kernels.

    It compiles one for every input shape and caches up to 1,024, and length-sorted batches come in hundreds
    of shapes: a process classifying 80,000 texts with the shipped model grew from about 390 MiB after its
    first batch to 830 MiB. Uncached it stayed under 480 MiB, and classified 5,000 texts as fast (2.07 s against
    2.10 s, five alternating fresh processes each; torch's own GELU instead: 2.12 s). oneDNN reads the setting
    when it first runs, so call this before the model does; ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` set in the
    environment wins."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0")


#: Padded tokens per batch at most (besides ``batch_size`` texts): keeps padding low when lengths vary.
MAX_BATCH_TOKENS = 4096
#: Every text is padded to its own length rounded up to a multiple of this, whatever batch it is in: with the
#: batch-invariant int8 layers (:mod:`classifier.int8`) a text's outputs are then bit-identical alone, in a
#: batch of short texts or of long ones (attention and pooling sum over the padded width, so the width must
#: depend on the text alone).
WIDTH_STEP = 8


def padded_width(length: int, max_length: int) -> int:
    """The width a text of ``length`` tokens is padded to: the next multiple of :data:`WIDTH_STEP`."""
    return max(length, min(max_length, -(-length // WIDTH_STEP) * WIDTH_STEP))


class BatchRunner:
    """Length-sorted batching around a tokenizer and a model callable.

    Fast tokenizers encode every text once in Rust (a private copy of the backend: truncation on, no
    padding); batches are cut from the texts sorted by token count, at most ``batch_size`` texts and
    :data:`MAX_BATCH_TOKENS` padded tokens each, and only texts of one :func:`padded_width` share a batch. With ``workers`` > 1 there are at least that many batches,
    so every worker thread has one (see :meth:`run`).
    """

    def __init__(self, tokenizer: Any, *, batch_size: int, max_length: int, max_tokens: int = MAX_BATCH_TOKENS,
                 pad_id: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_tokens = max_tokens
        self._backend = None
        self._pad_id = pad_id if pad_id is not None else getattr(tokenizer, "pad_token_id", None)
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if hasattr(tokenizer, "encode_batch"):  # a ``tokenizers.Tokenizer`` itself (classifier.lean loads one)
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length)
            self._backend = tokenizer
        elif backend is not None and self._pad_id is not None and getattr(tokenizer, "padding_side", "right") == "right":
            from tokenizers import Tokenizer

            own = Tokenizer.from_str(backend.to_str())
            own.no_padding()
            own.enable_truncation(max_length)
            probe = ["更新后闪退 App打不开!", "ＡＢＣ 123 😡" * 40]
            slow = tokenizer(probe, truncation=True, max_length=max_length, return_token_type_ids=False,
                             return_attention_mask=False)["input_ids"]
            if [e.ids for e in own.encode_batch(probe)] == [list(r) for r in slow]:
                self._backend = own  # else: a tokenizer whose Python side adds something; use the slow path
        self._pool: Any = None
        self._pool_key = (0, 0)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, special tokens included, truncated to ``max_length``."""
        texts = [t or " " for t in texts]
        if self._backend is not None:
            return [e.ids for e in self._backend.encode_batch(texts)]
        return list(self.tokenizer(texts, truncation=True, max_length=self.max_length, return_token_type_ids=False,
                                   return_attention_mask=False)["input_ids"])

    def plan(self, lengths: Sequence[int], workers: int = 1) -> list[list[int]]:
        """Indices of each batch: sorted by length, capped by texts, padded tokens and ``workers``."""
        n = len(lengths)
        cap = self.batch_size if workers <= 1 else max(1, min(self.batch_size, -(-n // workers)))
        widths = [padded_width(v, self.max_length) for v in lengths]
        order = sorted(range(n), key=lengths.__getitem__)
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:  # ascending, so widths[i] is the padded width of the batch once i joins it
            if current and (len(current) >= cap or (len(current) + 1) * widths[i] > self.max_tokens
                            or widths[i] != widths[current[0]]):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def batches(self, texts: Sequence[str], workers: int = 1) -> Iterable[tuple[list[int], dict[str, torch.Tensor]]]:
        ids = self.encode(texts)
        for idx in self.plan([len(r) for r in ids], workers):
            x, mask = pad_batch(ids, idx, self._pad_id or 0, width=padded_width(len(ids[idx[-1]]), self.max_length))
            yield idx, {"input_ids": x, "attention_mask": mask}

    def run(self, fn: Any, texts: Sequence[str], threads: int | None) -> list[tuple[list[int], Any]]:
        """``fn(**batch)`` under ``torch.inference_mode`` for every batch: ``[(indices, output), ...]``.

        With ``threads`` > 1 the batches run on that many worker threads, each with single-threaded torch
        ops (torch's global thread count is set to 1): on small inputs like these, independent batches
        scale better than splitting each op over threads, and degrade far less when the CPU is shared.
        Otherwise they run here with torch on ``threads`` threads.
        """
        workers = max(1, threads or 1)
        work = list(self.batches(texts, workers))

        def one(enc: dict[str, torch.Tensor]) -> Any:
            with torch.inference_mode():
                return fn(**enc)

        if workers == 1:
            if threads:
                set_threads(threads)
            return [(idx, one(enc)) for idx, enc in work]
        set_threads(1)
        if len(work) == 1:
            return [(idx, one(enc)) for idx, enc in work]
        if self._pool is None or self._pool_key != (workers, os.getpid()):
            from concurrent.futures import ThreadPoolExecutor

            if self._pool is not None and self._pool_key[1] == os.getpid():
                self._pool.shutdown(wait=False)
            # a forked child gets a fresh pool: the parent's worker threads do not exist there
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voc-classify")
            self._pool_key = (workers, os.getpid())
        outs = list(self._pool.map(one, [enc for _, enc in work]))
        return [(idx, out) for (idx, _), out in zip(work, outs)]


class ModelClassifier:
    """A loaded VOC model plus taxonomy keyword topics and risk rules. ``model``: a
    :class:`classifier.lean.LeanVocModel` or :class:`classifier.model.VocModel` (while training) — called with
    ``input_ids``/``attention_mask``, giving the heads' logits; ``model.config`` carries the ``voc_*`` keys."""

    def __init__(self, model: Any, tokenizer: Any, *, topics: Iterable[Any] = (), batch_size: int = 64,
                 threads: int | None = None, pad_id: int | None = None, intent_layer: IntentWeights | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        cfg = model.config
        self.labels: dict[str, list[str]] = cfg.voc_labels
        self.model_version: str = getattr(cfg, "voc_model_version", "voc-unknown")
        self.threads = threads
        #: "layer": the model's own intent layer (``intent_layer``, :mod:`classifier.intent_model`) over the
        #: text, the rules and the intent head; "rules": the shipped text-only layer over the rules, given the
        #: model's sentiment (:func:`rule_intent`); "model": the intent head's argmax.
        self.intent_mode: str = getattr(cfg, "voc_intent_mode", "rules")
        self.intent_layer = intent_layer if self.intent_mode == "layer" else None
        #: Topics come from the taxonomy alone (keywords and examples, :mod:`classifier.topics`), so a topic
        #: added or changed in topics.yaml tags at once; the model's topic head is not used for tagging (it
        #: learned the training-time keywords and added false `crash` tags to login complaints).
        self.match_topics = TopicTagger(tuple(topics))
        self._runner = BatchRunner(tokenizer, batch_size=batch_size, pad_id=pad_id,
                                   max_length=int(getattr(cfg, "voc_max_length", 128)))

    def predict_proba(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Per-head probabilities for already prepared (classification) texts, in input order.

        Texts longer than the model's window keep their head and tail (1:3), where reviews state a verdict."""
        texts = [head_tail(t, self._runner.max_length - 2) for t in texts]
        n = len(texts)
        out = {"sentiment": torch.zeros(n, len(self.labels["sentiment"])),
               "intent": torch.zeros(n, len(self.labels["intent"])),
               "topics": torch.zeros(n, max(1, len(self.labels["topics"])))}
        if not n:
            return out
        with torch.inference_mode():
            for idx, logits in self._runner.run(self.model, texts, self.threads):
                index = torch.tensor(idx)
                out["sentiment"][index] = torch.softmax(logits["sentiment"].float(), -1)
                out["intent"][index] = rowwise(_softmax, logits["intent"].float(), float("-inf"))
                out["topics"][index] = rowwise(torch.sigmoid, logits["topics"].float())
        return out

    def predict(self, texts: Sequence[str], *, normalized: bool = False) -> list[Tags]:
        """Tags per text. ``normalized``: the texts are ``normalize_text`` output already (the crawl's)."""
        prepared = [classification_text(t or "", normalized=normalized) for t in texts]
        if not prepared:
            return []
        probs = self.predict_proba(prepared)
        s_labels, i_labels = self.labels["sentiment"], self.labels["intent"]
        s_score, s_idx = (v.tolist() for v in probs["sentiment"].max(-1))
        i_idx = probs["intent"].argmax(-1).tolist()
        layer = self.intent_layer
        head = rowwise(torch.log, probs["intent"], 1.0).tolist() if layer is not None else None
        tags = []
        for i, text in enumerate(prepared):
            sentiment = s_labels[s_idx[i]]
            if self.intent_mode == "model":
                intent = i_labels[i_idx[i]]
            elif layer is not None and head is not None:
                intent = intent_of(text, sentiment, layer=layer, head=head[i])
            else:
                intent = rule_intent(text, sentiment)
            tags.append(Tags(sentiment=sentiment, sentiment_score=round(s_score[i], 4), intent=intent,
                             topics=self.match_topics(text), risk=risk_flags(text), model_version=self.model_version))
        return tags
