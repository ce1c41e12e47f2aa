"""The secure payment page: good card and bank account, friendly errors, and expired, used or
tampered links."""

from __future__ import annotations

from sqlalchemy import text

from bot.store.models import PaymentLink, PaymentMethod
from gateway.agent_fixtures import new_payment_link
from gateway.agent_helpers import MONDAY_10AM, hidden_csrf
from gateway.helpers import eventually, rows

CARD = "4242 4242 4242 4242"


async def open_form(client, token: str) -> tuple[int, str, str]:
    resp = await client.get(f"/pay/{token}")
    html = await resp.text()
    return resp.status, html, hidden_csrf(html) if 'name="csrf"' in html else ""


def card_form(csrf: str, number: str = CARD, **extra: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "kind": "card",
        "card_number": number,
        "exp_month": "8",
        "exp_year": "2028",
        "cvv": "123",
        "card_name": "Dana Whitfield",
        **extra,
    }


def bank_form(csrf: str, routing: str, account: str, name: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "kind": "bank",
        "routing": routing,
        "account": account,
        "account_type": "checking",
        "bank_name": name,
    }


async def test_good_card_is_tokenized_stored_as_last4_and_the_conversation_continues(
    client, gw, fake_rasa, db
):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    status, html, csrf = await open_form(client, token)
    assert status == 200 and "account ending 4821" in html
    resp = await client.get(f"/pay/{token}")  # opened again: the newest form is the one to use
    csrf = hidden_csrf(await resp.text())
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "http" not in html.split("<main")[0].replace(
        "http-equiv", ""
    )  # no third-party assets in the head

    resp = await client.post(f"/pay/{token}", data=card_form(csrf))
    assert resp.status == 200
    assert "Your Visa ending 4242 is saved." in await resp.text()
    [method] = await rows(db, PaymentMethod)
    assert (
        method.kind,
        method.brand,
        method.last4,
        method.exp_month,
        method.exp_year,
        method.holder_name,
    ) == ("card", "Visa", "4242", 8, 2028, "Dana Whitfield")
    assert method.token.startswith("tok_sandbox_")
    [link] = await rows(db, PaymentLink)
    assert link.used_at == MONDAY_10AM

    # the conversation hears about it and the assistant is triggered to continue
    assert await eventually(lambda: _has(gw, conv.id, "Pay $142.87 with it now?"))
    all_texts = [m.text for m in await gw.store.messages_after(conv.id, 0)]
    assert all_texts[-2:] == ["Your Visa ending 4242 is saved.", "Pay $142.87 with it now?"]
    [trigger] = fake_rasa.calls_of("trigger")
    assert trigger["body"] == {
        "name": "EXTERNAL_method_added",
        "entities": {"payment_method_id": method.id},
    }
    assert fake_rasa.calls_of("events") == []  # the conversation was never paused

    # the full number and the CVV are nowhere in the database
    async with db() as session:
        for table in ("payment_methods", "payment_links", "messages", "audit_log", "outbox"):
            dump = str((await session.execute(text(f"select * from {table}"))).all())
            assert "4242424242424242" not in dump and CARD not in dump


async def _has(gw, conv_id, wanted):
    return any(m.text == wanted for m in await gw.store.messages_after(conv_id, 0))


async def test_bank_account_is_saved_with_last4_only(client, gw, db):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    _, _, csrf = await open_form(client, token)
    resp = await client.post(
        f"/pay/{token}", data=bank_form(csrf, "061000104", "000123456789", "Dana Whitfield")
    )
    assert "Your Checking ending 6789 is saved." in await resp.text()
    [method] = await rows(db, PaymentMethod)
    assert (method.kind, method.last4) == ("checking", "6789")
    async with db() as session:
        assert "000123456789" not in str(
            (await session.execute(text("select * from payment_methods"))).all()
        )


async def test_bad_luhn_gets_a_friendly_error_and_keeps_the_link(client, gw, db):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    _, _, csrf = await open_form(client, token)
    resp = await client.post(f"/pay/{token}", data=card_form(csrf, number="4242 4242 4242 4241"))
    html = await resp.text()
    assert resp.status == 400
    assert "That card number doesn&#x27;t look right" in html
    assert "4242 4242 4242 4241" not in html and "4242424242424241" not in html  # never echoed back
    assert await rows(db, PaymentMethod) == []
    [link] = await rows(db, PaymentLink)
    assert link.used_at is None
    # the corrected card then works with the same link
    resp = await client.post(f"/pay/{token}", data=card_form(hidden_csrf(html)))
    assert "is saved" in await resp.text()


async def test_bad_routing_number_and_past_expiry_are_explained(client, gw):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    _, _, csrf = await open_form(client, token)
    resp = await client.post(f"/pay/{token}", data=bank_form(csrf, "123456789", "12345678", "Dana"))
    assert "routing number doesn&#x27;t look right" in await resp.text()
    resp = await client.post(f"/pay/{token}", data=card_form(csrf, exp_month="10", exp_year="2026"))
    assert "must not have passed" in await resp.text()


async def test_expired_link_gets_a_clear_page(client, gw, clock):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    clock.advance(minutes=16)
    resp = await client.get(f"/pay/{token}")
    html = await resp.text()
    assert resp.status == 410
    assert "This link has expired" in html and "ask the assistant for a new one" in html
    assert "card_number" not in html


async def test_reused_link_gets_a_clear_page(client, gw):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    _, _, csrf = await open_form(client, token)
    await client.post(f"/pay/{token}", data=card_form(csrf))
    resp = await client.get(f"/pay/{token}")
    assert resp.status == 410 and "This link was already used" in await resp.text()
    resp = await client.post(f"/pay/{token}", data=card_form(csrf))
    assert "This link was already used" in await resp.text()


async def test_tampered_link_gets_a_clear_page(client, gw):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    resp = await client.get(f"/pay/{token[:-4]}abcd")
    assert resp.status == 404 and "This link isn&#x27;t valid" in await resp.text()


async def test_post_without_csrf_saves_nothing(client, gw, db):
    conv = await gw.store.new_web_conversation()
    token = await new_payment_link(gw, conv.id)
    resp = await client.post(f"/pay/{token}", data=card_form(""))
    assert resp.status == 403
    assert await rows(db, PaymentMethod) == []
    [link] = await rows(db, PaymentLink)
    assert link.used_at is None


async def test_an_sms_member_gets_the_saved_message_by_text(client, gw, sms):
    conv = await gw.store.get_or_create("sms", "+17065550101")
    token = await new_payment_link(gw, conv.id)
    _, _, csrf = await open_form(client, token)
    await client.post(f"/pay/{token}", data=card_form(csrf))
    assert await eventually(lambda: _texted(sms, "Pay $142.87 with it now? Reply 1 for Yes."))
    assert ("+17065550101", "Your Visa ending 4242 is saved.") in sms.sent


async def _texted(sms, body):
    return any(b == body for _to, b in sms.sent)
