"""`classifier:` section of voc.yaml — which model tags feedback, and how fast."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClassifierSettings"]


@dataclass(frozen=True, kw_only=True)
class ClassifierSettings:
    #: Path to a saved model directory (Hugging Face format), relative to the project home, or ``rules``.
    model: str = "classifier/models/voc-small"
    threads: int = 2
    batch_size: int = 64
    quantize: bool = False

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"classifier.threads must be at least 1, got {self.threads}")
        if self.batch_size < 1:
            raise ValueError(f"classifier.batch_size must be at least 1, got {self.batch_size}")
