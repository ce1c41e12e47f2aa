"""End to end through the whole stack (issue 4): gateway + Rasa + action server, one database.

The gateway is started on the session's Rasa stack (tests/stack.py `gateway`), with a Twilio
auth token so every simulated text must carry a valid X-Twilio-Signature (computed with the
`twilio` RequestValidator, as `jecbot sms` does), and no Twilio account, so texts the co-op sends
(one-time codes) land in the outbox table where the test reads them like the member's phone.

- a member texts, is recognised by the phone on file (only the ZIP is asked), checks the balance
  and pays with the saved card;
- a web member on the WebSocket asks for a person in office hours, an agent signed in to the
  console takes the conversation, they write both ways, the agent hands back, the bot answers;
- card numbers sent on either channel are masked before anything stores or forwards them: they
  are in no database file and no log file of the stack.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from bot.gateway.agents_cli import create_agent
from bot.gateway.conversations import StoredMessage
from bot.gateway.signatures import sign
from bot.gateway.simulate import twiml_bodies
from bot.gateway.sms_format import render_sms
from bot.gateway.turns import as_bot_message
from tests.stack import Gateway, Stack, _query, code_sent_to, max_id

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

DANA_PHONE = "+17065550101"
PASSWORD = "correct horse battery e2e"
TURN_SECONDS = 120  # a turn on a busy 2-core CI machine; generous, never asserted on
HANDBACK = "You're back with the automated assistant. Anything else I can help with?"


# ------------------------------------------------------------------------------------- helpers


def choice_number(sms_text: str, title_part: str) -> str:
    """The number to reply for a choice: "Reply 1 for Full $142.87, 2 for ..." -> "1"."""
    match = re.search(r"(\d+) for [^,.]*" + re.escape(title_part), sms_text)
    assert match, f"no numbered choice with {title_part!r} in {sms_text!r}"
    return match.group(1)


class Texter:
    """A phone texting the co-op's number through the gateway's Twilio webhook, signed."""

    def __init__(self, session: aiohttp.ClientSession, gateway: Gateway, phone: str) -> None:
        self.session, self.gateway, self.phone = session, gateway, phone

    def _form(self, body: str) -> dict[str, str]:
        return {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": self.phone,
            "To": "+17065550100",
            "Body": body,
            "NumMedia": "0",
        }

    async def post(self, form: dict[str, str], signature: str) -> tuple[int, str]:
        async with self.session.post(
            f"{self.gateway.url}/sms/twilio", data=form, headers={"X-Twilio-Signature": signature}
        ) as resp:
            return resp.status, await resp.text()

    async def text(self, body: str) -> list[str]:
        """Send one text; the texts the member gets back: Twilio's answer (TwiML, empty but for
        keywords and notices), then what the queued turn texted (the outbox), once it is done."""
        form = self._form(body)
        signature = sign(self.gateway.settings, f"{self.gateway.url}/sms/twilio", form)
        url = self.gateway.settings.database_url
        [(before,)] = _query(url, "select coalesce(max(id), 0) from outbox", {})
        status, xml = await self.post(form, signature)
        assert status == 200, xml
        sid = form["MessageSid"]
        deadline = asyncio.get_running_loop().time() + TURN_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            settled = _query(
                url,
                "select i.status, t.status from sms_inbound i left join turn_requests t"
                " on t.key = 'sms:' || i.message_sid where i.message_sid = :sid",
                {"sid": sid},
            )
            if (
                settled
                and settled[0][0] not in ("received", "queued")
                and settled[0][1]
                in (
                    None,
                    "sent",
                    "skipped",
                )
            ):
                break
            await asyncio.sleep(0.1)
        later = _query(  # the turn's replies, as the gateway texted them (rendered for SMS)
            url,
            "select m.text, m.payload from messages m join turn_requests t"
            " on t.conversation_id = m.conversation_id"
            " where t.key = :key and m.direction = 'out' and m.seq > t.seq order by m.seq",
            {"key": f"sms:{sid}"},
        )
        texts = render_sms(
            [
                as_bot_message(
                    StoredMessage(
                        "", 0, "out", "bot", text, json.loads(p) if isinstance(p, str) else p
                    )
                )
                for text, p in later
            ]
        )
        return twiml_bodies(xml) + texts


class WebMember:
    """The chat widget's side of the WebSocket protocol (docs/gateway-protocol.md)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, conversation_id: str) -> None:
        self.ws, self.conversation_id = ws, conversation_id
        self.seen: list[dict[str, Any]] = []

    async def next_event(self) -> dict[str, Any]:
        msg = await asyncio.wait_for(self.ws.receive(), TURN_SECONDS)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        event = json.loads(msg.data)
        if event.get("type") == "message":
            self.seen.append(event)
        return event

    async def send(self, text: str) -> None:
        """Send a message and wait for the gateway's ack (stored, not yet answered)."""
        client_id = uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "text": text, "client_id": client_id})
        while True:
            event = await self.next_event()
            if event.get("type") == "ack" and event.get("client_id") == client_id:
                return

    async def say(self, text: str) -> list[dict[str, Any]]:
        """One bot turn: the messages published until the typing indicator goes off."""
        await self.send(text)
        replies: list[dict[str, Any]] = []
        while True:
            event = await self.next_event()
            if event.get("type") == "message" and event.get("sender") != "member":
                replies.append(event)
            if event.get("type") == "typing" and event.get("active") is False:
                return replies

    async def texts(self, text: str) -> list[str]:
        return [m["text"] for m in await self.say(text) if m.get("text")]

    async def wait_for(self, sender: str, text_part: str) -> dict[str, Any]:
        while True:
            event = await self.next_event()
            if (
                event.get("type") == "message"
                and event.get("sender") == sender
                and text_part in event.get("text", "")
            ):
                return event


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_SECONDS)) as session:
        yield session


