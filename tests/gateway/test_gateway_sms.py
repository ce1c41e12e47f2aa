"""The Twilio SMS channel, end to end through the gateway with a fake Rasa."""

from __future__ import annotations

import re

import pytest

from bot.gateway.state import GatewayOptions
from bot.store.models import (
    ConversationMessage,
    OutboxMessage,
    SmsInbound,
    SmsOptOut,
    SmsStatusCallback,
)
from gateway.helpers import PUBLIC_BASE, count, eventually, rows

CARD = "4111 1111 1111 1111"


# ------------------------------------------------------------------ signatures


async def test_signed_text_reaches_the_assistant_with_the_phone_in_e164(texter, fake_rasa, db):
    status, replies = await texter.text("whats my balance", from_number="+1 (706) 555-0101")
    assert status == 200
    assert replies == ["You said: whats my balance"]
    assert fake_rasa.calls[0]["metadata"] == {"channel": "sms", "phone": "+17065550101"}
    assert fake_rasa.calls[0]["sender"].startswith("sms-")


@pytest.mark.parametrize("signature", [None, "bm90IHRoZSByaWdodCBzaWduYXR1cmU="])
async def test_missing_or_bad_signature_is_refused_and_nothing_is_stored(
    texter, fake_rasa, db, signature
):
    resp = await texter.post("/sms/twilio", texter.form("hello"), signature=signature)
    assert resp.status == 403
    assert fake_rasa.calls == []
    assert await count(db, SmsInbound) == 0
    assert await count(db, ConversationMessage) == 0


async def test_tampered_body_fails_the_signature(texter, fake_rasa, db):
    form = texter.form("pay $10")
    from bot.gateway.signatures import sign

    signature = sign(texter.settings, PUBLIC_BASE + "/sms/twilio", form)
    form["Body"] = "pay $1000"
    resp = await texter.post("/sms/twilio", form, signature=signature)
    assert resp.status == 403
    assert fake_rasa.calls == []


async def test_signature_is_checked_against_the_public_url_behind_a_proxy(
    texter, client, fake_rasa
):
    # The request reaches the test server on http://127.0.0.1:<port>, but Twilio signed the
    # configured public https URL: valid.
    resp = await texter.post(
        "/sms/twilio", texter.form("hi"), signed_url=PUBLIC_BASE + "/sms/twilio"
    )
    assert resp.status == 200
    # Signed for the address the request arrived on (not the public one): refused.
    local_url = str(client.make_url("/sms/twilio"))
    resp = await texter.post("/sms/twilio", texter.form("hi again"), signed_url=local_url)
    assert resp.status == 403

    async def heard() -> list[str]:
        return fake_rasa.messages

    await eventually(heard)  # the turn runs from the queue, after the webhook answered
    assert fake_rasa.messages == ["hi"]


async def test_status_callback_needs_a_signature_too(texter, db):
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+17065550101"}
    assert (await texter.post("/sms/twilio/status", form, signature=None)).status == 403
    assert await count(db, SmsStatusCallback) == 0


# ------------------------------------------------------------------ idempotency


async def test_twilio_retry_of_the_same_message_sid_is_processed_once(texter, fake_rasa, db):
    first = await texter.text("outage at my house", sid="SMdup0000000000000000000000000001")
    again = await texter.text("outage at my house", sid="SMdup0000000000000000000000000001")
    assert first == (200, ["You said: outage at my house"])
    assert again == (200, [])
    assert len(fake_rasa.calls) == 1
    assert await count(db, ConversationMessage, ConversationMessage.direction == "in") == 1


async def test_a_text_claimed_by_a_copy_that_died_before_storing_it_is_answered_on_retry(
    texter, fake_rasa, db
):
    """A gateway copy killed between claiming the MessageSid and storing the text: Twilio's retry
    (same MessageSid, to another copy) is taken, not dropped as a duplicate, and answered once."""
    await texter.text("hi")  # the member's conversation (the claim makes it in the same unit)
    sid = "SMdied000000000000000000000000001"
    async with db() as session, session.begin():  # what the dead copy left behind
        session.add(SmsInbound(message_sid=sid, from_number="+17065550101", status="received"))
    retried = await texter.text("is my power out", sid=sid)
    assert retried == (200, ["You said: is my power out"])
    again = await texter.text("is my power out", sid=sid)  # stored now: a plain duplicate
    assert again == (200, [])
    assert len(fake_rasa.calls) == 2
    assert await count(db, ConversationMessage, ConversationMessage.direction == "in") == 2


