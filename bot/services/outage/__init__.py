"""The outage journey's rules: safety first, the report, its status and the restore notice.

One module per step: `safety` (hazard words and the safety message), `report` (reading an
address), `status` (what crews know, worded as estimates), `restore_notice` (a text when power is
back) and `service` (the database reads and the report write). Callers import from here.
"""

from bot.services.outage.report import (
    Address,
    AddressError,
    AddressProblem,
    ReportResult,
    parse_address,
)
from bot.services.outage.restore_notice import set_restore_notice
from bot.services.outage.safety import detect_hazard, safety_message
from bot.services.outage.service import OutageService
from bot.services.outage.status import (
    OutageInfo,
    ReferenceLookup,
    ReportInfo,
    describe,
    format_local_time,
    normalize_town,
    normalize_zip5,
)

__all__ = [
    "Address",
    "AddressError",
    "AddressProblem",
    "OutageInfo",
    "OutageService",
    "ReferenceLookup",
    "ReportInfo",
    "ReportResult",
    "describe",
    "detect_hazard",
    "format_local_time",
    "normalize_town",
    "normalize_zip5",
    "parse_address",
    "safety_message",
    "set_restore_notice",
]
