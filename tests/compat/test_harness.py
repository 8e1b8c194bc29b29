"""The two flavours of every program differ in their import lines only."""

from __future__ import annotations

import re

import pytest

from tests.compat.harness import PROGRAMS, changed_lines, program_text

NAMES = sorted(p.name.removesuffix(".py.txt") for p in PROGRAMS.glob("*.py.txt"))


def test_there_are_programs_for_each_service() -> None:
    for service in ("verification", "storage", "qr_find", "qr_get", "qr_move", "worklist"):
        assert any(n.startswith(f"{service}_") and n.endswith("scu") for n in NAMES), service
        assert any(n.startswith(f"{service}_") and "scp" in n for n in NAMES), service
    assert {"user_identity_scu", "user_identity_scp", "n_get_scu", "n_get_scp"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_only_the_imports_change(name: str) -> None:
    changed = changed_lines(name)
    assert changed, "no import of pynetdicom to change"
    for theirs, ours in changed:
        assert re.match(r"\s*(from|import) pynetdicom\b", theirs), theirs
        assert ours == theirs.replace("pynetdicom", "dicomnet", 1)
    code = [
        line for line in program_text(name, "dicomnet").splitlines() if not line.startswith("#")
    ]
    assert not any("pynetdicom" in line for line in code)
