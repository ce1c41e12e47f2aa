"""The browser-facing edge (docs/security.md, items 16, 17 and 20).

Any page on the internet could open the chat WebSocket (cross-site WebSocket hijacking of a
member's stored chat token); pages had no CSP or HSTS; the access log kept secure-link tokens.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_log import AccessLogger

from bot.gateway.edge import ScrubbingAccessLogger
from tests.gateway.helpers import PUBLIC_BASE
from tests.security.edge_helpers import Chat, bot_reply, start_gateway

PAGES = ["/", "/console/login", "/pay/not-a-real-token", "/health", "/static/widget.js"]


async def test_a_page_on_another_site_cannot_open_the_chat(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(aiohttp_client, aiohttp_server, tmp_path)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await gw.client.ws_connect("/ws", origin="https://evil.example")
    assert refused.value.status == 403
    for origin in (PUBLIC_BASE, "http://localhost:3000", "http://127.0.0.1:8080"):
        chat = await Chat.open(gw.client, origin=origin)
        await chat.send("hello")
        assert (await chat.until(bot_reply))["text"] == "You said: hello"
        await chat.close()


async def test_configured_origins_replace_the_development_ones(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(
        aiohttp_client, aiohttp_server, tmp_path, allowed_origins=("https://www.jec.example",)
    )
    for origin in ("https://www.jec.example", PUBLIC_BASE):
        await (await Chat.open(gw.client, origin=origin)).close()
    for origin in ("http://localhost:3000", "https://www.jec.example.evil.test", "null"):
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await gw.client.ws_connect("/ws", origin=origin)


async def test_every_page_has_a_csp_hsts_and_the_usual_headers(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(aiohttp_client, aiohttp_server, tmp_path)
    for path in PAGES:
        resp = await gw.client.get(path)
        csp = resp.headers.get("Content-Security-Policy", "")
        assert "default-src" in csp and "'unsafe-inline'" not in csp, path
        assert "frame-ancestors 'none'" in csp or path == "/static/widget.js", path
        assert resp.headers["Strict-Transport-Security"].startswith("max-age="), path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Referrer-Policy"] == "no-referrer", path
    home = await gw.client.get("/")
    assert "wss://chat.jec.example" in home.headers["Content-Security-Policy"]


async def test_hsts_only_when_the_public_url_is_https(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    gw = await start_gateway(
        aiohttp_client, aiohttp_server, tmp_path, public_base_url="http://127.0.0.1:8080"
    )
    resp = await gw.client.get("/")
    assert "Strict-Transport-Security" not in resp.headers
    assert "Content-Security-Policy" in resp.headers


async def test_the_pages_work_under_their_csp(
    aiohttp_client: Any, aiohttp_server: Any, tmp_path: Any
) -> None:
    """No inline script, style or handler the policy would block: scripts and styles are files
    the gateway serves."""
    gw = await start_gateway(aiohttp_client, aiohttp_server, tmp_path)
    for path in ("/", "/console/login", "/pay/not-a-real-token"):
        html = await (await gw.client.get(path)).text()
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path
        for script in re.findall(r"<script[^>]*>", html):
            assert "src=" in script, (path, script)
        for src in re.findall(r'(?:src|href)="(/static/[^"]+|/console/static/[^"]+)"', html):
            assert (await gw.client.get(src)).status == 200, src


def test_secure_link_tokens_are_scrubbed_from_the_access_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.access")
    access_log = ScrubbingAccessLogger(logger, AccessLogger.LOG_FORMAT)
    caplog.set_level(logging.INFO, logger="test.access")
    secret = "eyJhIjoxfQ.Zx9SECRETTOKENabc"
    for path in (f"/pay/{secret}", f"/usage/{secret}.svg", f"/bill/{secret}.pdf?token={secret}"):
        request = make_mocked_request(
            "GET", path, headers={"Referer": f"{PUBLIC_BASE}/pay/{secret}/card"}
        )
        access_log.log(request, web.Response(status=200), 0.01)
    lines = [r.getMessage() for r in caplog.records if r.name == "test.access"]
    assert len(lines) == 3
    assert all(secret not in line for line in lines), lines
    assert "/pay/[token]" in lines[0] and "/usage/[token].svg" in lines[1]
    assert "/bill/[token].pdf" in lines[2]


def test_the_gateway_process_uses_the_scrubbing_access_log(monkeypatch) -> None:
    import bot.gateway.__main__ as entry

    seen: dict[str, Any] = {}
    monkeypatch.setattr(entry.web, "run_app", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8080")
    monkeypatch.setenv("GATEWAY_HOST", "127.0.0.1")
    entry.main()
    assert seen["access_log_class"] is ScrubbingAccessLogger
