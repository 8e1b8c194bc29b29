"""Property: SQL matching agrees with a plain reading of PS3.4 C.2.2.2 for any value and
pattern made of letters and SQL metacharacters (% _ ' and, in LT, backslash): the database
only ever sees bound parameters and escaped LIKE patterns, so nothing in a value is special
but * and ?."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dicomnet.archive.index import Index, database_url
from dicomnet.archive.query import plan

VALUES = ["abc", "a%c", "a_c", "A_C", "a'c", "%", "_", "'", "ab", "abcd", "a%", "%c", "x'y%z_"]
LT_VALUES = ["C:\\temp", "C:\\t%mp", "C:_temp", "c:\\temp"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("prop")
    made = Index(database_url(str(root / "i.sqlite3"), None), root=root)
    for n, value in enumerate(VALUES + LT_VALUES):
        texts = {
            0x00100020: f"P{n}",
            0x0020000D: f"1.2.{n}",
            0x0020000E: f"1.2.{n}.1",
            0x00080018: f"1.2.{n}.1.1",
            0x00081030: value if n < len(VALUES) else None,
            0x00104000: value if n >= len(VALUES) else None,
        }
        made.add(texts, Path(f"/x/{n}.dcm"), "1.2.840.10008.1.2.1", 0)
    yield made
    made.close()


def reference(pattern: str, value: str) -> bool:
    """* any run, ? one character, everything else literal and case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def matched(index: Index, keyword: str, pattern: str) -> list[str]:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ""
    setattr(identifier, keyword, pattern)
    statement, _requested = plan(identifier, "STUDY", sqlite=True)
    return sorted(row[keyword] for row in index.fetch(statement))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="abcdA%_'*?", min_size=1, max_size=6))
def test_lo_patterns_match_like_the_standard_says(index: Index, pattern: str) -> None:
    if pattern.strip("*") == "":
        return  # universal matching: every study, also those without a description
    assert matched(index, "StudyDescription", pattern) == sorted(
        v for v in VALUES if reference(pattern, v)
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="C:\\tem%_p*?", min_size=1, max_size=8))
def test_lt_patterns_keep_backslashes_literal(index: Index, pattern: str) -> None:
    if pattern.strip("*") == "" or pattern.strip() != pattern:
        return
    assert matched(index, "PatientComments", pattern) == sorted(
        v for v in LT_VALUES if reference(pattern, v)
    )
