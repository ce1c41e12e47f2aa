"""Tests only: `python -m bot.gateway`, plus the action server's test clock.

The full-stack tests need the gateway and the action server to agree on "now" (agent presence,
agent hours, the after-hours sweep of the queue). `bot.gateway.__main__` always uses the real
time, so this launcher builds the very same app with `create_app(settings, clock=...)`, the clock
injection the gateway's own tests use, reading the test-only JEC_FAKE_NOW / JEC_FAKE_NOW_FILE
exactly like the action server does. Never used outside the e2e fixtures.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import load_settings
from bot.core.clock import clock_from_env
from bot.gateway.app import create_app


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    web.run_app(
        create_app(settings, clock=clock_from_env()),
        host=settings.gateway_host,
        port=settings.gateway_port,
        print=lambda msg: logging.getLogger("bot.gateway").info(msg),
    )


if __name__ == "__main__":
    main()
