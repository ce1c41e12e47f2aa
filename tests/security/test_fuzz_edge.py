"""Inputs nobody thought of (docs/security.md, item 24): hypothesis over the WebSocket frame and
the signed SMS form, against the real gateway app and the fake Rasa of tests/gateway.

Every input gets a friendly reply or a clear protocol error: never a traceback, a 500, a socket
dropped without a close reason, or silence for a message with content; and the gateway keeps
answering another member afterwards. The gateway runs on its own event loop in a thread, so one
server serves every generated example.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.gateway.app import create_app
from bot.gateway.edge import clean_text
from bot.gateway.rasa_client import CHANNEL_PATH
from bot.gateway.signatures import sign
from bot.gateway.simulate import twiml_bodies
from bot.gateway.state import GatewayOptions
from tests.conftest import _reset_schema
from tests.gateway.helpers import AUTH_TOKEN, PUBLIC_BASE, FakeRasa

PROTOCOL_ERRORS = {"bad_json", "bad_text", "unknown_type", "rate_limited"}


class _Errors(logging.Handler):
    """Collects every error or traceback logged while the gateway runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


SILENT_CONTROL_FRAMES = ("typing", "end")  # docs/gateway-protocol.md: no answer is sent


def _silent_control(frame: str) -> bool:
    try:
        parsed = json.loads(frame)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("type") in SILENT_CONTROL_FRAMES