@pytest.fixture
async def web_member(gateway: Gateway, http: aiohttp.ClientSession) -> AsyncIterator[WebMember]:
    async with http.ws_connect(f"{gateway.url}/ws") as ws:
        await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
        welcome = await asyncio.wait_for(ws.receive_json(), TURN_SECONDS)
        assert welcome["type"] == "welcome"
        yield WebMember(ws, welcome["conversation_id"])


@pytest.fixture
def undo_new_payments(rasa_stack: Stack) -> Iterator[None]:
    before = max_id(rasa_stack, "payments")
    yield
    rasa_stack.execute("delete from payments where id > :before", before=before)


# ----------------------------------------------------------------------------- SMS: pay a bill


async def test_a_text_is_acked_at_once_and_answered_by_the_real_assistant_through_the_queue(
    http: aiohttp.ClientSession, gateway: Gateway, rasa_stack: Stack
) -> None:
    phone = "+17065550177"
    texter = Texter(http, gateway, phone)
    form = texter._form("what are your office hours")
    signature = sign(gateway.settings, f"{gateway.url}/sms/twilio", form)
    status, xml = await texter.post(form, signature)
    assert status == 200 and twiml_bodies(xml) == []  # Twilio hears back before the assistant
    sid = form["MessageSid"]
    for _ in range(int(TURN_SECONDS * 10)):
        [(turn,)] = rasa_stack.sql(
            "select status from turn_requests where key = :k", k=f"sms:{sid}"
        )
        if turn == "sent":
            break
        await asyncio.sleep(0.1)
    assert turn == "sent"
    jobs = rasa_stack.sql("select status from queue_jobs where key = :k", k=f"turn:sms:{sid}")
    assert [tuple(j) for j in jobs] == [("done",)]
    texts = [
        row[0]
        for row in rasa_stack.sql(
            "select body from outbox where \"to\" = :to and channel = 'sms' order by id", to=phone
        )
    ]
    assert texts and not any(t.startswith("Sorry, I'm having trouble") for t in texts), texts
    assert any("office" in t.lower() and "PM" in t for t in texts), texts  # a real answer


