"""Inference: load a saved model directory and tag texts in fast, length-sorted batches.

No training imports here (see :mod:`classifier.train`). Two kinds of directory load through the one
``classifier.model`` setting:

* a VOC model (``config.json`` has ``voc_labels``): a BERT-style encoder with sentiment, intent and topic
  heads, saved by :func:`save_model` — the shipped ``classifier/models/voc-small`` or one fine-tuned from
  any local checkpoint;
* any local Hugging Face sequence-classification checkpoint whose labels name sentiments
  (negative/positive[/neutral], 负面/正面, …): it supplies sentiment; intent comes from rules.

Either way taxonomy keyword topics and risk rules are applied on top, so a topic added to topics.yaml is
tagged at once. Loading is ``local_files_only`` and refuses an incomplete directory.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertModel, PreTrainedModel

from classifier._base import ModelLoadError, Tags
from classifier.ngram import NgramSentiment, pad_batch
from classifier.normalize import check_normalization, classification_text
from classifier.risk import risk_flags
from classifier.rules import TopicMatcher, rule_intent

__all__ = ["VocModel", "ModelClassifier", "HFSentimentClassifier", "load_model_classifier", "save_model", "head_tail",
           "TOPIC_THRESHOLD", "REQUIRED_FILES"]

#: A model topic is tagged when its probability reaches this (keyword matches are always tagged).
TOPIC_THRESHOLD = 0.5
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json or vocab.txt", "README.md (VOC models)")


class VocModel(PreTrainedModel):
    """A BERT encoder, masked mean pooling, and one linear head per task (sentiment, intent, topics).

    With ``config.voc_ngram_buckets`` > 0 the model also holds a character n-gram sentiment model
    (:class:`classifier.ngram.NgramSentiment`, trained separately by ``voc train``); the sentiment output is
    then the log of the two models' averaged probabilities, so its softmax is that average. Without it (the
    encoder while it trains, older saved models) sentiment is the encoder's head alone. ``sentiment_from``
    ("ensemble", "encoder" or "ngram") picks one part instead, to measure each (not saved).
    """

    config_class = BertConfig
    base_model_prefix = "bert"
    _supports_sdpa = True

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        labels = config.voc_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        h = config.hidden_size
        self.sentiment = nn.Linear(h, len(labels["sentiment"]))
        self.intent = nn.Linear(h, len(labels["intent"]))
        self.topics = nn.Linear(h, max(1, len(labels["topics"])))
        buckets = int(getattr(config, "voc_ngram_buckets", 0) or 0)
        self.ngram = NgramSentiment(buckets, len(labels["sentiment"])) if buckets else None
        self.sentiment_from = "ensemble"
        self.post_init()

    def attach_ngram(self, ngram: NgramSentiment) -> None:
        """Add a trained n-gram sentiment model (recorded in the config, so it saves and loads with the rest)."""
        if ngram.weight.shape[1] != self.sentiment.out_features:
            raise ValueError(f"n-gram model has {ngram.weight.shape[1]} sentiment labels, the encoder "
                             f"{self.sentiment.out_features}")
        self.ngram = ngram
        self.config.voc_ngram_buckets = ngram.buckets

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> dict[str, torch.Tensor]:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = self.dropout((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))
        sentiment = self.sentiment(pooled)
        if self.ngram is not None and self.sentiment_from != "encoder":
            ngram = self.ngram(input_ids, attention_mask)
            if self.sentiment_from == "ngram":
                sentiment = ngram
            else:
                sentiment = torch.log((torch.softmax(sentiment.float(), -1) + torch.softmax(ngram, -1)) / 2)
        return {"sentiment": sentiment, "intent": self.intent(pooled), "topics": self.topics(pooled)}


def _versions() -> dict[str, str]:
    import tokenizers
    import transformers

    return {"torch": torch.__version__.split("+")[0], "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "python": platform.python_version()}


def save_model(model: VocModel, tokenizer: Any, path: str | Path, *, card: str) -> Path:
    """Write a complete, self-describing model directory: safetensors weights, config.json (labels,
    normalization, library versions), the tokenizer, and the README.md model card."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.config.voc_versions = _versions()
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    (path / "README.md").write_text(card, encoding="utf-8")
    return path


def _check_complete(path: Path) -> dict[str, Any]:
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise ModelLoadError(path, "config.json is missing — not a Hugging Face model directory (expected "
                                   + ", ".join(REQUIRED_FILES) + "); rebuild it with `voc train`")
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(path, f"config.json is unreadable ({exc}); rebuild it with `voc train`") from exc
    missing = []
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        missing.append("model.safetensors")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append("tokenizer.json or vocab.txt")
    if "voc_labels" in cfg and not (path / "README.md").is_file():
        missing.append("README.md (model card)")
    if missing:
        raise ModelLoadError(path, "incomplete model directory, missing " + ", ".join(missing)
                             + " — refusing to build random weights; rebuild it with `voc train`"
                             + " (only safetensors weights are loaded)")
    return cfg


