"""The action server: rasa-sdk's Sanic app, answering only the Rasa server.

`python -m bot.actions.server` (what `jecbot run` starts) serves the actions of this package like
`python -m rasa_sdk --actions bot.actions`, with two differences: every request except `/health`
must carry the action-server key (derived from SECRET_KEY for `Purpose.ACTION_SERVER`, sent by Rasa
as the `X-JEC-Action-Key` header that `jecbot run` writes into Rasa's endpoints), or it gets 401;
and it listens on `ACTION_SERVER_HOST` only (loopback or an internal address, never a public one).
Without this anyone who reached the port could run an action with forged slots.
"""

from __future__ import annotations

import argparse
import hmac
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app_for_serve, create_argument_parser, create_ssl_config
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

from bot.config import ConfigError, Settings, exit_if_insecure, listen_problems, load_settings
from bot.core.clock import Clock, clock_from_env
from bot.core.dates import local_date
from bot.core.keys import ACTION_KEY_HEADER, Purpose, keyring
from bot.logs import configure_logging, conversation_id_var
from bot.profile import load_profile
from bot.services.calendars import holiday_runout_warning

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})


def authorised(keys: Sequence[str], presented: str | None) -> bool:
    """True when `presented` is one of `keys` (compared in constant time)."""
    if not presented or not presented.isascii():
        return False
    matches = [hmac.compare_digest(presented.encode(), key.encode()) for key in keys]
    return any(matches)


def guard(app: Sanic, keys: Sequence[str]) -> Sanic:
    """Refuse (401) every request to `app` without the action-server key, `/health` aside."""

    @app.on_request
    async def require_key(request: Request) -> HTTPResponse | None:
        conversation_id_var.set(_sender_of(request))
        if request.path in OPEN_PATHS or authorised(keys, request.headers.get(ACTION_KEY_HEADER)):
            return None
        log.warning("Refused an action call without the action-server key from %s", request.ip)
        return response.json({"error": "unauthorised"}, status=401)

    return app


def _sender_of(request: Request) -> str | None:
    """The conversation an action call is for (Rasa's `sender_id`), for the log lines."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - a malformed body is refused later; the log just has no id
        return None
    sender = body.get("sender_id") if isinstance(body, dict) else None
    return sender[:64] if isinstance(sender, str) else None


def create_guarded_app(
    executor: ActionExecutor,
    keys: Sequence[str],
    log_settings: Settings | None = None,
    **options: Any,
) -> Sanic:
    """rasa-sdk's app for `executor`, guarded (module level: each Sanic worker builds one).

    Each worker process installs the operators' logging (LOG_FORMAT text|json, masked, with the
    conversation id on every line) itself: rasa-sdk's coloured handler would otherwise be the
    only one, unmasked, in the worker."""
    if log_settings is not None:
        configure_logging(log_settings)
    return guard(create_app_for_serve(executor, **options), keys)


def warn_if_holidays_run_out(settings: Settings, clock: Clock) -> str | None:
    """At start-up: a log warning while the profile's holiday list ends within
    `notices.holiday_warning_days` (60). A profile that does not load is reported by the actions
    themselves (`bot.actions.deps`), not here."""
    try:
        profile = load_profile(settings.coop_profile)
    except ConfigError:
        return None
    warning = holiday_runout_warning(profile, local_date(clock(), profile.timezone))
    if warning is not None:
        log.warning("%s", warning)
    return warning


def main(argv: Sequence[str] | None = None) -> None:
    """Parse rasa-sdk's usual options, check the settings, serve."""
    parser: argparse.ArgumentParser = create_argument_parser()
    parser.set_defaults(port=None)
    args = parser.parse_args(argv)
    settings = load_settings()
    port = args.port or settings.action_server_port
    exit_if_insecure(settings)
    problems = listen_problems(settings)
    if problems:
        raise SystemExit(f"Configuration error: {'; '.join(problems)}")

    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()

    executor = ActionExecutor()
    executor.register_package(args.actions_module or args.actions or "bot.actions")
    keys = keyring(settings.secret_key, Purpose.ACTION_SERVER)
    loader = AppLoader(
        factory=partial(
            create_guarded_app,
            executor,
            tuple(keys),
            settings,
            cors_origins=args.cors,
            auto_reload=args.auto_reload,
            endpoints=args.endpoints,
        )
    )
    app = loader.load()
    ssl = create_ssl_config(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = settings.action_server_host
    log.info("Action server on %s:%s (Rasa only: calls need the action-server key)", host, port)
    warn_if_holidays_run_out(settings, clock_from_env())
    app.prepare(host=host, port=port, ssl=ssl, workers=utils.number_of_sanic_workers())
    Sanic.serve(primary=app, app_loader=loader)
