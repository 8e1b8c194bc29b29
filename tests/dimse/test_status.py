"""Status classes and meanings (PS3.7 Annex C, PS3.4 B.2.3 and C.4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse.status import status_category, status_meaning

CATEGORIES = [
    (0x0000, "Success"),
    (0x0001, "Warning"),
    (0x0107, "Warning"),
    (0x0116, "Warning"),
    (0xB000, "Warning"),
    (0xB006, "Warning"),
    (0xB007, "Warning"),
    (0xBFFF, "Warning"),
    (0xA700, "Failure"),
    (0xA7FF, "Failure"),
    (0xA801, "Failure"),
    (0xA900, "Failure"),
    (0xC000, "Failure"),
    (0xCFFF, "Failure"),
    (0x0105, "Failure"),
    (0x0110, "Failure"),
    (0x0122, "Failure"),
    (0x0124, "Failure"),
    (0x0210, "Failure"),
    (0x0213, "Failure"),
    (0xFE00, "Cancel"),
    (0xFF00, "Pending"),
    (0xFF01, "Pending"),
    # outside every defined range: treated as failure
    (0x0002, "Failure"),
    (0x1234, "Failure"),
    (0xFF02, "Failure"),
    (0xFE01, "Failure"),
]


@pytest.mark.parametrize(
    ("code", "category"), CATEGORIES, ids=lambda v: f"{v:#06x}" if isinstance(v, int) else v
)
def test_category(code: int, category: str) -> None:
    assert status_category(code) == category


MEANINGS = [
    (0xA700, "C-STORE", "Refused: out of resources"),
    (0xA7F3, "C-STORE", "Refused: out of resources"),
    (0xA905, "C-STORE", "Error: data set does not match SOP Class"),
    (0xC123, "C-STORE", "Error: cannot understand"),
    (0xB000, "C-STORE", "Warning: coercion of data elements"),
    (0xB006, "C-STORE", "Warning: elements discarded"),
    (0xB007, "C-STORE", "Warning: data set does not match SOP Class"),
    (0x0000, "C-STORE", "Success: stored"),
    (0x0117, "C-STORE", "Failure: invalid SOP Instance (UID construction rules violated)"),
    (0xA700, "C-FIND", "Refused: out of resources"),
    (0xA900, "C-FIND", "Failed: identifier does not match SOP Class"),
    (0xC001, "C-FIND", "Failed: unable to process"),
    (0xFE00, "C-FIND", "Cancel: matching terminated due to a C-CANCEL"),
    (0xFF00, "C-FIND", "Pending: match returned, all optional keys supported"),
    (0xFF01, "C-FIND", "Pending: match returned, one or more optional keys not supported"),
    (0x0000, "c_find", "Success: matching complete"),
    (0xA701, "C-MOVE", "Refused: out of resources, unable to calculate number of matches"),
    (0xA702, "C-MOVE", "Refused: out of resources, unable to perform sub-operations"),
    (0xA801, "C-MOVE", "Refused: move destination unknown"),
    (0xB000, "C-MOVE", "Warning: sub-operations complete, one or more failures"),
    (0x0000, "C-MOVE", "Success: sub-operations complete, no failures"),
    (0xFF00, "C-MOVE", "Pending: sub-operations continuing"),
    (0xB000, "C-GET", "Warning: sub-operations complete, one or more failures or warnings"),
    (0x0000, "C-GET", "Success: sub-operations complete, no failures or warnings"),
    (0xA801, "C-GET", "Failure (0xA801)"),  # no Move Destination in C-GET
    (0x0122, "C-ECHO", "Refused: SOP Class not supported"),
    (0x0000, "C-ECHO", "Success"),
    (0x0211, None, "Failure: unrecognized operation"),
    (0x0107, None, "Warning: attribute list error"),
    (0x0001, None, "Warning: requested optional attributes are not supported"),
    (0xA7AB, None, "Refused: out of resources"),
    (0xFE00, None, "Cancel"),
    (0xFF01, None, "Pending"),
    (0x1234, None, "Failure (0x1234)"),
    (0xB123, None, "Warning (0xB123)"),
    (0x0107, "no-such-service", "Warning: attribute list error"),
]


@pytest.mark.parametrize(("code", "service", "meaning"), MEANINGS)
def test_meaning(code: int, service: str | None, meaning: str) -> None:
    assert status_meaning(code, service) == meaning


@pytest.mark.parametrize("code", [-1, 0x10000])
def test_out_of_range_codes_are_rejected(code: int) -> None:
    with pytest.raises(ValueError):
        status_category(code)
    with pytest.raises(ValueError):
        status_meaning(code)


@settings(max_examples=200)
@given(
    st.integers(0, 0xFFFF),
    st.sampled_from([None, "C-ECHO", "C-STORE", "C-FIND", "C-GET", "C-MOVE"]),
)
def test_every_code_has_a_category_and_meaning(code: int, service: str | None) -> None:
    assert status_category(code) in {"Success", "Warning", "Failure", "Cancel", "Pending"}
    meaning = status_meaning(code, service)
    assert meaning
    first_word = meaning.split(":")[0].split(" ")[0]
    assert first_word in {
        "Success",
        "Warning",
        "Failure",
        "Failed",
        "Refused",
        "Error",
        "Cancel",
        "Pending",
    }
