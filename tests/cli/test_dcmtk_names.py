"""The committed table of DCMTK file-name prefixes (--dcmtk-names) is what the installed DCMTK
library answers (tools/gen_dcmtk_names.py); skipped where DCMTK is not installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gen_dcmtk_names.py"


def test_generated_prefixes_are_fresh() -> None:
    spec = importlib.util.spec_from_file_location("gen_dcmtk_names", TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    if tool.dcmtk_function() is None:
        pytest.skip("DCMTK's libdcmdata is not installed")
    done = subprocess.run([sys.executable, str(TOOL), "--check"], check=False)
    assert done.returncode == 0, "run: python tools/gen_dcmtk_names.py"


def test_known_prefixes() -> None:
    from dicomnet.cli._dcmtk_names_generated import DCMTK_PREFIXES

    assert DCMTK_PREFIXES["1.2.840.10008.5.1.4.1.1.2"] == "CT"
    assert DCMTK_PREFIXES["1.2.840.10008.5.1.4.1.1.7"] == "SC"
    assert DCMTK_PREFIXES["1.2.840.10008.5.1.4.1.1.481.5"] == "RP"
