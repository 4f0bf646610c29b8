"""Batch invariance: the same text gets bit-identical outputs whatever batch it is in.

torch's dynamic quantization (``quantize_dynamic``) scales a Linear layer's input by one factor for the whole
batch tensor — its largest absolute value — so a text's activations were rounded differently depending on
which other texts (and how much padding) shared its batch: probabilities moved in the second or third
decimal, enough to flip a topic near its threshold (2 of 434 demo posts differed between two identical
crawls) and the rounded sentiment score of about half of all texts. An fp32 matmul is not batch-invariant
either (a single row takes another kernel than many: outputs differ in the last bits).

Here every token row is scaled by its own absolute maximum (per-token activation scale, symmetric, 127
levels), weights per output channel, and the product is taken in integers (``torch._int_mm``: int8 × int8 →
int32), which is exact whatever the kernel's summation order. Dequantization is elementwise. So a row's
output depends on that row alone, bit for bit — and per-token scales are also finer than one per batch.

Transcendental functions (exp, log, erf…) have a vectorized and a scalar implementation in torch that can
differ in the last bit, and a tensor's tail elements take the scalar one: on a few-column tensor such as
topic logits, where a text's row falls decided which. :func:`rowwise` pads the columns so no row is a tail.
(With :data:`classifier.inference.WIDTH_STEP` padding, attention and pooling see the same width too.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["Int8Linear", "quantize_linear", "rowwise"]

#: Columns are padded to a multiple of this (two AVX-512 vectors of float32: torch's vectorized loops step by
#: two vectors, so no row ever lands in a scalar tail).
_ROW_ALIGN = 64


def rowwise(fn: Any, x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``fn(x)`` for an elementwise ``fn``, with every row computed by the same code path (see above)."""
    cols = x.shape[-1]
    pad = -cols % _ROW_ALIGN
    if not pad:
        return fn(x.contiguous())
    return fn(nn.functional.pad(x, (0, pad), value=fill))[..., :cols]


class Int8Linear(nn.Module):
    """``nn.Linear`` with int8 weights (per output channel) and per-row int8 activations, batch-invariant."""

    qweight_t: torch.Tensor
    w_scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        w = linear.weight.detach().float()
        scale = (w.abs().amax(1) / 127.0).clamp(min=1e-12)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("qweight_t", torch.round(w / scale[:, None]).to(torch.int8).t().contiguous())
        self.register_buffer("w_scale", scale)
        b = linear.bias.detach().float() if linear.bias is not None else torch.zeros(self.out_features)
        self.register_buffer("bias", b)
        # torch._int_mm wants at least 17 rows and dimensions that are multiples of 8 on some builds
        self._padded_k = -(-self.in_features // 8) * 8
        if self._padded_k != self.in_features:
            self.qweight_t = torch.cat([self.qweight_t, torch.zeros(self._padded_k - self.in_features,
                                                                     self.out_features, dtype=torch.int8)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        rows = x.reshape(-1, shape[-1]).float()
        peak = rows.abs().amax(1, keepdim=True).clamp_(min=1e-12)
        q = rows.mul(127.0 / peak).round_().to(torch.int8)
        if self._padded_k != self.in_features:
            q = nn.functional.pad(q, (0, self._padded_k - self.in_features))
        n = q.shape[0]
        if n < 17:  # a minimum row count of the int8 kernel; zero rows change no other row
            q = nn.functional.pad(q, (0, 0, 0, 17 - n))
        acc = torch._int_mm(q, self.qweight_t)[:n]
        out = acc.to(torch.float32).mul_(peak.div_(127.0)).mul_(self.w_scale).add_(self.bias)
        return out.reshape(*shape[:-1], self.out_features)


def quantize_linear(model: Any) -> Any:
    """``model`` with every ``nn.Linear`` replaced by an :class:`Int8Linear` (in place; returned)."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, Int8Linear(child))
        else:
            quantize_linear(child)
    return model
