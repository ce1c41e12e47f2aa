"""Latency arithmetic and the printed table: pure functions, so they are tested without servers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (0-100) with linear interpolation between closest ranks (the same
    definition as numpy's default), so p50 of an even-sized sample is the mean of the middle two."""
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0-100, not {pct}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """One row of the table: a category's latencies in milliseconds."""

    category: str
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    unexpected: int  # replies that missed the expected phrase or errored (counted, not fatal)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def summarise(category: str, latencies_ms: Sequence[float], unexpected: int = 0) -> Summary:
    return Summary(
        category=category,
        count=len(latencies_ms),
        p50_ms=round(percentile(latencies_ms, 50), 1),
        p95_ms=round(percentile(latencies_ms, 95), 1),
        max_ms=round(max(latencies_ms), 1),
        unexpected=unexpected,
    )


def messages_per_second(count: int, seconds: float) -> float:
    """Throughput over the timed phase; 0 when nothing was timed."""
    return round(count / seconds, 2) if seconds > 0 else 0.0


def format_table(rows: Iterable[Summary]) -> str:
    """A fixed-width text table for the terminal."""
    header = (
        f"{'turn category':<36} {'count':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} "
        f"{'unexp.':>7}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.category:<36} {row.count:>6} {row.p50_ms:>9.1f} {row.p95_ms:>9.1f} "
            f"{row.max_ms:>9.1f} {row.unexpected:>7}"
        )
    return "\n".join(lines)
