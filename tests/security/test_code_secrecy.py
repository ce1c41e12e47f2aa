"""Issue 12 item 6: a one-time code sent through a real provider is never kept readable in the
outbox table (only the provider gets the text), and the text expires when the code does."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from types import SimpleNamespace

from sqlalchemy import select

from bot.adapters.smtp_email import SmtpNotifier
from bot.adapters.twilio_sms import TwilioNotifier
from bot.config import Settings
from bot.services.otp import OtpRules, OtpService
from bot.store.models import OutboxMessage

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
PHONE = "+17065550101"
TWILIO = Settings(
    twilio_account_sid="ACtest",
    twilio_auth_token="f" * 32,
    twilio_from_number="+17065550000",
    http_timeout_seconds=2,
)
SMTP = Settings(smtp_host="mail.example.com", smtp_from="noreply@jec.coop", http_timeout_seconds=2)


class FakeTwilio:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict] = []
        self.fail = fail
        self.messages = self

    def create(self, **kwargs):
        if self.fail:
            raise TimeoutError
        self.sent.append(kwargs)
        return SimpleNamespace(sid=f"SM{len(self.sent):032d}")


class FakeSmtp:
    sent: list[EmailMessage] = []

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def ehlo(self) -> None:
        pass

    def has_extn(self, name: str) -> bool:
        return False

    def login(self, *args) -> None:
        pass

    def send_message(self, message: EmailMessage) -> None:
        FakeSmtp.sent.append(message)


async def outbox_bodies(factory) -> list[str]:
    async with factory() as session:
        return list((await session.scalars(select(OutboxMessage.body))).all())


async def send_code(otp: OtpService, destination: str = PHONE, channel: str = "sms"):
    return await otp.send(
        conversation_id="c1",
        account_id=None,
        purpose="confirm",
        destination=destination,
        channel=channel,
        now=NOW,
    )


async def test_a_texted_code_reaches_twilio_but_not_the_outbox_table(session_factory) -> None:
    fake = FakeTwilio()
    otp = OtpService(
        session_factory, OtpRules(), TwilioNotifier(TWILIO, session_factory, client=fake)
    )
    assert (await send_code(otp)).ok
    (sent,) = fake.sent
    code = re.search(r"code: (\d{6})", sent["body"])[1]
    (body,) = await outbox_bodies(session_factory)
    assert code not in body and body.startswith("JEC code: ******")
    # The text stops being delivered when the code stops working (10 minutes).
    assert sent["validity_period"] == 600


async def test_a_failed_send_keeps_no_code_either(session_factory) -> None:
    otp = OtpService(
        session_factory,
        OtpRules(),
        TwilioNotifier(TWILIO, session_factory, client=FakeTwilio(True)),
    )
    assert not (await send_code(otp)).ok
    (body,) = await outbox_bodies(session_factory)
    assert re.search(r"\d{6}", body) is None


async def test_an_emailed_code_is_not_kept_in_the_outbox_table(session_factory) -> None:
    FakeSmtp.sent = []
    notifier = SmtpNotifier(SMTP, session_factory, smtp_factory=FakeSmtp)
    otp = OtpService(session_factory, OtpRules(), notifier)
    assert (await send_code(otp, "dana@example.com", "email")).ok
    (message,) = FakeSmtp.sent
    code = re.search(r"code: (\d{6})", message.get_content())[1]
    (body,) = await outbox_bodies(session_factory)
    assert code not in body


async def test_ordinary_texts_are_kept_whole_and_have_no_validity_period(session_factory) -> None:
    fake = FakeTwilio()
    notifier = TwilioNotifier(TWILIO, session_factory, client=fake)
    assert (await notifier.send_sms(PHONE, "JEC: your bill of $142.87 is ready.")).ok
    assert "validity_period" not in fake.sent[0]
    assert await outbox_bodies(session_factory) == ["JEC: your bill of $142.87 is ready."]
