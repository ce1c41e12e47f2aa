"""Typed application state (`web.AppKey`) and the options a deployment may tune."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.gateway.conversations import ConversationStore, SmsStore
from bot.gateway.events import GatewayEvents
from bot.gateway.facts import GatewayTexts
from bot.gateway.hub import Hub, TaskTracker
from bot.gateway.rasa_client import BotBackend
from bot.gateway.tokens import ConversationTokens
from bot.gateway.turns import ConversationService
from bot.profile import CoopProfile
from bot.services.members import MemberServices
from bot.services.payment_processor import PaymentProcessor

if TYPE_CHECKING:
    from bot.gateway.queue_worker import QueueWorkers


@dataclass(frozen=True)
class GatewayOptions:
    sms_reply_wait_seconds: float = 4.0  # no longer used: the webhook answers at once (queue)
    hello_timeout_seconds: float = 15.0  # a WebSocket must say hello within this
    rasa_timeout_seconds: float | None = None  # default: settings.http_timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayOptions:
        return cls(sms_reply_wait_seconds=settings.sms_reply_wait_seconds)


@dataclass
class Gateway:
    """Everything a handler needs, built once in the app's cleanup context.

    The one container of the process: handlers and features use its session factory, profile,
    member services, processor and clock, and never build their own.
    """

    settings: Settings
    profile: CoopProfile
    options: GatewayOptions
    texts: GatewayTexts
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    members: MemberServices
    processor: PaymentProcessor
    http: aiohttp.ClientSession
    store: ConversationStore
    sms_store: SmsStore
    service: ConversationService
    events: GatewayEvents
    rasa: BotBackend
    hub: Hub
    tasks: TaskTracker
    tokens: ConversationTokens
    clock: Callable[[], datetime]
    workers: QueueWorkers | None = None  # the durable queue's side (bot.gateway.queue_worker)


SETTINGS = web.AppKey("settings", Settings)
GATEWAY = web.AppKey("gateway", Gateway)
