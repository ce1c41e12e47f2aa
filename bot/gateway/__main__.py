"""`python -m bot.gateway`: serve the gateway on settings.gateway_host:gateway_port."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import exit_if_insecure, load_settings
from bot.gateway.app import create_app
from bot.gateway.edge import ScrubbingAccessLogger
from bot.logs import configure_logging


def main() -> None:
    settings = load_settings()
    exit_if_insecure(settings)
    configure_logging(settings)  # LOG_FORMAT text|json, masked, with request/conversation ids
    # aiohttp's access log prints paths only (never message text or form bodies), and the
    # secure-link tokens in those paths are scrubbed.
    web.run_app(
        create_app(settings),
        access_log_class=ScrubbingAccessLogger,
        host=settings.gateway_host,
        port=settings.gateway_port,
        print=lambda msg: logging.getLogger("bot.gateway").info(msg),
    )


if __name__ == "__main__":
    main()
