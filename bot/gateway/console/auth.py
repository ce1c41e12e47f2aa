"""Agent sign-in: argon2 password hashes, signed session cookies, a second factor, CSRF.

The cookie (itsdangerous, keyed with the console's purpose key) names a server-side session
(`console.sessions`): the cookie alone proves nothing once that session is revoked, expired or
idle. Inactivity is also enforced with the `seen` time inside the cookie, read with the gateway's
clock (tests inject it), and the cookie is re-issued on every request, so 30 minutes without a
request signs the agent out.

The second factor is a TOTP code (RFC 6238, an authenticator app; `jecbot agents enrol-totp`).
It is required when `CONSOLE_TOTP=on`, or `auto` on an installation that is not local; a code is
accepted once (its time step is remembered), one step of clock drift either way.

Cookies are HTTP-only and SameSite=Strict; `Secure` is set whenever the public URL is https
(`PUBLIC_BASE_URL`), so plain-http localhost development still works.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

from bot.config import Settings, is_local
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


def totp_required(settings: Settings) -> bool:
    """Whether agents must give a TOTP code to sign in (`CONSOLE_TOTP`)."""
    if settings.console_totp == "auto":
        return not is_local(settings)
    return settings.console_totp == "on"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app imports (as a QR code or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def totp_step(secret: str | None, code: object, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (now, or one step either side), if it is right and newer
    than `last_step` (a code is good once); None otherwise."""
    if not secret or not isinstance(code, str):
        return None
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


@dataclass(frozen=True)
class ConsoleSession:
    agent_id: int
    csrf: str
    seen: datetime
    sid: str = ""


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
                int(data["a"]),
                str(data["c"]),
                datetime.fromisoformat(data["s"]),
                str(data.get("i") or ""),
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
            {
                "a": session.agent_id,
                "c": session.csrf,
                "s": session.seen.isoformat(),
                "i": session.sid,
            }
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


def new_session(agent_id: int, now: datetime, sid: str = "", csrf: str = "") -> ConsoleSession:
    """The cookie's claims for a session (`sid` and `csrf` from `console.sessions`)."""
    return ConsoleSession(
        agent_id, csrf or secrets.token_urlsafe(24), now, sid or secrets.token_urlsafe(32)
    )


def csrf_ok(session: ConsoleSession, submitted: object) -> bool:
    return (
        isinstance(submitted, str)
        and bool(submitted)
        and hmac.compare_digest(session.csrf, submitted)
    )
