"""The payment page and PCI scope, as the attack: a page that says the card goes straight to the
processor while it posts to us; a hosted-fields page that would still accept a card number
posted to our server. A processor with hosted fields plugs in without touching the conversation.
"""

from __future__ import annotations

import pytest
from gateway.agent_fixtures import console_client, new_payment_link
from gateway.agent_helpers import ControlledRasa, hidden_csrf
from gateway.helpers import eventually, rows

from bot.adapters.sandbox_processor import SandboxProcessor
from bot.gateway.state import GATEWAY
from bot.services.payment_processor import (
    PCI_SAQ,
    BankToken,
    CardEntry,
    CardToken,
    HostedFields,
    TokenizeError,
    card_entry,
)
from bot.store.models import PaymentLink, PaymentMethod

PROCESSOR_ORIGIN = "https://fields.processor.example"


class HostedProcessor(SandboxProcessor):
    """A processor whose fields take the card: the page gets a token, we look it up here."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {
            "tok_hosted_visa": CardToken("tok_hosted_visa", "Visa", "4242", 8, 2028, "Dana W")
        }

    def hosted_fields(self) -> HostedFields:
        return HostedFields(f"{PROCESSOR_ORIGIN}/v1/fields.js", PROCESSOR_ORIGIN, "pk_test_123")

    async def retrieve_method(self, *, token: str, kind: str) -> CardToken | BankToken:
        if token not in self.tokens:
            raise TokenizeError("We couldn't read those card details. Please try again.")
        return self.tokens[token]


@pytest.fixture
async def hosted(aiohttp_client, settings, clock, fake_rasa: ControlledRasa):
    return await console_client(aiohttp_client, settings, clock, processor=HostedProcessor())


def test_each_mode_names_its_pci_self_assessment():
    assert card_entry(SandboxProcessor()) is CardEntry.DIRECT
    assert card_entry(HostedProcessor()) is CardEntry.HOSTED_FIELDS
    assert PCI_SAQ[CardEntry.DIRECT] == "SAQ D" and PCI_SAQ[CardEntry.HOSTED_FIELDS] == "SAQ A"


async def test_the_sandbox_page_does_not_claim_the_card_skips_our_server(client, gw):
    conv = await gw.store.new_web_conversation()
    html = " ".join(
        (await (await client.get(f"/pay/{await new_payment_link(gw, conv.id)}")).text()).split()
    )
    assert "straight to our payment processor" not in html
    assert "to the co-op's secure server, which hands them at once to our payment" in html
    assert 'name="card_number"' in html


async def test_the_hosted_page_has_the_processors_fields_and_no_number_inputs(hosted, db):
    gw = hosted.app[GATEWAY]
    conv = await gw.store.new_web_conversation()
    resp = await hosted.get(f"/pay/{await new_payment_link(gw, conv.id)}")
    html = await resp.text()
    for name in ("card_number", "cvv", "routing", "account"):
        assert f'name="{name}"' not in html
    assert f'<script src="{PROCESSOR_ORIGIN}/v1/fields.js" defer></script>' in html
    assert 'data-key="pk_test_123"' in html and "the co-op never sees them" in " ".join(
        html.split()
    )
    csp = resp.headers["Content-Security-Policy"]
    assert f"script-src 'self' {PROCESSOR_ORIGIN}" in csp and f"frame-src {PROCESSOR_ORIGIN}" in csp
    assert "frame-ancestors 'none'" in csp


async def test_a_card_number_posted_to_the_hosted_page_is_refused_unread(hosted, db):
    gw = hosted.app[GATEWAY]
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    csrf = hidden_csrf(await (await hosted.get(f"/pay/{token}")).text())
    resp = await hosted.post(
        f"/pay/{token}",
        data={
            "csrf": csrf,
            "kind": "card",
            "card_number": "4242 4242 4242 4242",
            "cvv": "123",
            "payment_token": "tok_hosted_visa",
        },
    )
    assert resp.status == 400
    assert await rows(db, PaymentMethod) == []
    [link] = await rows(db, PaymentLink)
    assert link.used_at is None  # the member can still use the link properly


async def test_a_hosted_token_is_saved_and_the_conversation_continues_as_before(
    hosted, db, fake_rasa
):
    gw = hosted.app[GATEWAY]
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    csrf = hidden_csrf(await (await hosted.get(f"/pay/{token}")).text())
    resp = await hosted.post(
        f"/pay/{token}", data={"csrf": csrf, "kind": "card", "payment_token": "tok_hosted_visa"}
    )
    assert resp.status == 200 and "Your Visa ending 4242 is saved." in await resp.text()
    [method] = await rows(db, PaymentMethod)
    assert (method.token, method.brand, method.last4) == ("tok_hosted_visa", "Visa", "4242")

    async def continued() -> bool:
        return any(
            c["body"].get("name") == "EXTERNAL_method_added"
            and c["body"].get("entities") == {"payment_method_id": method.id}
            for c in fake_rasa.calls_of("trigger")
        )

    await eventually(continued)
    texts = [m.text for m in await gw.store.messages_after(conv.id, 0)]
    assert "Your Visa ending 4242 is saved." in texts
