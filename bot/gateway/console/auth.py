"""Agent sign-in: argon2 password hashes, signed session cookies with an inactivity timeout, CSRF.

Why a signed cookie and not a session table: the console needs no server-side session data
beyond "which agent, since when, which CSRF token", and a signed cookie (itsdangerous, keyed with
`settings.secret_key`) survives gateway restarts and replicas without a new table. Inactivity is
enforced with the `seen` time inside the cookie, read with the gateway's clock (tests inject it),
and the cookie is re-issued on every request, so 30 minutes without a request signs the agent out.

Cookies are HTTP-only and SameSite=Strict; `Secure` is set whenever the public URL is https
(`PUBLIC_BASE_URL`), so plain-http localhost development still works.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

from bot.config import Settings
from bot.core.keys import Purpose, keyring

SESSION_COOKIE = "jec_console"
LOGIN_COOKIE = "jec_console_login"
COOKIE_PATH = "/console"
INACTIVITY = timedelta(minutes=30)
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

_hasher = PasswordHasher()
# A hash of a random password, verified against when the username is unknown, so a wrong
# username takes as long as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; always does the argon2 work, even for unknown users."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class ConsoleSession:
    agent_id: int
    csrf: str
    seen: datetime


def secure_cookies(settings: Settings) -> bool:
    return settings.public_base_url.lower().startswith("https://")


class SessionCodec:
    """Reads and writes the console's session and pre-login cookies."""

    def __init__(self, settings: Settings) -> None:
        keys = keyring(settings.secret_key, Purpose.CONSOLE)
        self._serializer = URLSafeSerializer(keys, salt="jec-console-session")
        self._login = URLSafeSerializer(keys, salt="jec-console-login")
        self._secure = secure_cookies(settings)

    def read(self, request: web.Request, now: datetime) -> ConsoleSession | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw or len(raw) > 1000:
            return None
        try:
            data = self._serializer.loads(raw)
            session = ConsoleSession(
                int(data["a"]), str(data["c"]), datetime.fromisoformat(data["s"])
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if (
            session.seen.tzinfo is None
            or now - session.seen > INACTIVITY
            or session.seen > now + timedelta(minutes=5)
        ):
            return None
        return session

    def write(self, response: web.StreamResponse, session: ConsoleSession) -> None:
        value = self._serializer.dumps(
            {"a": session.agent_id, "c": session.csrf, "s": session.seen.isoformat()}
        )
        response.set_cookie(
            SESSION_COOKIE,
            value,
            path=COOKIE_PATH,
            httponly=True,
            secure=self._secure,
            samesite="Strict",
        )

    def clear(self, response: web.StreamResponse) -> None:
        response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)

    # -- login CSRF (double submit: a signed cookie and the same token in the form) ----------------
    def new_login_token(self, response: web.StreamResponse) -> str:
        token = secrets.token_urlsafe(24)
        response.set_cookie(
            LOGIN_COOKIE,
            self._login.dumps(token),
            path=COOKIE_PATH,
            httponly=True,
            secure=self._secure,
            samesite="Strict",
            max_age=3600,
        )
        return token

    def login_token_ok(self, request: web.Request, submitted: object) -> bool:
        raw = request.cookies.get(LOGIN_COOKIE)
        if not raw or not isinstance(submitted, str) or not submitted:
            return False
        try:
            expected = self._login.loads(raw)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected, submitted)


def new_session(agent_id: int, now: datetime) -> ConsoleSession:
    return ConsoleSession(agent_id, secrets.token_urlsafe(24), now)


def csrf_ok(session: ConsoleSession, submitted: object) -> bool:
    return (
        isinstance(submitted, str)
        and bool(submitted)
        and hmac.compare_digest(session.csrf, submitted)
    )
