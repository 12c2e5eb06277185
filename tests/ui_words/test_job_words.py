"""Each background job kind and each sentence the services send to the Share page reads in plain
words (pure functions: no window needed)."""

from __future__ import annotations

import pytest

from app.ui.job_words import job_text
from app.ui.share.texts import plain
from app.ui.words import network_name, short_id
from tests.ui_words.scan import JARGON

SESSION = "0x12ab" + "00" * 28 + "cd34"


@pytest.mark.parametrize(("kind", "payload", "expected"), [
    ("consumer.close", {"session_id": SESSION}, "Return your stake from session 0x12ab…cd34"),
    ("provider.claim", {"session_id": SESSION}, "Collect earnings from session 0x12ab…cd34"),
    ("consumer.open", {"stake": str(19 * 10**17)}, "Open a session and stake MOR (1.9 MOR)"),
    ("consumer.withdraw", {"release_at": 0},
     "Collect stake that was held until midnight (UTC)"),
    ("provider.setup", {}, "Go online: register, add the model and post your offer"),
])
def test_each_job_kind_in_words(kind, payload, expected):
    assert job_text(kind, payload, title="Close session (consumer.close)") == expected
    assert not JARGON.search(job_text(kind, payload))


def test_an_unknown_kind_shows_its_title_never_the_kind():
    assert job_text("provider.future", {}, "Rotate keys") == "Rotate keys"
    assert job_text("provider.future", {}) == "Background task"


@pytest.mark.parametrize(("raw", "expected"), [
    ("Posting the bid", "Posting your offer"),
    ("0.036 MOR/hour (10000000000000 wei/s); 1 other offer", "0.036 MOR/hour; 1 other offer"),
    ("Not enough ETH for gas", "Not enough ETH for network fees"),
    ("It would spend the bid fee", "It would spend the offer fee"),
    ("Every RPC endpoint failed", "Every connection endpoint failed"),
])
def test_service_sentences_made_plain(raw, expected):
    assert plain(raw) == expected
    assert not JARGON.search(plain(raw))


def test_names_and_ids():
    assert network_name("devnet") == "Practice network (this computer)"
    assert network_name("base") == "BASE"
    assert network_name("") == "No network"
    assert short_id(SESSION) == "0x12ab…cd34"
    assert short_id("0x12") == "0x12"
