"""The signature on every integration request, outbound (our webhook) and inbound (draft results;
the outage updates endpoint uses the same scheme): HMAC-SHA256 over the timestamp and the exact
body bytes.

    X-JEC-Timestamp: 1764651600                      (Unix seconds, UTC)
    X-JEC-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

A receiver recomputes the HMAC over the raw body it received (before parsing the JSON), compares
it in constant time and refuses a timestamp more than `tolerance` seconds away from its clock, so a
captured request cannot be replayed later. Several `sha256=` values separated by commas may be sent
while a secret is being rotated; one matching is enough. docs/integration.md has the details.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

TIMESTAMP_HEADER = "X-JEC-Timestamp"
SIGNATURE_HEADER = "X-JEC-Signature"
EVENT_ID_HEADER = "X-JEC-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(shared_key: str, timestamp: int, body: bytes) -> str:
    """The `sha256=` value for this timestamp and body, keyed with the integration secret shared
    with the co-op's system (INTEGRATION_WEBHOOK_SECRET or INTEGRATION_INBOUND_SECRET, never
    SECRET_KEY)."""
    message = str(int(timestamp)).encode() + b"." + body
    return "sha256=" + hmac.new(shared_key.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def signature_problem(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> str | None:
    """Why this request's signature is not good (for the log; never sent back), or None."""
    keys = [s for s in secrets if s]
    if not keys:
        return "no secret configured"
    raw_ts = headers.get(TIMESTAMP_HEADER, "")
    given = [v.strip() for v in headers.get(SIGNATURE_HEADER, "").split(",") if v.strip()]
    if not raw_ts.isdigit() or not given:
        return "missing timestamp or signature"
    timestamp = int(raw_ts)
    if abs(now - timestamp) > tolerance:
        return "timestamp too old or in the future"
    expected = [signature(key, timestamp, body) for key in keys]
    if any(hmac.compare_digest(e, g) for e in expected for g in given):
        return None
    return "signature does not match"
