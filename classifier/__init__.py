"""Tags Chinese feedback: sentiment, intent, taxonomy topics and risk flags.

Public surface::

    Tags, Classifier                     value type and protocol (``predict(texts) -> list[Tags]``)
    load_classifier(settings)            the configured classifier: a model dir, or the literal ``rules``
    make_tokenizer(settings)             jieba segmentation (normalized text, product/feature user dict)
    normalize_text                       the versioned normalization pipeline (classifier.normalize)
    engagement_flags, risk_flags         risk rules (classifier.risk)
    ModelLoadError, ...                  the exception tree (see classifier._base)

Training lives in ``classifier.train`` and evaluation in ``classifier.evaluate``; importing this package
imports neither torch nor transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier._base import (
    INTENTS, RISKS, SENTIMENTS, Classifier, ClassifierError, ModelLoadError, NormalizationMismatch, Tags,
    TrainingDataError,
)
from classifier.normalize import Segmenter, classification_text, normalize_text, segmenter_for, user_words
from classifier.risk import engagement_flags, risk_flags
from classifier.rules import RulesClassifier, keyword_topics

if TYPE_CHECKING:
    from configs import Settings

__all__ = [
    "Tags", "Classifier", "load_classifier", "resolve_model_path", "make_tokenizer", "normalize_text", "classification_text",
    "engagement_flags", "risk_flags", "keyword_topics", "RulesClassifier", "SENTIMENTS", "INTENTS", "RISKS",
    "ClassifierError", "ModelLoadError", "NormalizationMismatch", "TrainingDataError",
]



def resolve_model_path(settings: Settings) -> Path:
    """The directory ``classifier.model`` names: relative to the project home, falling back to the shipped
    default next to the code, so ``classifier/models/voc-small`` works whatever ``VOC_HOME`` is."""
    return Path(settings.resolve_shipped(settings.classifier.model))


def load_classifier(settings: Settings, *, topics: Any = None) -> Classifier:
    """The classifier ``settings.classifier`` names: ``rules``, or a model directory relative to home (a
    relative path missing there is looked up next to the code, where the shipped default lives).

    ``topics`` overrides the taxonomy (a :class:`configs.topics.TopicsFile`); keyword topics always come
    from it. Raises :class:`ModelLoadError` naming the path and the fix when the directory is missing or
    incomplete.
    """
    cs = settings.classifier
    taxonomy = (topics or settings.topics).topics
    if cs.model.strip().lower() == "rules":
        return RulesClassifier(taxonomy)
    path = resolve_model_path(settings)
    if not path.is_dir():
        raise ModelLoadError(path, "no such model directory — run `voc train` to build it, point classifier.model "
                                   "in voc.yaml at a saved model, or set classifier.model: rules "
                                   "(VOC_CLASSIFIER_MODEL=rules) for the keyword stand-in")
    from classifier.loading import load_model_classifier

    return load_model_classifier(path, topics=taxonomy, threads=cs.threads, batch_size=cs.batch_size,
                                 quantize=cs.quantize)


def make_tokenizer(settings: Settings) -> Segmenter:
    """jieba segmentation of normalized text with the product names/aliases/features and topic keywords as
    a user dictionary (a :class:`~classifier.normalize.Segmenter`). Built once per dictionary; thread-safe."""
    return segmenter_for(user_words(settings))
