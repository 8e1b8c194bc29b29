"""DIMSE status codes (PS3.7 Annex C; PS3.4 B.2.3 and C.4): classes and human meanings.

Codes outside every range the standard defines are classed as Failure: an SCU cannot treat an
unknown outcome as success.
"""

from __future__ import annotations

from typing import Final, Literal

StatusCategory = Literal["Success", "Warning", "Failure", "Cancel", "Pending"]

SUCCESS: Final = 0x0000
CANCEL: Final = 0xFE00
PENDING: Final = 0xFF00
PENDING_WARNING: Final = 0xFF01

# Common service-specific codes
OUT_OF_RESOURCES: Final = 0xA700
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS: Final = 0xA900
MOVE_DESTINATION_UNKNOWN: Final = 0xA801
UNABLE_TO_PROCESS: Final = 0xC000
SUB_OPERATIONS_WARNING: Final = 0xB000

_WARNINGS_01XX: Final = frozenset({0x0107, 0x0116})

# PS3.7 C.1-C.5: meanings shared by every service.
_GENERAL: Final[dict[int, str]] = {
    0x0000: "Success",
    0x0001: "Warning: requested optional attributes are not supported",
    0x0105: "Failure: no such attribute",
    0x0106: "Failure: invalid attribute value",
    0x0107: "Warning: attribute list error",
    0x0110: "Failure: processing failure",
    0x0111: "Failure: duplicate SOP Instance",
    0x0112: "Failure: no such SOP Instance",
    0x0113: "Failure: no such event type",
    0x0114: "Failure: no such argument",
    0x0115: "Failure: invalid argument value",
    0x0116: "Warning: attribute value out of range",
    0x0117: "Failure: invalid SOP Instance (UID construction rules violated)",
    0x0118: "Failure: no such SOP Class",
    0x0119: "Failure: class-instance conflict",
    0x0120: "Failure: missing attribute",
    0x0121: "Failure: missing attribute value",
    0x0122: "Refused: SOP Class not supported",
    0x0123: "Failure: no such action type",
    0x0124: "Refused: not authorized",
    0x0210: "Failure: duplicate invocation (Message ID already in use)",
    0x0211: "Failure: unrecognized operation",
    0x0212: "Failure: mistyped argument",
    0x0213: "Failure: resource limitation",
    0xFE00: "Cancel",
    0xFF00: "Pending",
    0xFF01: "Pending",
}

# Service tables: exact codes first, then (mask, value) ranges such as 0xA7xx.
_Table = tuple[dict[int, str], tuple[tuple[int, int, str], ...]]

_STORE: Final[_Table] = (
    {
        0x0000: "Success: stored",
        0xB000: "Warning: coercion of data elements",
        0xB006: "Warning: elements discarded",
        0xB007: "Warning: data set does not match SOP Class",
    },
    (
        (0xFF00, 0xA700, "Refused: out of resources"),
        (0xFF00, 0xA900, "Error: data set does not match SOP Class"),
        (0xF000, 0xC000, "Error: cannot understand"),
    ),
)

_FIND: Final[_Table] = (
    {
        0x0000: "Success: matching complete",
        0xA700: "Refused: out of resources",
        0xA900: "Failed: identifier does not match SOP Class",
        0xFE00: "Cancel: matching terminated due to a C-CANCEL",
        0xFF00: "Pending: match returned, all optional keys supported",
        0xFF01: "Pending: match returned, one or more optional keys not supported",
    },
    ((0xF000, 0xC000, "Failed: unable to process"),),
)

_MOVE_COMMON: Final[dict[int, str]] = {
    0xA701: "Refused: out of resources, unable to calculate number of matches",
    0xA702: "Refused: out of resources, unable to perform sub-operations",
    0xA900: "Failed: identifier does not match SOP Class",
    0xFE00: "Cancel: sub-operations terminated due to a C-CANCEL",
    0xFF00: "Pending: sub-operations continuing",
}

_MOVE: Final[_Table] = (
    {
        **_MOVE_COMMON,
        0x0000: "Success: sub-operations complete, no failures",
        0xA801: "Refused: move destination unknown",
        0xB000: "Warning: sub-operations complete, one or more failures",
    },
    ((0xF000, 0xC000, "Failed: unable to process"),),
)

_GET: Final[_Table] = (
    {
        **_MOVE_COMMON,
        0x0000: "Success: sub-operations complete, no failures or warnings",
        0xB000: "Warning: sub-operations complete, one or more failures or warnings",
    },
    ((0xF000, 0xC000, "Failed: unable to process"),),
)

# Used when no service is named: meanings that read correctly for any DIMSE-C service.
_ANY: Final[_Table] = (
    {
        0xA801: "Refused: move destination unknown",
        0xB000: "Warning: coercion of data elements, or sub-operations with failures",
    },
    (
        (0xFF00, 0xA700, "Refused: out of resources"),
        (0xFF00, 0xA900, "Error: data set or identifier does not match SOP Class"),
        (0xF000, 0xC000, "Error: unable to process"),
    ),
)

_SERVICES: Final[dict[str, _Table]] = {
    "C-STORE": _STORE,
    "C-FIND": _FIND,
    "C-MOVE": _MOVE,
    "C-GET": _GET,
    "C-ECHO": ({}, ()),
}


def _check(code: int) -> None:
    if not 0 <= code <= 0xFFFF:
        raise ValueError(f"status code {code!r} is not a 16-bit unsigned value")


def status_category(code: int) -> StatusCategory:
    """Class of a status code per PS3.7 Annex C; unknown codes are "Failure"."""
    _check(code)
    if code == SUCCESS:
        return "Success"
    if code in (PENDING, PENDING_WARNING):
        return "Pending"
    if code == CANCEL:
        return "Cancel"
    if code == 0x0001 or code in _WARNINGS_01XX or code & 0xF000 == 0xB000:
        return "Warning"
    return "Failure"


def status_meaning(code: int, service: str | None = None) -> str:
    """Human meaning of ``code``; ``service`` is e.g. "C-STORE" or "C_FIND" (case-insensitive).

    Service tables (PS3.4 B.2.3, C.4) take precedence over the general ones (PS3.7 C); a code in
    none of them gets its class name, e.g. "Failure (0xA123)".
    """
    _check(code)
    table = _ANY
    if service is not None:
        table = _SERVICES.get(service.upper().replace("_", "-"), _ANY)
    exact, ranges = table
    text = exact.get(code)
    if text is not None:
        return text
    for mask, value, range_text in ranges:
        if code & mask == value:
            return range_text
    text = _GENERAL.get(code)
    if text is not None:
        return text
    return f"{status_category(code)} (0x{code:04X})"
