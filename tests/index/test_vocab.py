"""The shared vocabulary has one home (configs/vocab.py): a label added there is accepted by the classifier,
the query language and the alert rules, with no second list to edit (issue 26)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_label_added_in_configs_vocab_is_accepted_everywhere():
    # A fresh interpreter edits the vocabulary before anything imports it, as an edit of the file would.
    script = textwrap.dedent("""
        from datetime import datetime, timezone

        import configs.vocab as vocab
        vocab.INTENTS = (*vocab.INTENTS, "refund_request")
        vocab.INTENT_NAMES = {**vocab.INTENT_NAMES, "refund_request": "退款诉求"}
        vocab.RISKS = (*vocab.RISKS, "press_leak")

        import classifier
        from classifier.corrections import validate_labels
        from configs.alerts import Rule
        from index import parse_query

        assert "refund_request" in classifier.INTENTS  # the labels a model is trained with (train.py)
        validate_labels({"intent": "refund_request", "risk": ["press_leak"]})  # `voc label` and the page
        now = datetime(2026, 11, 24, tzinfo=timezone.utc)
        assert parse_query("intent:refund_request", now=now).filters.intent == ("refund_request",)
        assert parse_query("intent:退款诉求 risk:press_leak", now=now).filters.intent == ("refund_request",)
        # alert rules have no intent key; their risk flags and sentiments come from the same module
        assert Rule(name="leaks", kind="high_risk", risk=("press_leak",)).risk == ("press_leak",)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_no_package_keeps_its_own_copy_of_the_labels():
    copies = []
    for path in [*REPO.glob("classifier/*.py"), *REPO.glob("index/*.py"), *REPO.glob("configs/*.py")]:
        if path.name == "vocab.py":
            continue
        text = path.read_text(encoding="utf-8")
        for label_list in ('"bug", "feature_request"', '"media_threat", "regulator_threat"',
                           '"negative", "neutral", "positive"'):
            if label_list in text:
                copies.append(f"{path.relative_to(REPO)}: {label_list}")
    assert not copies