async def test_a_texter_is_known_by_phone_checks_the_balance_and_pays_with_the_saved_card(
    rasa_stack, gateway, http, undo_new_payments
) -> None:
    dana = Texter(http, gateway, DANA_PHONE)
    outbox_before, payments_before = max_id(rasa_stack, "outbox"), max_id(rasa_stack, "payments")

    forged = dana._form("whats my balance")
    assert (await dana.post(forged, "not-a-signature"))[0] == 403

    assert await dana.text("whats my balance") == [
        (
            "I see this number on file. To confirm it's you, reply with the ZIP code of the "
            "service address."
        )
    ]
    balance = await dana.text("30833")
    assert balance[0] == "You're verified, Dana."
    assert balance[1].startswith("Account ending 4821 (412 Mill St, Wrens): $142.87 is due "), (
        balance
    )

    assert await dana.text("pay my bill") == [
        (
            "To continue, I'll text a 6-digit code to the phone on file ending 0101. "
            "Reply with it here. It expires in 10 min."
        )
    ]
    amount_question = " ".join(await dana.text(code_sent_to(rasa_stack, DANA_PHONE, outbox_before)))
    assert "$142.87 is due " in amount_question, amount_question
    method_question = " ".join(await dana.text(choice_number(amount_question, "Full $142.87")))
    assert method_question.startswith("Which payment method would you like to use?"), (
        method_question
    )
    confirm = await dana.text(choice_number(method_question, "Visa ending 4242"))
    assert confirm[-1].startswith(
        "Pay $142.87 today with Visa ending 4242? Reply YES to confirm or NO to stop."
    ), confirm

    done = await dana.text("YES")
    assert done[0].startswith("Done. Payment of $142.87 received, confirmation P-"), done

    rows = rasa_stack.sql(
        "select amount_cents, status, channel, method_label from payments where id > :b",
        b=payments_before,
    )
    assert rows == [(14287, "succeeded", "sms", "Visa ending 4242")]
    transcript = rasa_stack.sql(
        "select m.direction, m.sender from messages m "
        "join conversations c on c.id = m.conversation_id "
        "where c.channel = 'sms' and c.external_id = :phone order by m.seq",
        phone=DANA_PHONE,
    )
    assert transcript[0] == ("in", "member") and ("out", "bot") in transcript


