"""The periodic jobs of the assistant, in one list the background engine runs."""

from __future__ import annotations

from bot.worker.base import PeriodicTask


def periodic_tasks() -> list[PeriodicTask]:
    """Every periodic job; each feature adds one entry (imported here, not at module level)."""
    from bot.worker import integration, notices, outage_notices

    return [
        # power is back / outage near you texts (outage texts go any time)
        outage_notices.TASK,
        # bill ready, payment received, past due (by the member's preferences)
        PeriodicTask("notices.bills", 300, notices.run_bill_notices),
        # draft amount notices, the draft-run row on the draft day, draft results
        PeriodicTask("notices.drafts", 300, notices.run_drafts),
        # the profile's holiday list about to run out: a log warning, daily
        PeriodicTask("calendar.holidays", 86400, notices.run_calendar_check),
        # the co-op's webhook; texts and emails that failed
        *integration.tasks(),
    ]