def head_tail(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters keeping the first quarter and the last three quarters."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + text[len(text) - (limit - head):]


def _set_threads(threads: int) -> None:
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


#: Padded tokens per batch at most (besides ``batch_size`` texts): keeps padding low when lengths vary.
MAX_BATCH_TOKENS = 4096


class _BatchRunner:
    """Length-sorted batching around a tokenizer and a model callable.

    Fast tokenizers encode every text once in Rust (a private copy of the backend: truncation on, no
    padding); batches are cut from the texts sorted by token count, at most ``batch_size`` texts and
    :data:`MAX_BATCH_TOKENS` padded tokens each. With ``workers`` > 1 there are at least that many batches,
    so every worker thread has one (see :meth:`run`).
    """

    def __init__(self, tokenizer: Any, *, batch_size: int, max_length: int, max_tokens: int = MAX_BATCH_TOKENS) -> None:
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_tokens = max_tokens
        self._backend = None
        self._pad_id = getattr(tokenizer, "pad_token_id", None)
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None and self._pad_id is not None and getattr(tokenizer, "padding_side", "right") == "right":
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
        order = sorted(range(n), key=lengths.__getitem__)
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:  # ascending, so lengths[i] is the padded width of the batch once i joins it
            if current and (len(current) >= cap or (len(current) + 1) * lengths[i] > self.max_tokens):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def batches(self, texts: Sequence[str], workers: int = 1) -> Iterable[tuple[list[int], dict[str, torch.Tensor]]]:
        ids = self.encode(texts)
        for idx in self.plan([len(r) for r in ids], workers):
            x, mask = pad_batch(ids, idx, self._pad_id or 0)
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
                _set_threads(threads)
            return [(idx, one(enc)) for idx, enc in work]
        _set_threads(1)
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
    """A loaded VOC model plus taxonomy keyword topics and risk rules."""

    def __init__(self, model: VocModel, tokenizer: Any, *, topics: Iterable[Any] = (), batch_size: int = 64,
                 threads: int | None = None, topic_threshold: float = TOPIC_THRESHOLD) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        cfg = model.config
        self.labels: dict[str, list[str]] = cfg.voc_labels
        self.model_version: str = getattr(cfg, "voc_model_version", "voc-unknown")
        self.threads = threads
        self.topic_threshold = topic_threshold
        #: "rules": intent from :func:`rule_intent` given the model's sentiment (default; see the model card);
        #: "model": the intent head's argmax.
        self.intent_mode: str = getattr(cfg, "voc_intent_mode", "rules")
        self.match_topics = TopicMatcher(tuple(topics))
        self._taxonomy = set(self.match_topics.topic_ids)
        self._runner = _BatchRunner(tokenizer, batch_size=batch_size,
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
                out["intent"][index] = torch.softmax(logits["intent"].float(), -1)
                out["topics"][index] = torch.sigmoid(logits["topics"].float())
        return out

    def predict(self, texts: Sequence[str]) -> list[Tags]:
        prepared = [classification_text(t or "") for t in texts]
        if not prepared:
            return []
        probs = self.predict_proba(prepared)
        s_labels, i_labels, t_labels = self.labels["sentiment"], self.labels["intent"], self.labels["topics"]
        s_score, s_idx = (v.tolist() for v in probs["sentiment"].max(-1))
        i_idx = probs["intent"].argmax(-1).tolist()
        topic_hits = (probs["topics"] >= self.topic_threshold).nonzero().tolist()
        model_topics: list[set[str]] = [set() for _ in prepared]
        for row, col in topic_hits:
            if col < len(t_labels) and t_labels[col] in self._taxonomy:
                model_topics[row].add(t_labels[col])
        topic_ids = self.match_topics.topic_ids
        rules = self.intent_mode == "rules"
        tags = []
        for i, text in enumerate(prepared):
            keyword = self.match_topics(text)
            extra = model_topics[i]
            sentiment = s_labels[s_idx[i]]
            intent = rule_intent(text, sentiment) if rules else i_labels[i_idx[i]]
            topics = tuple(t for t in topic_ids if t in keyword or t in extra) if extra else keyword
            tags.append(Tags(sentiment=sentiment, sentiment_score=round(s_score[i], 4), intent=intent,
                             topics=topics, risk=risk_flags(text), model_version=self.model_version))
        return tags


_SENTIMENT_NAMES = {
    "negative": "negative", "neg": "negative", "负面": "negative", "消极": "negative", "差评": "negative",
    "neutral": "neutral", "neu": "neutral", "中性": "neutral",
    "positive": "positive", "pos": "positive", "正面": "positive", "积极": "positive", "好评": "positive",
}


class HFSentimentClassifier:
    """Any local sequence-classification checkpoint with sentiment labels; intent by rules."""

    def __init__(self, model: Any, tokenizer: Any, mapping: list[str], *, name: str, topics: Iterable[Any] = (),
                 batch_size: int = 64, threads: int | None = None) -> None:
        self.model = model.eval()
        self.mapping = mapping
        self.model_version = f"hf-{name}"
        self.threads = threads
        self.match_topics = TopicMatcher(tuple(topics))
        max_len = min(512, int(getattr(model.config, "max_position_embeddings", 512)))
        self._runner = _BatchRunner(tokenizer, batch_size=batch_size, max_length=max_len)

    def predict(self, texts: Sequence[str]) -> list[Tags]:
        prepared = [classification_text(t or "") for t in texts]
        probs = torch.zeros(len(prepared), len(self.mapping))
        if not prepared:
            return []
        with torch.inference_mode():
            for idx, output in self._runner.run(self.model, prepared, self.threads):
                probs[torch.tensor(idx)] = torch.softmax(output.logits.float(), -1)
        out = []
        for i, text in enumerate(prepared):
            score, j = probs[i].max(-1)
            sentiment = self.mapping[int(j)]
            out.append(Tags(sentiment=sentiment, sentiment_score=round(float(score), 4),
                            intent=rule_intent(text, sentiment), topics=self.match_topics(text),
                            risk=risk_flags(text), model_version=self.model_version))
        return out


def _sentiment_mapping(path: Path, id2label: dict[Any, str]) -> list[str]:
    labels = [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))]
    mapped = [_SENTIMENT_NAMES.get(lab.strip().lower()) for lab in labels]
    if all(mapped):
        return [m for m in mapped if m]
    raise ModelLoadError(path, f"its labels {labels} are not sentiments (negative/neutral/positive, 负面/正面…); "
                               "fine-tune it with `voc train --base DIR` to add VOC's heads")


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar on stderr while we load (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    if was:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def load_model_classifier(path: str | Path, *, topics: Iterable[Any] = (), threads: int = 2, batch_size: int = 64,
                          quantize: bool = False) -> ModelClassifier | HFSentimentClassifier:
    """Load a model directory (see the module docstring); raise :class:`ModelLoadError` if it can't be."""
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(path, "no such model directory — run `voc train`, or set classifier.model: rules")
    cfg = _check_complete(path)
    _set_threads(threads)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 — wrap whatever the tokenizer loader raises
        raise ModelLoadError(path, f"tokenizer files are unreadable ({exc}); rebuild with `voc train`") from exc
    if "voc_labels" in cfg:
        check_normalization(cfg.get("voc_normalization"), path=str(path))
        config = BertConfig.from_pretrained(path, local_files_only=True)
        try:
            with _quiet_loading():
                model, info = VocModel.from_pretrained(path, config=config, local_files_only=True,
                                                       output_loading_info=True, attn_implementation="sdpa")
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(path, f"weights are unreadable ({exc}); rebuild with `voc train`") from exc
        missing = list(info.get("missing_keys") or [])
        if missing:
            raise ModelLoadError(path, f"weights lack {len(missing)} tensors (e.g. {missing[0]}) — refusing random "
                                       "weights; rebuild with `voc train`")
        if quantize:
            model = _quantize(model)
        return ModelClassifier(model, tokenizer, topics=topics, batch_size=batch_size, threads=threads)
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    archs = list(getattr(config, "architectures", None) or [])
    if not any(a.endswith("ForSequenceClassification") for a in archs):
        raise ModelLoadError(path, f"it is a plain {archs or config.model_type} checkpoint without classification "
                                   "heads; fine-tune it with `voc train --base DIR` to add VOC's heads")
    mapping = _sentiment_mapping(path, config.id2label)
    try:
        with _quiet_loading():
            model, info = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True,
                                                                              output_loading_info=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(path, f"weights are unreadable ({exc})") from exc
    if info.get("missing_keys"):
        raise ModelLoadError(path, f"weights lack tensors {list(info['missing_keys'])[:3]} — refusing random weights")
    if quantize:
        model = _quantize(model)
    return HFSentimentClassifier(model, tokenizer, mapping, name=path.name, topics=topics, batch_size=batch_size,
                                 threads=threads)


def _quantize(model: Any) -> Any:
    """int8 dynamic quantization of the Linear layers (CPU inference)."""
    import warnings

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch 2.13 marks the eager quantization API deprecated; still the CPU path
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
