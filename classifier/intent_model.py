"""The learned intent layer: multinomial logistic regression over a text's character 1–3-grams, the intent
rules' decision and cue flags, and the sentiment, fitted on the hand-labelled intent set.

The rules of :mod:`classifier.intent` were written from the ``dev`` part of ``classifier/eval/intent.jsonl``
and over-fit it (macro-F1 0.85 on dev, 0.76 on test). This layer weighs them against the words of the text:
:func:`classifier.intent_fit.fit` trains it on the ``dev`` and ``train`` parts (``train`` was labelled after
the rules were written, so there the rules' errors are honest), and writes ``intent_weights.json`` beside this
module. The ``test`` part is never used for fitting. A text's scores are a sum of per-n-gram rows and a dense
part, computed per text, so a text gets the same intent whatever its batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from classifier._base import INTENTS, SENTIMENTS, ModelLoadError

__all__ = ["WEIGHTS", "LAYER_FILE", "IntentWeights", "grams", "dense_features", "load_weights", "read_weights",
           "model_layer"]

WEIGHTS = Path(__file__).with_name("intent_weights.json")
#: A VOC model's own layer (fitted together with its intent head), in the model directory.
LAYER_FILE = "intent_layer.json"
#: n-gram orders read from the lower-cased normalized text.
ORDERS = (1, 2, 3)


def grams(text: str) -> list[str]:
    """The distinct character n-grams (orders :data:`ORDERS`) of a lower-cased normalized text, in a fixed
    order (by order, then position: a text's scores are summed in this order, so they never depend on the
    process's string hashing)."""
    low = text.lower()
    return list(dict.fromkeys(low[i:i + n] for n in ORDERS for i in range(len(low) - n + 1)))


def dense_features(rule: str, sentiment: str, cues: tuple[bool, ...]) -> list[float]:
    """One-hot rule intent, one-hot sentiment, then the cue flags, in that order (what the weights expect)."""
    return ([1.0 if rule == lab else 0.0 for lab in INTENTS] + [1.0 if sentiment == s else 0.0 for s in SENTIMENTS]
            + [1.0 if c else 0.0 for c in cues])


class IntentWeights:
    """The fitted layer: ``gram_index`` (n-gram → row of ``gram_w``), ``dense_w``, ``bias``, over ``labels``."""

    def __init__(self, labels: list[str], grams_: list[str], gram_w: np.ndarray, dense_w: np.ndarray,
                 bias: np.ndarray, cues: list[str]) -> None:
        if list(labels) != list(INTENTS):
            raise ValueError(f"intent weights are for labels {labels}, expected {list(INTENTS)}")
        if gram_w.shape != (len(grams_), len(labels)) or bias.shape != (len(labels),):
            raise ValueError("intent weights: shapes do not match the label and n-gram counts")
        self.labels = list(labels)
        self.gram_index = {g: i for i, g in enumerate(grams_)}
        self.gram_w, self.dense_w, self.bias, self.cues = gram_w, dense_w, bias, list(cues)
        if dense_w.shape != (len(labels) + len(SENTIMENTS) + len(self.cues), len(labels)):
            raise ValueError("intent weights: the dense block does not match the labels, sentiments and cues")
        # every feature is 0/1, so a text's scores are the bias plus the sum of its active features' rows:
        # one table, n-gram rows then the dense rows (rule intent, sentiment, cues)
        self._table = np.vstack([gram_w, dense_w])
        n = len(grams_)
        self._rule_row = {lab: n + i for i, lab in enumerate(labels)}
        self._sentiment_row = {s: n + len(labels) + i for i, s in enumerate(SENTIMENTS)}
        self._cue0 = n + len(labels) + len(SENTIMENTS)
        # an n-gram kept by document frequency has both of its (n-1)-grams kept too: then a bigram need only
        # be looked up where both characters are known, a trigram where both bigrams are (a third of the work)
        self._closed = ORDERS == (1, 2, 3) and all(
            len(g) == 1 or (g[:-1] in self.gram_index and g[1:] in self.gram_index) for g in grams_)

    def _gram_rows(self, low: str) -> list[int]:
        """The table rows of the distinct known n-grams of ``low``, in :func:`grams` order."""
        get = self.gram_index.get
        if not self._closed:
            found = map(get, [low[i:i + n] for n in ORDERS for i in range(len(low) - n + 1)])
            return list(dict.fromkeys([r for r in found if r is not None]))
        uni = list(map(get, low))
        bi = [get(low[i:i + 2]) if uni[i] is not None and uni[i + 1] is not None else None for i in range(len(low) - 1)]
        tri = [get(low[i:i + 3]) for i in range(len(low) - 2) if bi[i] is not None and bi[i + 1] is not None]
        return list(dict.fromkeys([r for r in (*uni, *bi, *tri) if r is not None]))

    def predict_features(self, low: str, rule: str, sentiment: str, cues: Sequence[bool],
                         head: Sequence[float] | None = None) -> str:
        """:meth:`predict` from the parts (lower-cased text, rule intent, sentiment, cue flags in
        :attr:`cues` order) without building the dense vector — the fast path :func:`intent_of` takes."""
        rows = self._gram_rows(low)
        rows.append(self._rule_row[rule])
        if sentiment in self._sentiment_row:
            rows.append(self._sentiment_row[sentiment])
        rows.extend(self._cue0 + i for i, on in enumerate(cues) if on)
        out = self._table[rows].sum(0) + self.bias
        if head is not None:
            out = out + np.asarray(head, dtype=np.float64)
        return self.labels[int(np.argmax(out))]

    def scores(self, text: str, dense: list[float], head: Sequence[float] | None = None) -> np.ndarray:
        """Logits over :attr:`labels` for one normalized text and its dense features, plus ``head``: the
        model's intent-head log-probabilities where this layer was fitted with them (a model's own layer)."""
        rows = [self.gram_index[g] for g in grams(text) if g in self.gram_index]
        out = self.bias + np.asarray(dense, dtype=np.float64) @ self.dense_w
        if rows:
            out = out + self.gram_w[rows].sum(0)
        if head is not None:
            out = out + np.asarray(head, dtype=np.float64)
        return out

    def predict(self, text: str, dense: list[float], head: Sequence[float] | None = None) -> str:
        return self.labels[int(np.argmax(self.scores(text, dense, head)))]

    def to_json(self) -> dict[str, object]:
        grams_ = sorted(self.gram_index, key=self.gram_index.__getitem__)
        return {"labels": self.labels, "cues": self.cues, "bias": _round(self.bias),
                "dense": _round(self.dense_w), "grams": {g: _round(self.gram_w[i]) for i, g in enumerate(grams_)}}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> IntentWeights:
        gram_map = data["grams"]
        assert isinstance(gram_map, dict)
        grams_ = list(gram_map)
        n = len(data["labels"])  # type: ignore[arg-type]
        gram_w = np.array([gram_map[g] for g in grams_], dtype=np.float64).reshape(len(grams_), n)
        return cls(list(data["labels"]), grams_, gram_w,  # type: ignore[call-overload]
                   np.array(data["dense"], dtype=np.float64), np.array(data["bias"], dtype=np.float64),
                   list(data["cues"]))  # type: ignore[call-overload]


def _round(a: np.ndarray) -> list:
    return np.round(a.astype(np.float64), 4).tolist()


@lru_cache(maxsize=1)
def load_weights() -> IntentWeights | None:
    """The shipped text-only layer (``intent_weights.json`` beside this module), read once; None without it."""
    return read_weights(WEIGHTS)


def read_weights(path: Path) -> IntentWeights | None:
    """The layer stored at ``path`` (a model's own is ``LAYER_FILE`` in its directory); None where the file
    does not exist. Raise ValueError for a file that is not one."""
    if not path.is_file():
        return None
    try:
        return IntentWeights.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise ValueError(f"{path}: not an intent layer ({exc}); refit it with `python -m classifier.intent_fit`") from exc


def model_layer(path: Path, cfg: dict[str, object]) -> IntentWeights | None:
    """A VOC model directory's own intent layer where its config says ``voc_intent_mode: layer``, else None.
    Raise :class:`ModelLoadError` where the config asks for a layer that is absent or unreadable."""
    if cfg.get("voc_intent_mode") != "layer":
        return None
    try:
        layer = read_weights(path / LAYER_FILE)
    except ValueError as exc:
        raise ModelLoadError(path, str(exc)) from exc
    if layer is None:
        raise ModelLoadError(path, f"config.json asks for an intent layer but {LAYER_FILE} is missing — refit it with "
                                   "`python -m classifier.intent_fit --model DIR`, or set voc_intent_mode to rules")
    return layer
