"""Alert test fixtures: a real SQLite index in a temp home and loopback receivers.

The document factories and the fixed clock live in :mod:`tests.helpers`; the receivers in
:mod:`tests.alerts.receivers`. Test modules import both directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from configs import Settings
from tests.alerts.receivers import Receiver, SmtpReceiver
from tests.helpers import ALERTS_NOW, tokenize


@pytest.fixture
def index(settings: Settings) -> Iterator[Any]:
    from index import open_index

    idx = open_index(settings.index, home=settings.home, tokenizer=tokenize, secrets=settings.secrets)
    yield idx
    idx.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(now_s=ALERTS_NOW.timestamp())
    yield r
    r.stop()


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    """Processes each request, then answers after 0.6 s."""
    r = Receiver(now_s=ALERTS_NOW.timestamp(), delay_s=0.6)
    yield r
    r.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    r = SmtpReceiver()
    yield r
    r.stop()
