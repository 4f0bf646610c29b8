"""The transformers side of the classifier: :class:`VocModel` (what ``voc train`` trains and saves with
:func:`save_model`), and loading through transformers what :mod:`classifier.lean` does not take — a VOC
model of another architecture, or any local Hugging Face sequence-classification checkpoint whose labels
name sentiments (negative/positive[/neutral], 负面/正面, …), which supplies sentiment while intent comes
from rules. :mod:`classifier.loading` picks the path; loading is ``local_files_only``.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertModel, PreTrainedModel

from classifier._base import ModelLoadError, Tags
from classifier.inference import BatchRunner, ModelClassifier, head_tail, quantize_linear
from classifier.lean import heads
from classifier.ngram import NgramSentiment
from classifier.normalize import classification_text
from classifier.risk import risk_flags
from classifier.intent_model import model_layer
from classifier.rules import rule_intent
from classifier.topics import TopicTagger

__all__ = ["VocModel", "ModelClassifier", "HFSentimentClassifier", "load_hf_classifier", "save_model",
           "head_tail"]  # ModelClassifier, head_tail: from classifier.inference


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
        return heads(self, hidden, input_ids, attention_mask, self.dropout)


def _versions() -> dict[str, str]:
    import tokenizers
    import transformers

    return {"torch": torch.__version__.split("+")[0], "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "python": platform.python_version()}


def save_model(model: VocModel, tokenizer: Any, path: str | Path, *, card: str) -> Path:
    """Write a complete, self-describing model directory: safetensors weights, config.json (labels,
    normalization, library versions), the tokenizer, and the README.md model card. A model's own intent layer
    (``voc_intent_mode: layer``) is not written: the copy tags intent with the shipped text-only layer
    (``rules``) until ``python -m classifier.intent_fit --model DIR`` fits it one."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.config.voc_versions = _versions()
    if getattr(model.config, "voc_intent_mode", None) == "layer":
        model.config.voc_intent_mode = "rules"
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    (path / "README.md").write_text(card, encoding="utf-8")
    return path


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
        self.match_topics = TopicTagger(tuple(topics))
        max_len = min(512, int(getattr(model.config, "max_position_embeddings", 512)))
        self._runner = BatchRunner(tokenizer, batch_size=batch_size, max_length=max_len)

    def predict(self, texts: Sequence[str], *, normalized: bool = False) -> list[Tags]:
        prepared = [classification_text(t or "", normalized=normalized) for t in texts]
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


def load_hf_classifier(path: Path, cfg: dict[str, Any], *, topics: Iterable[Any] = (), threads: int = 2,
                       batch_size: int = 64, quantize: bool = False) -> ModelClassifier | HFSentimentClassifier:
    """Load a complete model directory (``cfg``: its config.json) through transformers: a VOC model that
    :mod:`classifier.lean` does not take, or a sentiment checkpoint (:func:`classifier.loading.load_model_classifier`
    picks)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 — wrap whatever the tokenizer loader raises
        raise ModelLoadError(path, f"tokenizer files are unreadable ({exc}); rebuild with `voc train`") from exc
    if "voc_labels" in cfg:
        config = BertConfig.from_pretrained(path, local_files_only=True)
        try:
            with _quiet_loading():
                # output_loading_info=True makes it a (model, info) pair; transformers types only the model.
                model, info = cast(tuple[VocModel, dict[str, Any]], VocModel.from_pretrained(
                    path, config=config, local_files_only=True, output_loading_info=True, attn_implementation="sdpa"))
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(path, f"weights are unreadable ({exc}); rebuild with `voc train`") from exc
        missing = list(info.get("missing_keys") or [])
        if missing:
            raise ModelLoadError(path, f"weights lack {len(missing)} tensors (e.g. {missing[0]}) — refusing random "
                                       "weights; rebuild with `voc train`")
        if quantize:
            model = quantize_linear(model)
        return ModelClassifier(model, tokenizer, topics=topics, batch_size=batch_size, threads=threads,
                               intent_layer=model_layer(path, cfg))
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
        model = quantize_linear(model)
    return HFSentimentClassifier(model, tokenizer, mapping, name=path.name, topics=topics, batch_size=batch_size,
                                 threads=threads)
