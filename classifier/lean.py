"""Load a VOC model directory for inference without importing transformers.

Importing transformers takes about 1.6 s on this project's machines (it pulls in torch.distributed,
torch._dynamo and sympy), more than the shipped model needs to load and tag thousands of texts — and every
crawl's classifier worker, ``voc classify`` and the demo paid it. A VOC model is a plain BERT encoder with
three linear heads (and optionally the n-gram sentiment part), so this module rebuilds that forward pass in
torch alone, with the same parameter names, and loads the same ``model.safetensors`` strictly (a missing or
unexpected tensor is an error, never a random weight).

Only what ``voc train`` produces is taken here: ``model_type`` bert, absolute positions, the exact GELU,
and a ``tokenizer.json``. Anything else (:func:`supports` says why) loads through transformers in
:mod:`classifier.model`. ``tests/classifier/test_lean.py`` checks both paths give the same outputs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from classifier._base import ModelLoadError
from classifier.inference import ModelClassifier, quantize_linear
from classifier.intent_model import model_layer
from classifier.invariant import rowwise
from classifier.ngram import NgramSentiment

__all__ = ["LeanVocModel", "heads", "supports", "load_lean_classifier"]


class _Embeddings(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings.weight[0] + self.position_embeddings(positions)
        return self.LayerNorm(x)


class _Linear(nn.Module):
    """A holder named like transformers' ``BertSelfOutput``/``BertOutput``: ``dense`` then ``LayerNorm``."""

    def __init__(self, n_in: int, n_out: int, eps: float | None = None) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        if eps is not None:
            self.LayerNorm = nn.LayerNorm(n_out, eps=eps)


class _SelfAttention(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)


class _Attention(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _Linear(c.hidden_size, c.hidden_size, c.layer_norm_eps)


class _Layer(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.attention = _Attention(c)
        self.intermediate = _Linear(c.hidden_size, c.intermediate_size)
        self.output = _Linear(c.intermediate_size, c.hidden_size, c.layer_norm_eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        a = self.attention.self

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, h // self.heads).transpose(1, 2)

        ctx = F.scaled_dot_product_attention(split(a.query(x)), split(a.key(x)), split(a.value(x)), attn_mask=keep,
                                             scale=1 / math.sqrt(h // self.heads))
        ctx = ctx.transpose(1, 2).reshape(b, n, h)
        out = self.attention.output
        x = out.LayerNorm(out.dense(ctx) + x)
        y = self.output.dense(F.gelu(self.intermediate.dense(x)))
        return self.output.LayerNorm(y + x)


class _Encoder(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class _Bert(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.embeddings = _Embeddings(c)
        self.encoder = _Encoder(c)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        keep = attention_mask.bool()[:, None, None, :]  # padded keys take no attention
        x = self.embeddings(input_ids)
        for layer in self.encoder.layer:
            x = layer(x, keep)
        return x


class LeanVocModel(nn.Module):
    """The inference half of :class:`classifier.model.VocModel`: same parameters, same outputs, eval only."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        c = SimpleNamespace(**config)
        self.config = c
        labels = c.voc_labels
        self.bert = _Bert(c)
        self.sentiment = nn.Linear(c.hidden_size, len(labels["sentiment"]))
        self.intent = nn.Linear(c.hidden_size, len(labels["intent"]))
        self.topics = nn.Linear(c.hidden_size, max(1, len(labels["topics"])))
        buckets = int(getattr(c, "voc_ngram_buckets", 0) or 0)
        self.ngram = NgramSentiment(buckets, len(labels["sentiment"])) if buckets else None
        self.sentiment_from = "ensemble"  # or "encoder"/"ngram", as VocModel.sentiment_from

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> dict[str, torch.Tensor]:
        return heads(self, self.bert(input_ids, attention_mask), input_ids, attention_mask)


def heads(model: Any, hidden: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
          dropout: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The heads' logits from the encoder's last hidden states — masked mean pooling (then ``dropout`` while
    training), and sentiment per ``model.sentiment_from`` — shared by this model and ``VocModel``."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    if dropout is not None:
        pooled = dropout(pooled)
    sentiment = model.sentiment(pooled)
    if model.ngram is not None and model.sentiment_from != "encoder":
        ngram = model.ngram(input_ids, attention_mask)
        if model.sentiment_from == "ngram":
            sentiment = ngram
        else:
            sentiment = rowwise(torch.log, (torch.softmax(sentiment.float(), -1) + torch.softmax(ngram, -1)) / 2, 1.0)
    return {"sentiment": sentiment, "intent": model.intent(pooled), "topics": model.topics(pooled)}


#: config.json values this module reproduces (others load through transformers).
_SUPPORTED = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute", "is_decoder": False}


def supports(path: Path, cfg: dict[str, Any]) -> str | None:
    """None when the VOC model at ``path`` (its parsed ``config.json`` ``cfg``) loads here, else why not."""
    if "voc_labels" not in cfg:
        return "not a VOC model"
    for key, want in _SUPPORTED.items():
        if cfg.get(key, want) != want:
            return f"{key} is {cfg.get(key)!r}"
    if not (path / "tokenizer.json").is_file():
        return "no tokenizer.json"
    if not (path / "model.safetensors").is_file():
        return "weights are sharded"
    return None


def load_lean_classifier(path: Path, cfg: dict[str, Any], *, topics: Any = (), threads: int = 2, batch_size: int = 64,
                         quantize: bool = False) -> ModelClassifier:
    """The VOC model at ``path`` (``supports`` it) as a :class:`ModelClassifier`, without transformers."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as exc:  # noqa: BLE001 — wrap whatever the tokenizer loader raises
        raise ModelLoadError(path, f"tokenizer files are unreadable ({exc}); rebuild with `voc train`") from exc
    defaults = {"pad_token_id": 0, "type_vocab_size": 2, "layer_norm_eps": 1e-12}
    model = LeanVocModel({**defaults, **cfg})
    try:
        weights = load_file(str(path / "model.safetensors"))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(path, f"weights are unreadable ({exc}); rebuild with `voc train`") from exc
    for buffer in ("bert.embeddings.position_ids", "bert.embeddings.token_type_ids"):  # older transformers saved them
        weights.pop(buffer, None)
    result = model.load_state_dict(weights, strict=False)
    if result.missing_keys:
        raise ModelLoadError(path, f"weights lack {len(result.missing_keys)} tensors (e.g. {result.missing_keys[0]}) — "
                                   "refusing random weights; rebuild with `voc train`")
    if result.unexpected_keys:
        raise ModelLoadError(path, f"weights hold {len(result.unexpected_keys)} tensors this model does not have "
                                   f"(e.g. {result.unexpected_keys[0]}); rebuild with `voc train`")
    model.eval()
    if quantize:
        model = quantize_linear(model)
    pad_token = _tokenizer_config(path).get("pad_token")
    pad_id = tokenizer.token_to_id(pad_token) if isinstance(pad_token, str) else None
    return ModelClassifier(model, tokenizer, topics=topics, batch_size=batch_size, threads=threads,
                           pad_id=cfg.get("pad_token_id", 0) if pad_id is None else pad_id,
                           intent_layer=model_layer(path, cfg))


def _tokenizer_config(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
