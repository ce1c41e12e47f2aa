"""The worker's jobs for the co-op's systems and for messages that did not go out the first time.

- `deliver_events`: every integration event to the co-op's webhook, signed, once per event,
  retried with backoff until `INTEGRATION_WEBHOOK_MAX_AGE_HOURS` (bot/adapters/webhook.py). Off
  while `INTEGRATION_WEBHOOK_URL` is empty (events still collect for `jecbot export`).
- `retry_messages`: failed texts and emails sent again, the email copy of a text that failed for
  good (bot/adapters/delivery.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.adapters.delivery import retry_messages as retry_pass
from bot.adapters.webhook import WebhookConfig, run_webhook
from bot.worker.base import JobContext, PeriodicTask

log = logging.getLogger(__name__)


def webhook_config(ctx: JobContext) -> WebhookConfig | None:
    s = ctx.settings
    if not s.integration_webhook_url:
        return None
    if not s.integration_webhook_secret:
        log.error(
            "INTEGRATION_WEBHOOK_URL is set but INTEGRATION_WEBHOOK_SECRET is empty: "
            "events are not sent unsigned"
        )
        return None
    return WebhookConfig(
        url=s.integration_webhook_url,
        secret=s.integration_webhook_secret,
        timeout_seconds=s.http_timeout_seconds,
        max_age=timedelta(hours=s.integration_webhook_max_age_hours),
    )


async def deliver_events(ctx: JobContext) -> int:
    config = webhook_config(ctx)
    if config is None:
        return 0
    return await run_webhook(ctx.sessions, ctx.http, config, ctx.clock)


async def retry_messages(ctx: JobContext) -> int:
    report = await retry_pass(
        ctx.sessions, ctx.notifier, ctx.clock, coop_name=ctx.profile.coop.name
    )
    if report.total:
        log.info(
            "message retries: %d retried (%d sent), %d given up (%d email copies)",
            report.retried,
            report.sent,
            report.gave_up,
            report.email_copies,
        )
    return report.total


def tasks() -> list[PeriodicTask]:
    return [
        PeriodicTask("integration_webhook", 15.0, deliver_events),
        PeriodicTask("message_retries", 60.0, retry_messages),
    ]
