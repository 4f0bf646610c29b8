"""`classifier:` section of voc.yaml — which model tags feedback, and how fast."""

from __future__ import annotations

from dataclasses import dataclass

from configs._validate import check_minimums

__all__ = ["ClassifierSettings"]


@dataclass(frozen=True, kw_only=True)
class ClassifierSettings:
    #: Path to a saved model directory (Hugging Face format), relative to the project home, or ``rules``.
    model: str = "classifier/models/voc-small"
    #: CPU threads for inference. With more than one, length-sorted batches run concurrently on this many
    #: worker threads, each with single-threaded torch ops (torch's global thread count is set to 1) —
    #: faster than splitting each small op over threads, and far steadier on a shared CPU.
    threads: int = 2
    #: Texts per model batch at most (batches are also capped at 4096 padded tokens; classifier.model).
    batch_size: int = 64
    #: int8 dynamic quantization of the Linear layers at load: about 2x faster on CPU, same accuracy within
    #: noise on the shipped model (bench/classify.py).
    quantize: bool = True
    #: SQLite file storing label corrections (``voc label``), used by the next ``voc train``.
    labels_path: str = "data/labels.db"
    #: Where ``voc train`` reads the training corpora by default (relative to the project home).
    training_data: str = "../shared/data"
    #: Weighted engagement (likes + 3·replies + 5·reposts) that flags an item ``viral``.
    viral_engagement: int = 2000

    def __post_init__(self) -> None:
        check_minimums(self, dict.fromkeys(("threads", "batch_size", "viral_engagement"), (1, "at least 1")),
                       prefix="classifier.")
