"""One key per purpose, derived from the installation's SECRET_KEY, with rotation.

Nothing signs or MACs with SECRET_KEY itself. Each use gets its own key, derived with HKDF-SHA256
(RFC 5869: the secret as input keying material, a fixed salt, the purpose as `info`), so a key
handed to another component (the Rasa channel, the action server) or leaked from one place forges
nothing anywhere else, and a token made for one purpose never verifies for another.

Rotation: `SECRET_KEY_PREVIOUS` lists older secrets. `keyring(secret, purpose)` gives the derived
keys oldest first and newest last, which is the order itsdangerous takes (the newest signs, every
key verifies), so links, sessions and tokens made before a rotation keep working until the old
secret is removed from the list.

The previous secrets travel with the secret itself: `Settings.secret_key` is a `SecretKey`, a
`str` that also carries `.previous`, so every signer that is handed `settings.secret_key` gets the
rotation list without a second argument. A plain `str` is a secret with no previous keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from enum import StrEnum

_SALT = b"jec-member-assistant/purpose-keys/v1"


class Purpose(StrEnum):
    """What a derived key is for. The value is the HKDF `info`; never change one in place."""

    CONSOLE = "console-session"  # agent console session and login cookies
    LINKS = "signed-links"  # usage chart and bill PDF links
    PAYMENT_LINKS = "payment-links"  # single-use secure payment page links
    SIMULATOR = "sms-simulator"  # `jecbot sms` signs simulated Twilio webhooks
    CONVERSATION = "conversation-tokens"  # the web chat's conversation token
    RASA_CHANNEL = "rasa-channel"  # the gateway signs member turns for Rasa's input channel
    ACTION_SERVER = "action-server"  # Rasa authenticates to the action server
    VERIFICATION = "verification-keys"  # HMACs of account numbers, phones and addresses


# The header in which Rasa presents the action-server key (`Purpose.ACTION_SERVER`) to our
# action server; `jecbot run` writes it into Rasa's endpoints.
ACTION_KEY_HEADER = "X-JEC-Action-Key"


class SecretKey(str):
    """The current secret (the `str` value) plus the previous ones kept for rotation."""

    previous: tuple[str, ...]

    def __new__(cls, value: str, previous: Iterable[str] = ()) -> SecretKey:
        made = super().__new__(cls, value)
        made.previous = tuple(p for p in previous if p)
        return made

    def __repr__(self) -> str:
        return "SecretKey(<hidden>)"

    def __reduce__(self) -> tuple[type[SecretKey], tuple[str, tuple[str, ...]]]:
        return (SecretKey, (str(self), self.previous))


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32, salt: bytes = _SALT) -> bytes:
    """HKDF (RFC 5869) with SHA-256: extract with `salt`, expand with `info`."""
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def derive(secret: str, purpose: Purpose) -> str:
    """The key for `purpose` derived from one secret (64 hex characters, 256 bits)."""
    return hkdf_sha256(secret.encode("utf-8"), purpose.value.encode("ascii")).hex()


def key_for(secret: str, purpose: Purpose) -> str:
    """The current key for `purpose` (for HMACs and signatures made now)."""
    return derive(str(secret), purpose)


def keyring(secret: str, purpose: Purpose) -> list[str]:
    """Every key that may verify for `purpose`: previous secrets first, the current one last."""
    previous = getattr(secret, "previous", ())
    return [derive(old, purpose) for old in reversed(previous)] + [derive(str(secret), purpose)]
