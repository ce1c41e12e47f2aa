"""The periodic jobs of the assistant, in one list the background engine runs."""

from __future__ import annotations

from bot.worker.base import PeriodicTask


def periodic_tasks() -> list[PeriodicTask]:
    """Every periodic job; each feature adds one entry (imported here, not at module level)."""
    from bot.worker import integration

    tasks: list[PeriodicTask] = []
    tasks += integration.tasks()  # the co-op's webhook; texts and emails that failed
    return tasks
