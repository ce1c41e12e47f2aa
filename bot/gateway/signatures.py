"""Twilio webhook signatures, checked with the official `twilio` RequestValidator.

The URL that is signed is the PUBLIC one Twilio calls (`settings.public_base_url` + path and
query), not the one the request arrives on: a proxy or load balancer changes scheme and host.
With no Twilio auth token configured (the embedded default), a key derived from
`settings.secret_key` is used, so `jecbot sms` can sign simulated texts and nobody else can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.core.keys import Purpose, key_for


def signing_token(settings: Settings) -> str:
    if settings.twilio_auth_token:
        return settings.twilio_auth_token
    return "sim-" + key_for(settings.secret_key, Purpose.SIMULATOR)


def public_url(settings: Settings, path_qs: str) -> str:
    return settings.public_base_url.rstrip("/") + path_qs


def sign(settings: Settings, url: str, params: Mapping[str, Any]) -> str:
    """The X-Twilio-Signature Twilio would send for this URL and form (used by the simulator)."""
    return RequestValidator(signing_token(settings)).compute_signature(url, dict(params))


def signature_valid(settings: Settings, url: str, params: Any, signature: str | None) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(signing_token(settings)).validate(url, params, signature))
