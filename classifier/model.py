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
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertModel, PreTrainedModel

from classifier._base import ModelLoadError, Tags
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
    """A BERT encoder, masked mean pooling, and one linear head per task (sentiment, intent, topics)."""

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
        self.post_init()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> dict[str, torch.Tensor]:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = self.dropout((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))
        return {"sentiment": self.sentiment(pooled), "intent": self.intent(pooled), "topics": self.topics(pooled)}


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


class _BatchRunner:
    """Length-sorted batching around a tokenizer and a model callable."""

    def __init__(self, tokenizer: Any, *, batch_size: int, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length

    def batches(self, texts: Sequence[str]) -> Iterable[tuple[list[int], dict[str, torch.Tensor]]]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start: start + self.batch_size]
            enc = self.tokenizer([texts[i] or " " for i in idx], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt", return_token_type_ids=False)
            yield idx, {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


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
        if self.threads:
            _set_threads(self.threads)
        texts = [head_tail(t, self._runner.max_length - 2) for t in texts]
        n = len(texts)
        out = {"sentiment": torch.zeros(n, len(self.labels["sentiment"])),
               "intent": torch.zeros(n, len(self.labels["intent"])),
               "topics": torch.zeros(n, max(1, len(self.labels["topics"])))}
        with torch.inference_mode():
            for idx, enc in self._runner.batches(texts):
                logits = self.model(**enc)
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
        s_score, s_idx = probs["sentiment"].max(-1)
        i_idx = probs["intent"].argmax(-1)
        topic_hits = (probs["topics"] >= self.topic_threshold).nonzero().tolist()
        model_topics: list[set[str]] = [set() for _ in prepared]
        for row, col in topic_hits:
            if col < len(t_labels) and t_labels[col] in self._taxonomy:
                model_topics[row].add(t_labels[col])
        tags = []
        for i, text in enumerate(prepared):
            keyword = self.match_topics(text)
            extra = tuple(t for t in self.match_topics.topic_ids if t in model_topics[i] and t not in keyword)
            sentiment = s_labels[int(s_idx[i])]
            intent = rule_intent(text, sentiment) if self.intent_mode == "rules" else i_labels[int(i_idx[i])]
            tags.append(Tags(sentiment=sentiment, sentiment_score=round(float(s_score[i]), 4), intent=intent,
                             topics=tuple(t for t in self.match_topics.topic_ids if t in keyword or t in extra),
                             risk=risk_flags(text), model_version=self.model_version))
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
        if self.threads:
            _set_threads(self.threads)
        probs = torch.zeros(len(prepared), len(self.mapping))
        with torch.inference_mode():
            for idx, enc in self._runner.batches(prepared):
                probs[torch.tensor(idx)] = torch.softmax(self.model(**enc).logits.float(), -1)
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
            model, info = VocModel.from_pretrained(path, config=config, local_files_only=True, output_loading_info=True,
                                                   attn_implementation="sdpa")
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