async def test_a_card_saved_on_the_secure_page_is_offered_for_the_payment_at_once(
    rasa_stack, gateway, http, undo_new_payments
) -> None:
    """Item 21 end to end: "add a new card", the secure page, then "Pay $142.87 with it now?"."""
    dana = Texter(http, gateway, DANA_PHONE)
    outbox_before = max_id(rasa_stack, "outbox")
    methods_before = max_id(rasa_stack, "payment_methods")
    try:
        await dana.text("whats my balance")
        await dana.text("30833")
        asked = " ".join(await dana.text("pay my bill"))
        # Dana's texts share one conversation across this module: after the earlier payment test
        # she may still be confirmed, and then no new code is asked for.
        if "code" in asked.lower():
            asked = " ".join(await dana.text(code_sent_to(rasa_stack, DANA_PHONE, outbox_before)))
        amount_question = asked
        method_question = " ".join(await dana.text(choice_number(amount_question, "Full $142.87")))
        link_reply = " ".join(await dana.text(choice_number(method_question, "Add a new card")))
        found = re.search(r"https?://\S+?(/pay/[\w.-]+)", link_reply)
        assert found, link_reply
        page_url = gateway.url + found.group(1)  # the link names the configured public address
        jar = aiohttp.CookieJar(unsafe=True)  # the page's CSRF cookie on a bare IP address
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            page = await (await browser.get(page_url)).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            saved = await browser.post(
                page_url,
                data={
                    "csrf": csrf,
                    "kind": "card",
                    "card_number": "5555 5555 5555 4444",
                    "exp_month": "8",
                    "exp_year": "2030",
                    "cvv": "123",
                    "card_name": "Dana Whitfield",
                },
            )
            assert saved.status == 200 and "Mastercard ending 4444" in await saved.text()

        deadline = asyncio.get_running_loop().time() + TURN_SECONDS
        texts: list[str] = []
        while asyncio.get_running_loop().time() < deadline:
            texts = [
                body
                for (body,) in rasa_stack.sql(
                    'select body from outbox where "to" = :to and id > :after order by id',
                    to=DANA_PHONE,
                    after=outbox_before,
                )
            ]
            if any("with it now?" in t for t in texts):
                break
            await asyncio.sleep(1)
        assert any("Your Mastercard ending 4444 is saved." in t for t in texts), texts
        assert any(t.startswith("Pay $142.87 with it now?") for t in texts), texts
        done = await dana.text("YES")
        assert done[0].startswith("Done. Payment of $142.87 received, confirmation P-"), done
        rows = rasa_stack.sql(
            "select method_label from payments order by id desc limit 1",
        )
        assert rows == [("Mastercard ending 4444",)]
    finally:
        rasa_stack.execute("delete from payments where payment_method_id > :b", b=methods_before)
        rasa_stack.execute("delete from payment_methods where id > :b", b=methods_before)


# ------------------------------------------------------------------ web: a person, then the bot


async def _console_sign_in(
    http_console: aiohttp.ClientSession, gateway: Gateway, username: str
) -> str:
    page = await http_console.get(f"{gateway.url}/console/login")
    token = _csrf(await page.text())
    resp = await http_console.post(
        f"{gateway.url}/console/login",
        allow_redirects=False,
        data={"csrf": token, "username": username, "password": PASSWORD},
    )
    assert resp.status == 303, await resp.text()
    home = await http_console.get(f"{gateway.url}/console")
    assert home.status == 200
    return _csrf(await home.text())


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def test_a_web_member_talks_to_an_agent_who_hands_back_to_the_bot(
    rasa_stack, gateway, web_member
) -> None:
    username = f"e2e.{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(create_agent, gateway.settings, username, "Maria Lopez", PASSWORD)
    jar = aiohttp.CookieJar(unsafe=True)  # the console's cookie on a bare IP address
    async with aiohttp.ClientSession(
        cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=TURN_SECONDS)
    ) as console:
        csrf = await _console_sign_in(console, gateway, username)
        try:
            # The member verifies, then asks for a person: office hours (the clock) and Maria
            # online.
            assert (await web_member.texts("what's my balance"))[0].endswith(
                "What's your 10-digit account number? It's at the top of your bill."
            )
            assert (await web_member.texts("1000004821"))[0].startswith(
                "Thanks. What's the ZIP code"
            )
            assert (await web_member.texts("30833"))[0] == "You're verified, Dana."
            queued = await web_member.say("can I talk to a real person")
            assert [m["text"] for m in queued if m["text"]] == [
                (
                    "Sure. I'm connecting you with our member-services team. "
                    "You're number 1 in line, usually about 4 minutes. "
                    "I'll stay quiet while you chat with them."
                )
            ]
            [handoff_id] = [m["custom"]["handoff"]["handoff_id"] for m in queued if m.get("custom")]
            assert rasa_stack.sql(
                "select verified_tier, channel, status from handoff_requests where id = :h",
                h=handoff_id,
            ) == [("verified", "web", "waiting")]

            # Maria takes it; the member is told.
            taken = await console.post(
                f"{gateway.url}/console/handoffs/{handoff_id}/take",
                data={"csrf": csrf},
                allow_redirects=False,
            )
            assert taken.headers["Location"] == f"/console/handoffs/{handoff_id}?m=taken"
            await web_member.wait_for("system", "Maria from member services has joined the chat.")

            # Member -> agent: the bot stays out of it; the agent's page shows the message.
            await web_member.send("my bill looks way too high this month")
            page = await (await console.get(f"{gateway.url}/console/handoffs/{handoff_id}")).text()
            assert "my bill looks way too high this month" in page
            # Agent -> member, labelled with her first name.
            reply = await console.post(
                f"{gateway.url}/console/handoffs/{handoff_id}/reply",
                data={"csrf": csrf, "text": "Hi Dana, I can see your bill. One moment."},
            )
            assert reply.status == 200
            from_agent = await web_member.wait_for("agent", "I can see your bill")
            assert from_agent["agent_name"] == "Maria"
            assert not [
                m for m in web_member.seen if m["sender"] == "bot" and m["seq"] > queued[-1]["seq"]
            ]

            # Maria hands back: the bot says it's back and answers the next question.
            ended = await console.post(
                f"{gateway.url}/console/handoffs/{handoff_id}/end",
                data={"csrf": csrf},
                allow_redirects=False,
            )
            assert ended.status in (302, 303)
            await web_member.wait_for("system", "Maria has left the chat.")
            await web_member.wait_for("bot", HANDBACK)
            assert await web_member.texts("what time do yall close") == [
                (
                    "Our offices are open until 5 PM today "
                    "(the Louisville and Thomson offices close 1-2 PM for lunch)."
                )
            ]
            assert rasa_stack.sql(
                "select status from handoff_requests where id = :h", h=handoff_id
            ) == [("ended",)]
        finally:
            await console.post(f"{gateway.url}/console/logout", data={"csrf": csrf})