class LiveGateway:
    """The gateway app and a fake Rasa on real sockets, served by a loop in a thread."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.db_url = f"sqlite:///{tmp / 'fuzz.db'}"
        _reset_schema(self.db_url)
        self.tmp = tmp
        self.phones = iter(range(1000, 10_000))
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _site(self, app: web.Application) -> tuple[web.AppRunner, str]:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return runner, f"http://127.0.0.1:{port}"

    async def _start(self) -> None:
        self.rasa = FakeRasa()
        rasa_app = web.Application()
        rasa_app.router.add_post(CHANNEL_PATH, self.rasa.webhook)
        rasa_app.router.add_get("/", self.rasa.root)
        self.rasa_runner, rasa_url = await self._site(rasa_app)
        self.settings = Settings(
            var_dir=self.tmp,
            database_url=self.db_url,
            rasa_url=rasa_url,
            public_base_url=PUBLIC_BASE,
            secret_key="test-secret-key",
            twilio_auth_token=AUTH_TOKEN,
            http_timeout_seconds=5.0,
            # generous limits: this test is about malformed input, not floods
            rate_messages_per_connection="10000/minute",
            rate_new_conversations_per_address="10000/minute",
            rate_connections_per_address="10000/minute",
            rate_texts_per_phone="10000/minute",
        )
        options = GatewayOptions(sms_reply_wait_seconds=4.0, hello_timeout_seconds=5.0)
        self.runner, self.url = await self._site(create_app(self.settings, options=options))
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def _stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()
        await self.rasa_runner.cleanup()

    def close(self) -> None:
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    # -- a member's exchanges --------------------------------------------------------------

    async def chat(self, frame: str | bytes) -> tuple[list[dict[str, Any]], Any]:
        """Say hello, send one frame; the frames that answer it and how the socket ended."""
        async with self.http.ws_connect(self.url + "/ws") as ws:
            await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
            welcome = await asyncio.wait_for(ws.receive_json(), 5)
            assert welcome["type"] == "welcome"
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
                if _silent_control(frame):  # typing / end: taken without a reply (protocol doc)
                    await ws.send_json({"type": "ping"})  # the socket must still answer
            frames: list[dict[str, Any]] = []
            while True:
                msg = await asyncio.wait_for(ws.receive(), 5)
                if msg.type != WSMsgType.TEXT:
                    return frames, (msg.type, ws.close_code)
                got = json.loads(msg.data)
                frames.append(got)
                if got["type"] in ("error", "pong") or (
                    got["type"] == "message" and got["sender"] in ("bot", "system")
                ):
                    return frames, None

    async def text(self, form: dict[str, str]) -> tuple[int, str]:
        """The webhook's status and what the member gets: the TwiML, then what the queued turn
        texted (the outbox), as one TwiML body."""
        from gateway.helpers import outbox_max_id, with_queued_replies

        headers = {"X-Twilio-Signature": sign(self.settings, PUBLIC_BASE + "/sms/twilio", form)}
        before = await outbox_max_id(self.db_url)
        async with self.http.post(self.url + "/sms/twilio", data=form, headers=headers) as resp:
            status, xml = resp.status, await resp.text()
        if status != 200:
            return status, xml
        return status, await with_queued_replies(self.db_url, form, xml, before)

    def fresh_phone(self) -> str:
        return f"+170620{next(self.phones):05d}"

    async def another_member_is_answered(self) -> None:
        frames, ended = await self.chat(json.dumps({"type": "message", "text": "hello there"}))
        assert ended is None and frames[-1]["text"] == "You said: hello there"
        status, body = await self.text(_form(self.fresh_phone(), "balance please"))
        assert status == 200 and twiml_bodies(body) == ["You said: balance please"]


def _form(phone: str, body: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "1" * 32,
        "From": phone,
        "To": "+17065550100",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    gateway = LiveGateway(tmp_path_factory.mktemp("fuzz"))
    gateway.errors = errors  # type: ignore[attr-defined]
    try:
        yield gateway
    finally:
        gateway.close()
        logging.getLogger().removeHandler(errors)


# ---------------------------------------------------------------- strategies

# Text with what browsers and scripts can put in JSON: lone surrogates (as \u escapes), NUL,
# controls, combining marks, right-to-left marks, slashes.
hostile_char = st.one_of(
    st.characters(),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.sampled_from(["\x00", "\x1b", "\u202e", "\u200b", "\ufeff", "/", "{", "\n", "\r", "\t"]),
)
hostile_text = st.text(hostile_char, max_size=300)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=8,
)
message_frame = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "ping", "hello", "typing", ""]) | hostile_text},
    optional={"text": json_value, "payload": json_value, "client_id": json_value},
)
member_message = st.fixed_dictionaries(
    {"type": st.just("message"), "text": hostile_text},
    optional={"payload": json_value | hostile_text, "client_id": hostile_text | json_value},
)
ws_frame = st.one_of(
    member_message.map(json.dumps),
    member_message.map(json.dumps),
    message_frame.map(json.dumps),  # ensure_ascii: lone surrogates travel as \ud800
    json_value.map(json.dumps),
    st.text(max_size=300),
    st.binary(max_size=300),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=ws_frame)
def test_every_websocket_frame_gets_an_answer_or_a_clear_error(
    live: LiveGateway, frame: str | bytes
) -> None:
    frames, ended = live.run(live.chat(frame))
    assert ended is None, f"the socket ended ({ended}) after {frame!r}"
    last = frames[-1]
    if last["type"] == "error":
        assert last["error"] in PROTOCOL_ERRORS
    else:
        assert last["type"] == "pong" or last["text"]
    assert not live.errors.records, [r.getMessage() for r in live.errors.records]  # type: ignore[attr-defined]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.text(
        st.characters(exclude_categories=["Cs"]) | st.sampled_from(["\x00", "\x07", "/", " "]),
        max_size=400,
    ),
    media=st.sampled_from(["0", "1", "", "x", "-1", "99999999999999999999"]),
    from_number=st.sampled_from(["fresh", "", "not a phone", "+1", "+1706555010\x00"]),
)
def test_every_signed_text_gets_a_reply_or_a_clear_error(
    live: LiveGateway, body: str, media: str, from_number: str
) -> None:
    phone = live.fresh_phone() if from_number == "fresh" else from_number
    status, xml = live.run(live.text(_form(phone, body, NumMedia=media)))
    if from_number != "fresh":
        assert status == 400 and "From" in xml  # a clear protocol error
        return
    assert status == 200
    has_content = bool(clean_text(body).strip())
    has_media = media.isdigit() and int(media) > 0
    if has_content or has_media:
        assert twiml_bodies(xml), f"no reply to {body!r} (media {media!r})"
    assert not live.errors.records, [r.getMessage() for r in live.errors.records]  # type: ignore[attr-defined]


def test_the_gateway_keeps_answering_others_after_the_fuzzing(live: LiveGateway) -> None:
    live.run(live.another_member_is_answered())
    assert not live.errors.records  # type: ignore[attr-defined]
