"""Signed member turns between the gateway and Rasa's input channel (standard library only).

The gateway signs each turn with a key derived from SECRET_KEY for the `rasa-channel` purpose
(HKDF-SHA256, the same derivation as `bot.core.keys`, which Rasa's Python 3.10 cannot import):

    X-JEC-Timestamp: <unix seconds>
    X-JEC-Signature: v1=<hex HMAC-SHA256(key, "<timestamp>." + raw body)>

The raw body is the JSON turn (`sender`, `message`, `metadata`, `message_id`), so the metadata
(channel, phone, client address) is covered. A turn older than the window is refused (replay);
the channel also refuses a `message_id` it has already accepted within the window.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import OrderedDict
from typing import Iterable, Mapping, Optional, Sequence, Tuple

TIMESTAMP_HEADER = "X-JEC-Timestamp"
SIGNATURE_HEADER = "X-JEC-Signature"
SIGNATURE_VERSION = "v1"
CHANNEL_PATH = "/webhooks/gateway/webhook"
DEFAULT_MAX_AGE_SECONDS = 60.0

# The HKDF salt and `info` of bot.core.keys (Purpose.RASA_CHANNEL); a test proves they agree.
_SALT = b"jec-member-assistant/purpose-keys/v1"
CHANNEL_PURPOSE = b"rasa-channel"

# Where the Rasa process finds its keys: the derived channel keys (what `jecbot run` passes, so
# Rasa never holds SECRET_KEY), else SECRET_KEY and SECRET_KEY_PREVIOUS to derive them from.
ENV_CHANNEL_KEYS = "JEC_RASA_CHANNEL_KEYS"


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32, salt: bytes = _SALT) -> bytes:
    """HKDF (RFC 5869) with SHA-256: extract with `salt`, expand with `info`."""
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def channel_key(secret: str) -> str:
    """The channel key derived from one secret (64 hex characters)."""
    return hkdf_sha256(secret.encode("utf-8"), CHANNEL_PURPOSE).hex()


def keys_from_env(env: Optional[Mapping[str, str]] = None) -> Tuple[str, ...]:
    """Every key that may verify a turn, from the environment; empty when none is configured."""
    env = os.environ if env is None else env
    given = [k.strip() for k in env.get(ENV_CHANNEL_KEYS, "").split(",") if k.strip()]
    if given:
        return tuple(given)
    secret = env.get("SECRET_KEY", "")
    if not secret:
        return ()
    previous = [p.strip() for p in env.get("SECRET_KEY_PREVIOUS", "").split(",") if p.strip()]
    return tuple(channel_key(s) for s in [secret, *previous])


def signature(key: str, timestamp: str, body: bytes) -> str:
    """The header value for `body` sent at `timestamp`."""
    mac = hmac.new(key.encode("ascii"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def signed_headers(key: str, body: bytes, now: Optional[float] = None) -> dict:
    """The two headers the gateway sends with `body`."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(key, timestamp, body)}


class Refused(Exception):
    """A turn the channel does not accept; `status` is the HTTP answer (401, 403 or 409)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class TurnVerifier:
    """Checks a turn's signature and age, and remembers accepted message ids for the window."""

    def __init__(
        self,
        keys: Iterable[str],
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        clock=time.time,
        max_remembered: int = 100_000,
    ) -> None:
        self.keys: Sequence[str] = tuple(keys)
        if not self.keys:
            raise ValueError("no channel key: set SECRET_KEY (or JEC_RASA_CHANNEL_KEYS)")
        self.max_age = float(max_age_seconds)
        self.clock = clock
        self.max_remembered = max_remembered
        self._seen: "OrderedDict[str, float]" = OrderedDict()

    def check(self, timestamp: Optional[str], signature_header: Optional[str], body: bytes) -> None:
        """Raise `Refused` unless the body is signed with one of the keys and recent."""
        if not timestamp or not signature_header:
            raise Refused(401, "unsigned turn")
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise Refused(401, "malformed timestamp")
        if not signature_header.isascii():
            raise Refused(403, "bad signature")
        sent = int(timestamp)
        if not any(
            hmac.compare_digest(signature(key, timestamp, body), signature_header)
            for key in self.keys
        ):
            raise Refused(403, "bad signature")
        if abs(self.clock() - sent) > self.max_age:
            raise Refused(403, "stale turn")

    def first_time(self, message_id: str) -> bool:
        """True the first time `message_id` is seen within the window (then it is remembered)."""
        now = self.clock()
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if message_id in self._seen:
            return False
        self._seen[message_id] = now + 2 * self.max_age
        while len(self._seen) > self.max_remembered:
            self._seen.popitem(last=False)
        return True
