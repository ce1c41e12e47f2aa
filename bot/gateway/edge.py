"""The member-facing edge: what every channel does to input before anything else sees it.

- `clean_text`: valid Unicode only (lone surrogates become U+FFFD), NFC, no NUL or control
  characters (tabs become spaces, line breaks are kept). Storing, masking and logging never meet
  a string they cannot encode.
- `cut_text`: the length cap applied to every channel before Rasa (Twilio's 1,600 characters).
- `typed_text_for_rasa`: typed text is always text. Rasa reads a message starting with "/" as an
  intent or command ("/restart"); a leading slash typed by a member is sent as U+2215 (DIVISION
  SLASH), which looks the same to the assistant's language model and is never a command.
- `client_address`: the member's address, from the configured trusted proxy's X-Forwarded-For,
  else the connection's peer.
- `origin_allowed`, `security_headers`, `ScrubbingAccessLogger`: origins allowed to open the chat
  socket, the headers on every response, and an access log without secure-link tokens.

See docs/security.md for the threats each one answers.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.web_log import AccessLogger

from bot.config import Settings
from bot.gateway.ratelimits import EdgeLimits

ESCAPED_SLASH = "\u2215"
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls, DEL and the Unicode noncharacters U+FFFE/U+FFFF; \n and \t handled first.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")


def clean_text(raw: str) -> str:
    """The member's text as the gateway keeps it: valid, NFC-normalised, without controls."""
    text = _SURROGATE.sub("\ufffd", raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _CONTROL.sub("", text)
    return unicodedata.normalize("NFC", text)


def clean_identifier(raw: object, max_len: int = 64) -> str | None:
    """A client-chosen id (the widget's `client_id`) if it is short printable ASCII, else None."""
    if not isinstance(raw, str) or not (1 <= len(raw) <= max_len):
        return None
    return raw if raw.isascii() and raw.isprintable() else None


def cut_text(text: str, max_chars: int) -> tuple[str, bool]:
    """At most `max_chars` characters, cut at a space near the end when there is one."""
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    space = head.rfind(" ", max_chars - 40)
    return (head[:space] if space > 0 else head).rstrip(), True


def cut_notice(max_chars: int) -> str:
    return (
        f"Your message was long, so I only read the first {max_chars:,} characters. "
        "Please send the rest in another message."
    )


def typed_text_for_rasa(text: str) -> str:
    """Member text that Rasa can only read as text: leading slashes are escaped."""
    head = 0
    while head < len(text) and (text[head] == "/" or text[head].isspace()):
        head += 1  # Rasa strips whitespace first: "/ /restart" is a command to it too
    if "/" not in text[:head]:
        return text
    return text[:head].replace("/", ESCAPED_SLASH) + text[head:]


# ---------------------------------------------------------------- the client's address


def _networks(
    entries: Iterable[str],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()]


def _parse_ip(raw: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not raw:
        return None
    try:
        return ipaddress.ip_address(raw.strip().strip("[]"))
    except ValueError:
        return None


class ClientAddresses:
    """Who is on the other end: the peer, or the client named by a trusted proxy."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted = _networks(trusted_proxies)

    def _is_trusted(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(ip in net for net in self._trusted if net.version == ip.version)

    def of(self, request: web.Request) -> str:
        """The client's address; behind a trusted proxy, the right-most X-Forwarded-For entry
        that is not itself a trusted proxy (entries to its left are the client's to forge)."""
        peer = _parse_ip(request.remote)
        if peer is None:
            return request.remote or "unknown"
        if not self._is_trusted(peer):
            return str(peer)
        forwarded = request.headers.getall("X-Forwarded-For", [])
        hops = [h.strip() for line in forwarded for h in line.split(",") if h.strip()]
        for hop in reversed(hops):
            ip = _parse_ip(hop)
            if ip is None:
                break  # a garbled header: trust nothing further left
            if not self._is_trusted(ip):
                return str(ip)
        return str(peer)


# ---------------------------------------------------------------- origins and headers


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


_LOOPBACK_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$")


class Origins:
    """Origins whose pages may open the chat WebSocket (a browser always sends `Origin`): the
    gateway's own (PUBLIC_BASE_URL), those in ALLOWED_ORIGINS, and, when ALLOWED_ORIGINS is
    not set, loopback pages on any port for development."""

    def __init__(self, settings: Settings) -> None:
        configured = (*settings.allowed_origins, _origin_of(settings.public_base_url))
        self._allowed = {o.rstrip("/").lower() for o in configured}
        self._loopback = not settings.allowed_origins  # the default includes dev machines

    def allowed(self, origin: str | None) -> bool:
        """True for a listed origin; also for no `Origin` at all (not a browser: a browser
        page cannot open a socket without one, so cross-site use is still refused)."""
        if origin is None:
            return True
        value = origin.strip().rstrip("/").lower()
        return value in self._allowed or bool(self._loopback and _LOOPBACK_ORIGIN.match(value))


def content_security_policy(settings: Settings) -> str:
    """Scripts, styles and images from the gateway only; the chat socket to the gateway."""
    base = urlsplit(settings.public_base_url)
    ws = f"{'wss' if base.scheme == 'https' else 'ws'}://{base.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {ws}; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every response carries (a page's own stricter CSP is kept)."""
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if urlsplit(settings.public_base_url).scheme == "https":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def install_security_headers(app: web.Application, settings: Settings) -> None:
    headers = security_headers(settings)

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add)


# ---------------------------------------------------------------- the access log

# Paths whose last segment is a bearer token: payment pages, usage charts, bill PDFs.
_TOKEN_PATH = re.compile(r"(/(?:pay|usage|bill)/)[^/?\s\"]+?(\.svg|\.pdf)?(?=[/?\s\"]|$)")
_TOKEN_QUERY = re.compile(r"([?&](?:token|t|sig|signature|code)=)[^&\s\"]*", re.IGNORECASE)


def scrub(line: str) -> str:
    """A request line or referrer without the secure-link tokens in it."""
    return _TOKEN_QUERY.sub(r"\1[redacted]", _TOKEN_PATH.sub(r"\1[token]\2", line))


class ScrubbingAccessLogger(AccessLogger):
    """aiohttp's access log with tokens removed from the request line and the referrer."""

    def _format_line(self, request, response, time):  # type: ignore[no-untyped-def]
        return [
            (key, scrub(value) if isinstance(value, str) else value)
            for key, value in super()._format_line(request, response, time)
        ]


# ---------------------------------------------------------------- the container


@dataclass
class Edge:
    """The edge's state for one gateway process (made in the app's cleanup context)."""

    limits: EdgeLimits
    addresses: ClientAddresses
    origins: Origins
    max_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Edge:
        return cls(
            limits=EdgeLimits(settings),
            addresses=ClientAddresses(settings.trusted_proxies),
            origins=Origins(settings),
            max_chars=settings.message_max_chars,
        )


EDGE = web.AppKey("edge", Edge)
