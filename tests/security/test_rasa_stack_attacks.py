"""Items 2 and 15 against the real Rasa server and action server (`rasa_stack`, tests/stack.py).

The attacker reaches Rasa's port directly: posts turns with a forged `phone` in the metadata
(unsigned, signed with a wrong key, a genuine turn tampered with, a genuine turn replayed), tries
the REST channel that used to take any metadata, and looks for the HTTP API token in the process
list and in Rasa's log.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.core.keys import Purpose, key_for
from bot.gateway.rasa_client import CHANNEL_PATH, channel_key, signed_turn
from bot.runner import rasa_environment
from tests.stack import Stack

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

DANA_PHONE = "+17065550101"  # on file for Dana Whitfield's account


async def _post(
    session: aiohttp.ClientSession, stack: Stack, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    async with session.post(f"{stack.rasa_url}{CHANNEL_PATH}", data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def _user_turns(session: aiohttp.ClientSession, stack: Stack, sender: str) -> list[str]:
    url = f"{stack.rasa_url}/conversations/{sender}/tracker"
    async with session.get(url, params={"token": stack.rasa_token}) as response:
        assert response.status == 200
        tracker = await response.json()
    return [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]


async def test_forged_metadata_never_reaches_the_conversation(rasa_stack: Stack) -> None:
    sender = f"attack-{uuid.uuid4().hex[:8]}"
    forged = {"channel": "sms", "phone": DANA_PHONE}
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        # 1. Unsigned, like the old REST webhook took it.
        unsigned = json.dumps(
            {"sender": sender, "message": "balance", "metadata": forged, "message_id": "m1"}
        ).encode()
        status, _ = await _post(session, rasa_stack, unsigned, {"Content-Type": "application/json"})
        assert status == 401
        # 2. Signed with the master secret, or a key for another purpose.
        for wrong in (rasa_stack.secret_key, key_for(rasa_stack.secret_key, Purpose.SIMULATOR)):
            body, headers = signed_turn(wrong, sender, "balance", forged)
            assert (await _post(session, rasa_stack, body, headers))[0] == 403
        # 3. A genuine turn from another phone, with Dana's phone swapped in.
        key = channel_key(rasa_stack.secret_key)
        body, headers = signed_turn(key, sender, "balance", {"channel": "sms", "phone": "+1555"})
        tampered = body.replace(b'"+1555"', json.dumps(DANA_PHONE).encode())
        assert (await _post(session, rasa_stack, tampered, headers))[0] == 403
        # 4. The REST channel is gone.
        async with session.post(
            f"{rasa_stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": "balance", "metadata": forged},
        ) as response:
            assert response.status == 404

        assert await _user_turns(session, rasa_stack, sender) == []

        # The gateway's own turn is answered, once; the same bytes again are a replay.
        body, headers = signed_turn(key, sender, "hello", {"channel": "web"})
        status, replies = await _post(session, rasa_stack, body, headers)
        assert status == 200 and any(r.get("text") for r in replies)
        assert (await _post(session, rasa_stack, body, headers))[0] == 409
        assert await _user_turns(session, rasa_stack, sender) == ["hello"]


def _rasa_pids() -> list[str]:
    listing = subprocess.run(
        ["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[0] for line in listing.splitlines() if "rasa_addons.serve" in line]


async def test_the_token_is_neither_in_the_process_list_nor_in_rasas_log(
    rasa_stack: Stack,
) -> None:
    token = rasa_stack.rasa_token
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        # The API works with the token (the gateway's handoff uses it) and not without.
        url = f"{rasa_stack.rasa_url}/conversations/token-check/tracker"
        async with session.get(url, params={"token": token}) as response:
            assert response.status == 200
        async with session.get(url) as response:
            assert response.status == 401

    listing = subprocess.run(["ps", "auxww"], capture_output=True, text=True, check=True).stdout
    assert "rasa_addons.serve" in listing
    assert token not in listing
    pids = _rasa_pids()
    assert pids
    settings = Settings(secret_key=rasa_stack.secret_key, rasa_token=token)
    secrets = list(rasa_environment(settings).values()) + [rasa_stack.secret_key]
    for pid in pids:
        environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        assert not any(v.startswith(b"SECRET_KEY=") for v in environ), "Rasa holds SECRET_KEY"
    for log in ("rasa.log", "actions.log"):
        text = (rasa_stack.log_dir / log).read_text(errors="replace")
        for secret in secrets:
            for part in secret.split(","):
                assert part not in text, f"a secret is in {log}"