# ------------------------------------------------------------------------ card numbers, nowhere


# Test numbers other than 4111..., which the REST-channel tests send to Rasa raw on purpose.
WEB_CARD, SMS_CARD = "5555 5555 5555 4444", "4012888888881881"


def _forms(number: str) -> list[bytes]:
    digits = number.replace(" ", "")
    spaced = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    return [digits.encode(), spaced.encode(), spaced.replace(" ", "-").encode()]


async def test_a_card_number_sent_on_either_channel_is_in_no_database_and_no_log(
    rasa_stack, gateway, http, web_member
) -> None:
    web_replies = await web_member.texts(f"my card number is {WEB_CARD}")
    sms_replies = await Texter(http, gateway, "+17065550188").text(f"pay with {SMS_CARD} please")

    assert not any("5555" in t for t in web_replies) and not any("4012" in t for t in sms_replies)
    files = sorted(rasa_stack.tmp.glob("jec.db*")) + sorted(rasa_stack.tmp.glob("rasa-tracker.db*"))
    files += sorted(p for p in rasa_stack.log_dir.rglob("*") if p.is_file())
    assert any(p.name == "rasa-tracker.db" for p in files) and any(
        p.name == "gateway.log" for p in files
    )
    # The messages did reach Rasa's tracker store and the gateway's transcript, masked.
    user_texts = [
        json.loads(data).get("text", "")
        for (data,) in rasa_stack.tracker_sql(
            "select data from events where sender_id = :s and type_name = 'user'",
            s=web_member.conversation_id,
        )
    ]
    assert "my card number is 5555 **** **** 4444" in [t.lower() for t in user_texts], user_texts
    stored = [
        t
        for (t,) in rasa_stack.sql(
            "select m.text from messages m join conversations c on c.id = m.conversation_id "
            "where c.external_id = '+17065550188' and m.direction = 'in'"
        )
    ]
    assert stored == ["pay with 4012 **** **** 1881 please"]
    leaks = [
        (p.name, form.decode())
        for p in files
        for form in _forms(WEB_CARD) + _forms(SMS_CARD)
        if form in p.read_bytes()
    ]
    assert leaks == []
