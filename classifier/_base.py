"""The classifier's public value types, protocol and exception tree.

Exception tree::

    ClassifierError                 root of every error raised by this package
    ├── ModelLoadError              a model directory is missing, incomplete or unreadable (carries .path)
    │   └── NormalizationMismatch   the model was trained with other normalization settings
    └── TrainingDataError           training data is absent or unusable (carries .path)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

# the labels have one home (configs/vocab.py), shared with the query language and the alert rules
from configs.vocab import INTENTS, RISKS, SENTIMENTS

__all__ = [
    "SENTIMENTS", "INTENTS", "RISKS", "Tags", "Classifier",
    "ClassifierError", "ModelLoadError", "NormalizationMismatch", "TrainingDataError",
]


@dataclass(frozen=True)
class Tags:
    """Every tag the classifier gives one text (the feedback document's sentiment … model_version fields)."""

    sentiment: str
    sentiment_score: float
    intent: str
    topics: tuple[str, ...]
    risk: tuple[str, ...]
    model_version: str

    def as_dict(self) -> dict[str, object]:
        return {
            "sentiment": self.sentiment,
            "sentiment_score": self.sentiment_score,
            "intent": self.intent,
            "topics": list(self.topics),
            "risk": list(self.risk),
            "model_version": self.model_version,
        }


@runtime_checkable
class Classifier(Protocol):
    """Anything that tags texts in batches."""

    model_version: str

    def predict(self, texts: Sequence[str], *, normalized: bool = False) -> list[Tags]:
        """Tags per text, in order. ``normalized``: the texts went through ``normalize_text`` already."""
        ...


class ClassifierError(Exception):
    """Root of the classifier package's errors."""


class _PathError(ClassifierError):
    """An error about one file or folder: ``path`` names it, ``reason`` says what is wrong and how to fix it;
    the message is ``what`` (with ``{path}``) and the reason."""

    what = "{path}"

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.what.format(path=self.path)}: {reason}")


class ModelLoadError(_PathError):
    """A model directory cannot be loaded. ``path`` names it; the message says how to fix it."""

    what = "cannot load classifier model {path}"


class NormalizationMismatch(ModelLoadError):
    """The model's saved normalization settings differ from this code's; retrain or upgrade."""


class TrainingDataError(_PathError):
    """Training data is missing or unusable. ``path`` names the file or folder."""
