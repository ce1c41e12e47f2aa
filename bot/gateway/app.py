"""The gateway's application factory.

`create_app(settings)` builds the aiohttp app. One cleanup context makes the process's container
(`Gateway`: the database engine and its one session factory, the one HTTP client session with
timeouts, the profile, member services, processor and clock) when the app starts, subscribes the
features that listen to the conversation's events (handoff routing), starts the durable queue's
workers (`bot.gateway.queue_worker`, unless QUEUE_WORKERS_IN_GATEWAY=false) and the after-hours
sweep, and closes it all when the app stops; nothing is built at import time. The hub is
in-process or Redis pub/sub (`bot.gateway.hub.build_hub`, HUB / REDIS_URL); the Rasa client
spreads turns over every Rasa replica (`Settings.rasa_urls`). The clock is the test-only
JEC_FAKE_NOW / JEC_FAKE_NOW_FILE one when set, like the action server's. Tests may
inject a clock, a fake notifier, a fake Rasa client or a processor; production passes settings.
The member-facing edge (`bot.gateway.edge`: rate limits, allowed origins, client addresses) sits
next to it, and every response gets the security headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.adapters.notifier import build_notifier
from bot.adapters.sandbox_processor import SandboxProcessor
from bot.adapters.sql_member_services import SqlMemberServices
from bot.config import Settings
from bot.core.clock import clock_from_env
from bot.gateway.conversations import ConversationStore, SmsStore
from bot.gateway.edge import EDGE, Edge, install_security_headers
from bot.gateway.events import GatewayEvents
from bot.gateway.facts import GatewayTexts
from bot.gateway.handoff import (
    HANDOFF,
    SWEEP_INTERVAL,
    SWEEP_INTERVAL_SECONDS,
    HandoffRouter,
    RasaControl,
    sweep_forever,
)
from bot.gateway.health import METRICS
from bot.gateway.hub import TaskTracker, build_hub
from bot.gateway.queue_worker import QueueWorkers
from bot.gateway.rasa_client import BotBackend, RasaClient
from bot.gateway.routes import setup_routes
from bot.gateway.state import GATEWAY, SETTINGS, Gateway, GatewayOptions
from bot.gateway.tokens import ConversationTokens
from bot.gateway.turns import ConversationService, SmsSender
from bot.logs import request_id_middleware
from bot.ops.metrics import GatewayMetrics
from bot.profile import load_profile
from bot.queue import build_queue
from bot.services.balance import BillingRules
from bot.services.payment_processor import PaymentProcessor
from bot.store.db import async_session_factory, make_async_engine
from bot.worker.base import JobContext
from bot.worker.registry import periodic_tasks


def create_app(
    settings: Settings,
    *,
    rasa_client: BotBackend | None = None,
    notifier: SmsSender | None = None,
    clock: Callable[[], datetime] | None = None,
    options: GatewayOptions | None = None,
    processor: PaymentProcessor | None = None,
    run_workers: bool | None = None,
) -> web.Application:
    app = web.Application(client_max_size=256 * 1024, middlewares=[request_id_middleware])
    app[SETTINGS] = settings
    app[METRICS] = metrics = GatewayMetrics()
    profile = load_profile(settings.coop_profile)  # a wrong profile stops start-up here
    texts = GatewayTexts.from_profile(profile)
    opts = options or GatewayOptions.from_settings(settings)
    now = clock or clock_from_env()
    rules = BillingRules.from_profile(profile)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = make_async_engine(settings.database_url)
        http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.http_timeout_seconds, connect=5)
        )
        rasa_timeout = opts.rasa_timeout_seconds or settings.http_timeout_seconds
        factory = async_session_factory(engine)
        store = ConversationStore(factory, now)
        sms_store = SmsStore(factory, now)
        rasa = rasa_client or RasaClient(
            settings.rasa_urls,
            lambda: http,
            secret_key=settings.secret_key,
            timeout_seconds=rasa_timeout,
        )
        sms_sender = notifier or _build_notifier(settings, factory, sms_store)
        hub = build_hub(settings)
        await hub.start()
        tasks = TaskTracker()
        events = GatewayEvents()
        gw = Gateway(
            settings=settings,
            profile=profile,
            options=opts,
            texts=texts,
            engine=engine,
            sessions=factory,
            members=SqlMemberServices(factory, rules),
            processor=processor or SandboxProcessor(),
            http=http,
            store=store,
            sms_store=sms_store,
            rasa=rasa,
            hub=hub,
            tasks=tasks,
            tokens=ConversationTokens(
                settings.secret_key, int(settings.web_token_idle_hours * 3600), clock=now
            ),
            clock=now,
            service=ConversationService(
                store=store,
                rasa=rasa,
                hub=hub,
                texts=texts,
                sms=sms_sender,
                events=events,
                metrics=metrics,
            ),
            events=events,
        )
        app[GATEWAY] = gw
        edge = app[EDGE] = Edge.from_settings(settings)
        control_url = rasa.preferred_url if isinstance(rasa, RasaClient) else settings.rasa_url
        router = HandoffRouter(
            gw, RasaControl(control_url, settings.rasa_token, lambda: http, rasa_timeout)
        )
        router.listen(events)
        app[HANDOFF] = router
        workers = gw.workers = QueueWorkers(
            gw,
            build_queue(settings, factory),
            concurrency=settings.queue_concurrency,
            lease_seconds=settings.queue_lease_seconds,
            apology_after_seconds=settings.assistant_down_apology_seconds,
            periodic=periodic_tasks(),
            job_context=JobContext(
                settings=settings,
                profile=profile,
                sessions=factory,
                notifier=sms_sender,  # type: ignore[arg-type]
                http=http,
                clock=now,
            ),
            run_workers=settings.queue_workers_in_gateway if run_workers is None else run_workers,
        )
        workers.start()
        interval = app.get(SWEEP_INTERVAL, SWEEP_INTERVAL_SECONDS)
        sweeper = asyncio.create_task(sweep_forever(router, interval)) if interval else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                await asyncio.gather(sweeper, return_exceptions=True)
            await workers.stop()
            await tasks.drain()
            await hub.close()
            await edge.limits.close()
            await http.close()
            await engine.dispose()

    app.cleanup_ctx.append(resources)
    install_security_headers(app, settings)
    setup_routes(app)
    return app


def _build_notifier(settings: Settings, factory: Any, sms_store: SmsStore) -> SmsSender:
    """Twilio REST when configured, else the local outbox; both refuse opted-out numbers."""
    return build_notifier(settings, factory, is_opted_out=sms_store.is_opted_out)
