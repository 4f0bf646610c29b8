from __future__ import annotations

import subprocess
import sys

import classifier
from classifier import corrections, evaluate, normalize, risk


def test_public_names_exist() -> None:
    for module in (classifier, normalize, risk, corrections, evaluate):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert {"Tags", "Classifier", "load_classifier", "make_tokenizer", "normalize_text", "engagement_flags",
            "ModelLoadError"} <= set(classifier.__all__)


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, classifier; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False False", out.stderr


def test_rules_classifier_satisfies_protocol(settings) -> None:
    clf = classifier.load_classifier(settings)
    assert isinstance(clf, classifier.Classifier)
    assert clf.model_version == "rules-1"
    tags = clf.predict(["更新后一打开就闪退，垃圾", "希望能增加夜间模式", "非常好用，推荐", ""])
    assert [t.sentiment for t in tags] == ["negative", "neutral", "positive", "neutral"]
    assert [t.intent for t in tags] == ["bug", "feature_request", "praise", "other"]
    assert tags[0].topics == ("crash", "update")
    assert tags[0].as_dict()["topics"] == ["crash", "update"]
