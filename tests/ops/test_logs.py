"""Operators' logs: masked JSON lines with the request and conversation ids, over a whole
conversation through the gateway; the runner's log files masked and rotated."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from gateway.helpers import Texter

from bot.config import Settings
from bot.logs import configure_logging, mask_log_text
from bot.runner import Child

CARD = "4242 4242 4242 4242"
ROUTING, BANK_ACCOUNT = "021000021", "9876543210"
CODE = "493817"
ACCOUNT = "1000004821"
SECRETS = [CARD, CARD.replace(" ", ""), BANK_ACCOUNT, CODE, ACCOUNT, "7065550101"]


@pytest.fixture
def log_stream(settings: Settings) -> Iterator[io.StringIO]:
    """JSON logs at DEBUG for the test, captured; the previous logging set-up restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(replace(settings, log_format="json", log_level="DEBUG"), stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_a_log_call_with_a_card_code_and_account_number_is_masked(log_stream):
    logging.getLogger("bot.test").warning(
        "member typed %s, code %s, account %s, bank %s %s",
        CARD,
        CODE,
        ACCOUNT,
        ROUTING,
        BANK_ACCOUNT,
    )
    line = json.loads(log_stream.getvalue().splitlines()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "bot.test"
    for secret in SECRETS:
        assert secret not in line["message"]
    assert "4821" in line["message"]  # the last four stay, so operators can still tell apart


def test_a_traceback_is_masked_too(log_stream):
    try:
        raise ValueError(f"bad account {ACCOUNT} code {CODE}")
    except ValueError:
        logging.getLogger("bot.test").exception("failed")
    out = log_stream.getvalue()
    assert "ValueError" in out and ACCOUNT not in out and CODE not in out


async def test_a_whole_conversation_logs_nothing_sensitive_and_names_its_ids(
    client, fake_rasa, log_stream, settings
):
    """A member verifies, pays by card, gives bank details and a code, on the web and by SMS,
    with Rasa failing once; every line is JSON, masked, with the ids of its request."""
    turns = [
        f"my account is {ACCOUNT} zip 30833",
        f"pay with {CARD} exp 12/29",
        f"routing {ROUTING} account {BANK_ACCOUNT}",
        f"the code is {CODE}",
    ]
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "token": None, "last_seq": 0})
    welcome = await asyncio.wait_for(ws.receive_json(), 5)
    for n, text in enumerate(turns):
        fake_rasa.fail = n == 2
        await ws.send_json({"type": "message", "text": text, "client_id": f"c{n}"})
        while True:
            frame = await asyncio.wait_for(ws.receive_json(), 5)
            if frame["type"] == "message" and frame["sender"] in ("bot", "system"):
                if "masked" not in frame.get("text", "").lower() or n not in (1, 2):
                    break
    await ws.close()
    fake_rasa.fail = False
    texter = Texter(client, settings)
    for text in turns:
        status, _ = await texter.text(text)
        assert status == 200

    lines = [line for line in log_stream.getvalue().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r["logger"] == "bot.gateway.turns" for r in records)
    for line in lines:
        for secret in SECRETS:
            assert secret not in line, f"{secret!r} logged: {line}"
    turn_lines = [r for r in records if r["logger"] == "bot.gateway.turns"]
    assert all(r.get("request_id") and r.get("conversation_id") for r in turn_lines)
    assert welcome["conversation_id"] in {r["conversation_id"] for r in turn_lines}
    # the gateway's own access lines (the fake Rasa server logs its own, without ids)
    access = [
        r
        for r in records
        if r["logger"] == "aiohttp.access"
        and ("/sms/twilio" in r["message"] or "/ws" in r["message"])
    ]
    missing = [r for r in access if not r.get("request_id")]
    assert access and not missing, missing


def test_mask_log_text_leaves_ordinary_lines_alone():
    line = "GET /readyz 200 in 12 ms, port 8080, 2026-12-02 01:23:45"
    assert mask_log_text(line) == line


def test_the_runner_masks_and_rotates_a_childs_log(tmp_path: Path):
    script = f"for i in range(400): print('line', i, 'account {ACCOUNT}', flush=True)"
    child = Child(
        name="talker",
        argv=[sys.executable, "-c", script],
        health_url="http://127.0.0.1:9/",
        log_path=tmp_path / "talker.log",
        max_bytes=4000,
        backup_count=2,
    )
    child.start()
    assert child.process is not None
    child.process.wait(timeout=30)
    child.stop()
    files = sorted(tmp_path.glob("talker.log*"))
    assert [f.name for f in files] == ["talker.log", "talker.log.1", "talker.log.2"]
    assert all(f.stat().st_size <= 4000 for f in files)
    text = "".join(f.read_text() for f in files)
    assert ACCOUNT not in text and "******4821" in text
    assert "line 399" in (tmp_path / "talker.log").read_text()


def test_signed_link_tokens_never_reach_a_log():
    line = (
        '127.0.0.1 "GET /pay/eyJhbGciOi.abc-DEF_123 HTTP/1.1" 200; '
        '"GET /bill/InR5cCI6.Ikp_XVCJ9.pdf HTTP/1.1"; GET /status?token=s3cr3t-rasa&x=1'
    )
    masked = mask_log_text(line)
    assert "eyJhbGciOi" not in masked and "InR5cCI6" not in masked and "s3cr3t" not in masked
    assert "/pay/<token>" in masked and "/bill/<token>.pdf" in masked
    assert "token=<hidden>&x=1" in masked
