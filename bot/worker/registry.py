"""The periodic jobs of the assistant, in one list the background engine runs."""

from __future__ import annotations

from bot.worker.base import PeriodicTask


def periodic_tasks() -> list[PeriodicTask]:
    """Every periodic job; each feature adds one entry (imported here, not at module level)."""
    from bot.worker import outage_notices

    tasks: list[PeriodicTask] = [outage_notices.TASK]
    return tasks