async def test_one_phone_number_is_one_conversation(texter, fake_rasa):
    await texter.text("hi")
    await texter.text("balance")
    await texter.text("hello", from_number="+17065550102")
    senders = [c["sender"] for c in fake_rasa.calls]
    assert senders[0] == senders[1] != senders[2]


# ------------------------------------------------------------------ keywords


async def test_stop_opts_out_with_one_confirmation_and_then_silence(texter, fake_rasa, db):
    status, replies = await texter.text("  stop ")
    assert status == 200 and len(replies) == 1
    assert "unsubscribed" in replies[0] and "START" in replies[0]
    assert (await texter.text("STOP"))[1] == []  # no second confirmation
    assert (await texter.text("what is my balance"))[1] == []
    assert fake_rasa.calls == []  # keywords and opted-out texts never reach the assistant
    # ...but the member's text is kept for the record
    texts = [
        m.text for m in await rows(db, ConversationMessage, ConversationMessage.direction == "in")
    ]
    assert texts == ["  stop ", "STOP", "what is my balance"]
    [optout] = await rows(db, SmsOptOut)
    assert optout.phone == "+17065550101" and optout.opted_out


@pytest.mark.parametrize(
    "word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit", "REVOKE", "optout"]
)
async def test_every_opt_out_word_sent_alone_opts_out(texter, fake_rasa, word):
    _, replies = await texter.text(word)
    assert "unsubscribed" in replies[0]
    assert fake_rasa.calls == []


async def test_opt_out_word_inside_a_sentence_is_an_ordinary_message(texter, fake_rasa):
    _, replies = await texter.text("cancel payment")
    assert replies == ["You said: cancel payment"]


async def test_start_opts_back_in(texter, fake_rasa, db):
    await texter.text("STOP")
    _, replies = await texter.text("Start")
    assert "subscribed" in replies[0] and "STOP" in replies[0]
    assert (await texter.text("balance"))[1] == ["You said: balance"]
    [optout] = await rows(db, SmsOptOut)
    assert not optout.opted_out


async def test_yes_opts_in_only_when_opted_out(texter, fake_rasa):
    assert (await texter.text("YES"))[1] == ["You said: YES"]  # a normal answer mid-conversation
    await texter.text("STOP")
    _, replies = await texter.text("yes")
    assert "subscribed" in replies[0]
    assert fake_rasa.messages == ["YES"]


async def test_help_names_the_coop_service_phones_stop_and_rates(texter, fake_rasa):
    _, [reply] = await texter.text("HELP")
    assert "Jefferson Energy Cooperative" in reply
    assert "(706) 547-2167" in reply and "1-800-262-5131" in reply
    assert "Reply STOP to opt out" in reply and "Msg & data rates may apply" in reply
    assert (await texter.text("info"))[1] == [reply]
    assert fake_rasa.calls == []


async def test_twilio_error_21610_marks_the_number_opted_out(texter, fake_rasa, db):
    form = {
        "MessageSid": "SMabc",
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
        "To": "+17065550103",
    }
    resp = await texter.post("/sms/twilio/status", form)
    assert resp.status == 204
    [callback] = await rows(db, SmsStatusCallback)
    assert (callback.message_sid, callback.status, callback.error_code) == (
        "SMabc",
        "undelivered",
        "21610",
    )
    assert (await texter.text("balance", from_number="+17065550103"))[1] == []
    assert fake_rasa.calls == []


async def test_delivered_callback_is_recorded_without_opting_out(texter, db):
    form = {"MessageSid": "SMok", "MessageStatus": "delivered", "To": "+17065550101"}
    assert (await texter.post("/sms/twilio/status", form)).status == 204
    assert await count(db, SmsStatusCallback) == 1
    assert await count(db, SmsOptOut) == 0


