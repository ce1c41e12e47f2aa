"""Item 2: Rasa accepts member turns only when the gateway signed them (without a Rasa server).

The attacker reaches Rasa's port and posts a turn with forged metadata (a `phone` on file passes
the phone-on-file factor), or replays a genuine turn, or signs with a key meant for something
else. The verifying side is `rasa_addons.signing` (what Rasa's gateway channel runs), fed the keys
Rasa really gets; the signing side is the gateway's `bot.gateway.rasa_client`. The same attacks
against the real Rasa server are in `test_rasa_stack_attacks.py`.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings
from bot.core.keys import Purpose, SecretKey, key_for, keyring
from bot.gateway.rasa_client import CHANNEL_PATH, RasaClient, channel_key, signed_turn
from bot.runner import rasa_environment
from rasa_addons import signing

SECRET = "a-long-random-installation-secret-0123456789"
NOW = 1_800_000_000.0
DANA_PHONE = "+17065550101"


def verifier(secret: str = SECRET, previous: tuple[str, ...] = ()) -> signing.TurnVerifier:
    """The channel's verifier with the keys `jecbot run` hands to Rasa for this secret."""
    env = rasa_environment(Settings(secret_key=secret, secret_key_previous=previous))
    return signing.TurnVerifier(signing.keys_from_env(env), clock=lambda: NOW)


def gateway_turn(metadata: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    return signed_turn(channel_key(secret), "sms-attacker", "hi", metadata, now=NOW)


def check(v: signing.TurnVerifier, body: bytes, headers: dict[str, str]) -> None:
    v.check(headers.get(signing.TIMESTAMP_HEADER), headers.get(signing.SIGNATURE_HEADER), body)


@pytest.mark.parametrize("secret", [SECRET, "dev-only-secret-change-me", "çlé secrète ✓ 🔑"])
def test_rasa_derives_the_same_channel_key_as_the_gateway(secret: str) -> None:
    """Rasa's Python 3.10 cannot import bot.core.keys; its copy of the derivation must agree."""
    assert signing.channel_key(secret) == key_for(secret, Purpose.RASA_CHANNEL)
    assert signing.CHANNEL_PURPOSE.decode() == Purpose.RASA_CHANNEL.value
    assert signing.CHANNEL_PATH == CHANNEL_PATH
    assert (signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER) == (
        "X-JEC-Timestamp",
        "X-JEC-Signature",
    )


def test_rasa_gets_the_rotation_keys_but_never_the_master_secret() -> None:
    secret = SecretKey(SECRET, ("older-secret-number-one-0123456789abcdef",))
    env = rasa_environment(Settings(secret_key=SECRET, secret_key_previous=secret.previous))

    expected = set(keyring(secret, Purpose.RASA_CHANNEL))
    assert set(signing.keys_from_env(env)) == expected
    # Rasa run by hand with SECRET_KEY and SECRET_KEY_PREVIOUS derives the same keys.
    by_hand = {"SECRET_KEY": SECRET, "SECRET_KEY_PREVIOUS": secret.previous[0]}
    assert set(signing.keys_from_env(by_hand)) == expected
    assert SECRET not in " ".join(env.values())
    assert secret.previous[0] not in " ".join(env.values())


def test_a_turn_the_gateway_signed_is_accepted_once() -> None:
    v = verifier()
    body, headers = gateway_turn({"channel": "sms", "phone": DANA_PHONE})

    check(v, body, headers)  # no exception: accepted
    message_id = json.loads(body)["message_id"]
    assert v.first_time(message_id)
    assert not v.first_time(message_id), "the same turn posted again is a replay"


def test_forged_phone_metadata_is_refused() -> None:
    """The attack: take a genuine signed turn and swap in the phone on file of Dana's account."""
    v = verifier()
    body, headers = gateway_turn({"channel": "sms", "phone": "+15550009999"})
    forged = body.replace(b"+15550009999", DANA_PHONE.encode())

    with pytest.raises(signing.Refused) as refused:
        check(v, forged, headers)
    assert refused.value.status == 403


def test_unsigned_turns_are_refused_with_401() -> None:
    body = json.dumps(
        {"sender": "x", "message": "hi", "metadata": {"phone": DANA_PHONE}, "message_id": "1"}
    ).encode()
    for headers in ({}, {signing.TIMESTAMP_HEADER: str(int(NOW))}, {"X-JEC-Signature": "v1=0"}):
        with pytest.raises(signing.Refused) as refused:
            check(verifier(), body, headers)
        assert refused.value.status == 401


@pytest.mark.parametrize(
    "wrong_key",
    [
        SECRET,  # the master secret itself
        key_for(SECRET, Purpose.SIMULATOR),  # a key for another purpose
        key_for("dev-only-secret-change-me", Purpose.RASA_CHANNEL),  # the example secret's key
    ],
)
def test_a_turn_signed_with_any_other_key_is_refused(wrong_key: str) -> None:
    body, headers = signed_turn(wrong_key, "x", "hi", {"phone": DANA_PHONE}, now=NOW)
    with pytest.raises(signing.Refused) as refused:
        check(verifier(), body, headers)
    assert refused.value.status == 403


def test_an_old_turn_is_refused_even_when_genuine() -> None:
    body, headers = signed_turn(channel_key(SECRET), "x", "hi", {}, now=NOW - 61)
    with pytest.raises(signing.Refused) as refused:
        check(verifier(), body, headers)
    assert refused.value.status == 403


def test_turns_signed_before_a_rotation_still_verify() -> None:
    old = "the-secret-before-the-rotation-0123456789"
    body, headers = gateway_turn({}, secret=old)
    check(verifier(SECRET, previous=(old,)), body, headers)
    with pytest.raises(signing.Refused):
        check(verifier(SECRET), body, headers)


async def test_the_gateway_signs_every_turn_it_sends(aiohttp_server: Any) -> None:
    """RasaClient's turns pass the channel's check, metadata and all, at the channel's path."""
    v = signing.TurnVerifier(signing.keys_from_env({"SECRET_KEY": SECRET}))
    seen: list[dict[str, Any]] = []

    async def channel(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            check(v, body, dict(request.headers))
        except signing.Refused as refused:
            return web.json_response({"error": refused.reason}, status=refused.status)
        seen.append(json.loads(body))
        return web.json_response([{"text": "Hi Dana"}])

    app = web.Application()
    app.router.add_post(CHANNEL_PATH, channel)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as http:
        client = RasaClient(str(server.make_url("")), lambda: http, secret_key=SECRET)
        replies = await client.send("sms-1", "balance", {"channel": "sms", "phone": DANA_PHONE})

    assert replies == [{"text": "Hi Dana"}]
    assert seen[0]["metadata"] == {"channel": "sms", "phone": DANA_PHONE}
    assert seen[0]["message_id"]
