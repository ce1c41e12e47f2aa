"""Outbound texts and emails: outbox, Twilio (fake client) and SMTP (fake server), no network."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import ClassVar

from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

from bot.adapters.notifier import CompositeNotifier, build_notifier
from bot.adapters.outbox import OutboxNotifier, print_outbox
from bot.adapters.smtp_email import SmtpNotifier
from bot.adapters.twilio_sms import TwilioNotifier
from bot.config import Settings
from bot.core.gsm7 import is_gsm7 as gsm7_safe
from bot.core.masking import mask_email, mask_phone
from bot.services.notify import sms_problem
from bot.store.db import session_scope
from bot.store.models import OutboxMessage

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
TWILIO = Settings(
    twilio_account_sid="ACtest",
    twilio_auth_token="tok",
    twilio_from_number="+17065550000",
    http_timeout_seconds=2,
)
SMTP = Settings(
    smtp_host="mail.example.com",
    smtp_port=587,
    smtp_from="noreply@jec.coop",
    smtp_username="bot",
    smtp_password="pw",
    http_timeout_seconds=2,
)


def clock() -> datetime:
    return NOW


async def rows(factory) -> list[OutboxMessage]:
    async with factory() as s:
        return list((await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


class FakeMessages:
    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[dict] = []
        self.fail = fail

    def create(self, **kwargs):
        if self.fail:
            raise self.fail
        self.sent.append(kwargs)
        return SimpleNamespace(sid=f"SM{len(self.sent):032d}")


class FakeTwilio:
    def __init__(self, fail: Exception | None = None) -> None:
        self.messages = FakeMessages(fail)


def test_sms_body_rules() -> None:
    assert gsm7_safe("JEC code: 482913. Never share it.")
    assert not gsm7_safe("Power's back \U0001f600")
    assert sms_problem("x" * 306) is None  # two text messages (issue 9: 320 made three)
    assert "more than 306" in sms_problem("x" * 307)
    assert sms_problem("{" * 153) is None
    assert "more than 306" in sms_problem("{" * 154)  # extension characters count twice
    assert sms_problem("   ") == "empty message"
    assert mask_phone("+17065550101") == "***-***-0101"
    assert mask_email("dana.whitfield@example.com") == "d***@example.com"


async def test_outbox_notifier_writes_rows(session_factory) -> None:
    n = OutboxNotifier(session_factory, clock=clock)
    r1 = await n.send_sms(
        "+17065550101", "JEC: Power is back on at 412 Mill St. Reply STOP to opt out."
    )
    r2 = await n.send_email("dana@example.com", "Your payment", "We received $142.87.")
    assert r1.ok and r1.status == "outbox" and r2.status == "outbox"
    saved = await rows(session_factory)
    assert [(m.channel, m.to, m.status) for m in saved] == [
        ("sms", "+17065550101", "outbox"),
        ("email", "dana@example.com", "outbox"),
    ]
    assert saved[1].subject == "Your payment"
    assert saved[0].created_at == NOW


async def test_curly_quotes_are_straightened_and_emoji_refused(session_factory) -> None:
    n = OutboxNotifier(session_factory, clock=clock)
    ok = await n.send_sms("+17065550101", "We\u2019re on it \u2014 crews are out.")
    assert ok.ok
    bad = await n.send_sms("+17065550101", "Power's back \U0001f600")
    too_long = await n.send_sms("+17065550101", "a" * 321)
    assert bad.status == too_long.status == "rejected" and not bad.ok
    saved = await rows(session_factory)
    assert saved[0].body == "We're on it - crews are out."
    assert [m.status for m in saved] == ["outbox", "failed", "failed"]


async def test_twilio_sends_and_records_the_sid(session_factory) -> None:
    fake = FakeTwilio()
    n = TwilioNotifier(TWILIO, session_factory, client=fake, clock=clock)
    r = await n.send_sms("+17065550101", "JEC code: 482913. Never share it. Expires in 10 min.")
    assert r.status == "sent" and r.provider_id == "SM" + "0" * 31 + "1"
    assert fake.messages.sent == [
        {
            "to": "+17065550101",
            "from_": "+17065550000",
            "body": "JEC code: 482913. Never share it. Expires in 10 min.",
            # Twilio reports the delivery status of every REST send to the gateway, by row
            "status_callback": f"{TWILIO.public_base_url}/sms/twilio/status?outbox=1",
        }
    ]
    (row,) = await rows(session_factory)
    assert (row.status, row.provider_id, row.sent_at) == ("sent", r.provider_id, NOW)


async def test_twilio_refuses_opted_out_numbers(session_factory) -> None:
    fake = FakeTwilio()
    opted_out = {"+17065550102"}

    async def is_opted_out(phone: str) -> bool:
        return phone in opted_out

    n = TwilioNotifier(TWILIO, session_factory, client=fake, is_opted_out=is_opted_out, clock=clock)
    r = await n.send_sms("+17065550102", "JEC: your bill is ready.")
    assert r.status == "opted_out" and not r.ok
    assert fake.messages.sent == []
    (row,) = await rows(session_factory)
    assert row.status == "failed" and "opted out" in row.error
    assert (await n.send_sms("+17065550101", "JEC: your bill is ready.")).status == "sent"


async def test_twilio_error_is_recorded_not_raised(session_factory) -> None:
    err = TwilioRestException(
        400, "/Messages", msg="Attempt to send to unsubscribed recipient", code=21610
    )
    n = TwilioNotifier(TWILIO, session_factory, client=FakeTwilio(fail=err), clock=clock)
    r = await n.send_sms("+17065550101", "JEC: hello")
    assert r.status == "failed" and r.error.startswith("21610")
    (row,) = await rows(session_factory)
    assert row.status == "failed" and row.provider_id is None and "21610" in row.error


class FakeSmtp:
    instances: ClassVar[list[FakeSmtp]] = []

    def __init__(self, host, port, timeout=None, fail=False):
        self.host, self.port, self.timeout = host, port, timeout
        self.calls: list[str] = []
        self.messages = []
        FakeSmtp.instances.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.calls.append("quit")

    def ehlo(self):
        self.calls.append("ehlo")

    def has_extn(self, name):
        return name == "starttls"

    def starttls(self):
        self.calls.append("starttls")

    def login(self, user, password):
        self.calls.append(f"login:{user}")

    def send_message(self, msg):
        self.messages.append(msg)


async def test_smtp_sends_with_tls_login_and_timeout(session_factory) -> None:
    FakeSmtp.instances.clear()
    n = SmtpNotifier(SMTP, session_factory, smtp_factory=FakeSmtp, clock=clock)
    r = await n.send_email("dana@example.com", "Draft authorization", "Starting Jan 18 ...")
    assert r.status == "sent"
    (smtp,) = FakeSmtp.instances
    assert (smtp.host, smtp.port, smtp.timeout) == ("mail.example.com", 587, 2)
    assert smtp.calls == ["ehlo", "starttls", "ehlo", "login:bot", "quit"]
    msg = smtp.messages[0]
    assert (msg["To"], msg["From"], msg["Subject"]) == (
        "dana@example.com",
        "noreply@jec.coop",
        "Draft authorization",
    )
    (row,) = await rows(session_factory)
    assert (row.channel, row.status) == ("email", "sent")


async def test_smtp_failure_is_recorded(session_factory) -> None:
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    n = SmtpNotifier(SMTP, session_factory, smtp_factory=broken, clock=clock)
    r = await n.send_email("dana@example.com", "Hi", "Body")
    assert r.status == "failed" and "refused" in r.error
    (row,) = await rows(session_factory)
    assert row.status == "failed"


async def test_build_notifier_picks_providers_from_settings(session_factory) -> None:
    plain = build_notifier(Settings(), session_factory)
    assert isinstance(plain, CompositeNotifier)
    assert isinstance(plain.sms, OutboxNotifier) and isinstance(plain.email, OutboxNotifier)
    both = build_notifier(
        Settings(
            **{
                **TWILIO.__dict__,
                **{k: v for k, v in SMTP.__dict__.items() if k.startswith("smtp")},
            }
        ),
        session_factory,
    )
    assert isinstance(both.sms, TwilioNotifier) and isinstance(both.email, SmtpNotifier)


async def test_print_outbox_newest_first_and_filtered(session_factory, sqlite_url) -> None:
    async with session_scope(session_factory) as s:

        def queued(channel: str, to: str, body: str, hour: int, **more: str) -> OutboxMessage:
            created_at = datetime(2026, 11, 28, hour, tzinfo=UTC)
            return OutboxMessage(
                channel=channel, to=to, body=body, status="outbox", created_at=created_at, **more
            )

        s.add_all(
            [
                queued("sms", "+17065550101", "JEC code: 111111.", 10),
                queued("sms", "+17065550102", "JEC code: 222222.", 11),
                queued("email", "d@example.com", "Paid.", 12, subject="Receipt"),
            ]
        )
    out = io.StringIO()
    print_outbox(sqlite_url, limit=2, file=out)
    text = out.getvalue()
    assert text.index("Receipt") < text.index("222222")
    assert "111111" not in text
    out = io.StringIO()
    print_outbox(sqlite_url, to="+17065550101", file=out)
    assert "111111" in out.getvalue() and "222222" not in out.getvalue()
    out = io.StringIO()
    print_outbox(sqlite_url, to="+19995550000", file=out)
    assert "No messages" in out.getvalue()