# ------------------------------------------------------------------ replies


async def test_buttons_become_numbered_choices_and_a_number_picks_the_payload(texter, fake_rasa):
    def reply(body):
        if body["message"] == "pay bill":
            return [
                {
                    "text": "How much would you like to pay?",
                    "buttons": [
                        {"title": "Full $142.87", "payload": '/choose_amount{"kind":"full"}'},
                        {"title": "Another amount", "payload": '/choose_amount{"kind":"other"}'},
                    ],
                }
            ]
        return [{"text": "OK"}]

    fake_rasa.reply = reply
    _, [question] = await texter.text("pay bill")
    assert (
        question
        == "How much would you like to pay? Reply 1 for Full $142.87, 2 for Another amount."
    )
    _, replies = await texter.text(" 2 ")
    assert replies == ["OK"]
    assert fake_rasa.messages[-1] == '/choose_amount{"kind":"other"}'
    # the choices were used up: a later "1" is just text
    await texter.text("1")
    assert fake_rasa.messages[-1] == "1"


async def test_long_replies_are_gsm7_and_split_on_sentences(texter, fake_rasa):
    sentence = (
        "Your bill of $142.87 is due on December 15, and we\u2019ll remind you a few days before. "
    )
    fake_rasa.reply = lambda body: [
        {"text": sentence * 6},
        {"image": "https://jec.example/usage/chart.png"},
    ]
    _, replies = await texter.text("usage")
    assert len(replies) >= 3
    for text in replies[:-1]:
        assert len(text) <= 320
        assert text.endswith("before.")
        assert "\u2019" not in text and "we'll" in text
    assert replies[-1] == "Picture: https://jec.example/usage/chart.png"


async def test_slow_bot_gets_empty_twiml_then_the_reply_through_the_outbox(
    aiohttp_client, settings, fake_rasa, db
):
    from bot.gateway.app import create_app
    from gateway.helpers import Texter

    client = await aiohttp_client(
        create_app(settings, options=GatewayOptions(sms_reply_wait_seconds=0.05))
    )
    from bot.gateway.simulate import twiml_bodies

    fake_rasa.delay = 0.5
    resp = await Texter(client, settings).post(
        "/sms/twilio", Texter(client, settings).form("balance please")
    )
    status, replies = resp.status, twiml_bodies(await resp.text())  # the TwiML alone
    assert (status, replies) == (200, [])
    delivered = await eventually(
        lambda: rows(
            db,
            ConversationMessage,
            ConversationMessage.direction == "out",
            ConversationMessage.delivered_at.is_not(None),
        )
    )
    assert [m.text for m in delivered] == ["You said: balance please"]
    outbox = await rows(db, OutboxMessage)
    assert [(o.to, o.body, o.status) for o in outbox] == [
        ("+17065550101", "You said: balance please", "outbox")
    ]


async def test_assistant_down_gets_an_apology_with_the_outage_line_and_the_text_is_kept(
    texter, fake_rasa, db
):
    fake_rasa.fail = True
    _, [reply] = await texter.text("my lights are out")
    assert reply.startswith("Sorry, I'm having trouble right now.")
    assert "1-800-262-5131" in reply
    [inbound] = await rows(db, ConversationMessage, ConversationMessage.direction == "in")
    assert inbound.text == "my lights are out"


# ------------------------------------------------------------------ masking


async def test_card_number_by_sms_never_reaches_rasa_or_the_database(texter, fake_rasa, db):
    _, replies = await texter.text(f"just use my card {CARD} exp 09/28")
    assert "didn't keep that card number" in replies[0]
    assert replies[1].startswith("You said:")
    assert not re.search(r"4111\D?1111\D?1111\D?1111", str(fake_rasa.calls))
    assert fake_rasa.calls[0]["metadata"]["masked"] == ["card"]
    for message in await rows(db, ConversationMessage):
        assert "1111 1111 1111" not in message.text and "4111111111111111" not in message.text
    [inbound] = await rows(db, ConversationMessage, ConversationMessage.direction == "in")
    assert inbound.text.endswith("1111 exp 09/28") and "*" in inbound.text
