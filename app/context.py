"""The composition root: builds each part once from the one Settings object, on first use."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from configs import Settings

if TYPE_CHECKING:
    from classifier import Classifier
    from classifier.normalize import Segmenter
    from index import FeedbackIndex

__all__ = ["AppContext"]


class AppContext:
    """Holds the settings and lazily builds the index, classifier and alert store from them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def tokenizer(self) -> Segmenter:
        from classifier import make_tokenizer

        return make_tokenizer(self.settings)

    @cached_property
    def index(self) -> FeedbackIndex:
        from index import open_index

        return open_index(self.settings.index, home=self.settings.home, tokenizer=self.tokenizer, secrets=self.settings.secrets)

    @cached_property
    def classifier(self) -> Classifier:
        from classifier import load_classifier

        return load_classifier(self.settings)

    def close(self) -> None:
        if "index" in self.__dict__:
            self.index.close()
