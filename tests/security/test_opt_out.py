"""Issue 12 item 13: any text whose clear intent is to stop texts opts the number out (the FCC's
2024 revocation rule: consent may be revoked by any reasonable means), and the confirmation says
how to opt back in; ordinary sentences that merely contain "stop" still reach the assistant."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.gateway.app import create_app
from bot.gateway.keywords import Keyword, classify
from bot.gateway.rasa_client import CHANNEL_PATH
from bot.gateway.state import GatewayOptions
from tests.gateway.helpers import AUTH_TOKEN, PUBLIC_BASE, FakeRasa, Texter

REVOCATIONS = [
    "stop texting me",
    "Stop texting me!",
    "please stop texting",
    "please stop texting me",
    "unsubscribe me",
    "Unsubscribe me please",
    "opt out",
    "Opt me out",
    "opt-out",
    "STOP ALL",
    "stop please",
    "Stop. Please.",
    "STOP!!!",
    "stop stop stop",
    "stop it",
    "stop sending me texts",
    "stop sending me messages",
    "stop messaging me",
    "stop contacting me",
    "no more texts",
    "no more text messages please",
    "don't text me",
    "do not text me anymore",
    "don\u2019t text this number",
    "quit texting me",
    "cancel these texts",
    "remove me from your list",
    "take me off your list",
    "I revoke my consent",
    "\uff33\uff34\uff2f\uff30",  # full-width STOP
    "end",
    "how do I stop these texts?",
    "i want to stop getting texts",
    "never text me again",
    "STOP \U0001f6d1",
]

ORDINARY = [
    "stop my service",
    "how do i stop my draft",
    "stop the draft",
    "I want to stop service at 12 Main St",
    "cancel payment",
    "cancel my payment",
    "when will the outage stop",
    "the power stopped working",
    "stop paperless billing",
    "my neighbor said to text you",
    "yes",
    "what is my balance",
    "opt out of paperless",
    "unsubscribe me from paper bills",
    "cancel please",  # in a payment form: the payment, not the texts
    "the texts stopped coming",
    "can you start sending me outage texts",  # a settings question while subscribed
]


@pytest.mark.parametrize("text", REVOCATIONS)
def test_a_clear_request_to_stop_texts_opts_out(text: str) -> None:
    assert classify(text, opted_out=False) is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sentences_with_stop_words_are_not_keywords(text: str) -> None:
    assert classify(text, opted_out=False) is None


@pytest.mark.parametrize("text", ["start texting me again", "START please", "opt me back in"])
def test_opting_back_in_in_plain_words(text: str) -> None:
    assert classify(text, opted_out=True) is Keyword.OPT_IN


@pytest.fixture
async def texter(aiohttp_client: Any, aiohttp_server: Any, sqlite_url: str, tmp_path) -> Texter:
    fake = FakeRasa()
    rasa = web.Application()
    rasa.router.add_post(CHANNEL_PATH, fake.webhook)
    rasa.router.add_get("/", fake.root)
    fake.server = await aiohttp_server(rasa)
    settings = Settings(
        var_dir=tmp_path,
        database_url=sqlite_url,
        rasa_url=str(fake.server.make_url("")).rstrip("/"),
        public_base_url=PUBLIC_BASE,
        secret_key="test-secret-key",
        twilio_auth_token=AUTH_TOKEN,
        http_timeout_seconds=5.0,
    )
    options = GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0)
    client = await aiohttp_client(create_app(settings, options=options))
    texter = Texter(client, settings)
    texter.fake_rasa = fake  # type: ignore[attr-defined]
    return texter


async def test_stop_texting_me_by_sms_opts_out_and_says_how_to_come_back(texter) -> None:
    status, replies = await texter.text("Stop texting me please")
    assert status == 200 and len(replies) == 1
    assert "unsubscribed" in replies[0] and "START" in replies[0]
    assert (await texter.text("what is my balance"))[1] == []
    assert texter.fake_rasa.calls == []  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=1600), st.booleans())
def test_any_text_is_classified_without_error(body: str, opted_out: bool) -> None:
    assert classify(body, opted_out=opted_out) in (None, *Keyword)


def test_a_long_text_is_classified_quickly() -> None:
    import time

    for body in ("stop " * 320, "please " * 228 + "x", "opt " * 400, "don't " * 260):
        started = time.perf_counter()
        classify(body[:1600], opted_out=True)
        assert time.perf_counter() - started < 0.5
