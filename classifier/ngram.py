"""A character n-gram linear sentiment model, shipped inside the VOC model and averaged with the encoder.

Features are the model's own token ids (characters; ASCII as word pieces), [CLS]/[SEP] included: every
unigram, bigram and trigram of a text is hashed into ``buckets`` rows of a weight table, and a text's logits
are the mean of its n-grams' rows plus a bias — logistic regression on length-normalized hashed n-gram counts
(fastText without a hidden layer). It reads the same truncated token ids as the encoder, so it adds no
tokenization work, and padding never changes a text's features.

It is trained on its own, after the encoder, on the same training rows (:func:`fit_ngram`), and the two
models' sentiment probabilities are averaged with equal weights (:class:`classifier.model.VocModel`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["NgramSentiment", "ngram_ids", "fit_ngram", "pad_batch"]

_P1, _P2 = 1_000_003, 999_983
#: n-gram orders hashed (token ids are below a few thousand, so the products stay far inside int64).
ORDERS = (1, 2, 3)


def ngram_ids(input_ids: torch.Tensor, attention_mask: torch.Tensor, buckets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(bucket of every n-gram, 1.0 where the whole n-gram lies inside the text) for a right-padded batch."""
    x = input_ids.long()
    m = attention_mask.bool()
    ids, masks = [x % buckets], [m]
    if x.shape[1] > 1:
        ids.append((x[:, :-1] * _P1 + x[:, 1:]) % buckets)
        masks.append(m[:, 1:])
    if x.shape[1] > 2:
        ids.append(((x[:, :-2] * _P1 + x[:, 1:-1]) * _P2 + x[:, 2:]) % buckets)
        masks.append(m[:, 2:])
    return torch.cat(ids, 1), torch.cat(masks, 1).to(torch.float32)


class NgramSentiment(nn.Module):
    """Hashed character 1–3-gram logistic regression over the sentiment labels."""

    def __init__(self, buckets: int, num_labels: int) -> None:
        super().__init__()
        if buckets < 1:
            raise ValueError(f"n-gram buckets must be positive, got {buckets}")
        self.buckets = buckets
        self.weight = nn.Parameter(torch.zeros(buckets, num_labels))
        self.bias = nn.Parameter(torch.zeros(num_labels))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ids, mask = ngram_ids(input_ids, attention_mask, self.buckets)
        rows = nn.functional.embedding(ids, self.weight)
        summed = (rows * mask.unsqueeze(-1)).sum(1)
        return summed / mask.sum(1, keepdim=True).clamp(min=1.0) + self.bias


def pad_batch(ids: Sequence[Sequence[int]], idx: Sequence[int], pad_id: int = 0,
              width: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(right-padded token ids, attention mask) of the texts ``idx``: training and inference batches alike;
    padded to ``width`` when that is wider than the longest text."""
    rows = [list(ids[i]) for i in idx]
    width = max(width, *map(len, rows))
    x = torch.tensor([r + [pad_id] * (width - len(r)) for r in rows], dtype=torch.long)
    lens = torch.tensor([len(r) for r in rows])
    return x, (torch.arange(width).unsqueeze(0) < lens.unsqueeze(1)).long()


def fit_ngram(ids: Sequence[Sequence[int]], labels: Sequence[int], *, num_labels: int, buckets: int, epochs: int = 5,
              batch_size: int = 256, learning_rate: float = 0.05, seed: int = 0) -> NgramSentiment:
    """Train an :class:`NgramSentiment` on token ids (Adam, linear learning-rate decay, cross-entropy)."""
    torch.manual_seed(seed)
    rnd = random.Random(seed)
    model = NgramSentiment(buckets, num_labels)
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    y = torch.tensor(list(labels), dtype=torch.long)
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), rnd.random()))
    chunks = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    total, step = max(1, math.ceil(len(chunks) * epochs)), 0
    model.train()
    for _ in range(epochs):
        rnd.shuffle(chunks)
        for idx in chunks:
            for group in opt.param_groups:
                group["lr"] = learning_rate * (1 - step / total)
            x, m = pad_batch(ids, idx)
            loss = nn.functional.cross_entropy(model(x, m), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    return model.eval()
