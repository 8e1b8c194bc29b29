"""What a C-ECHO from the command line imports: nothing it does not need.

Start-up time itself is measured by ``benchmarks/bench_echo.py`` (wall clock is no test
material); this guards the import hygiene the budget depends on, so a stray top-level import
of ssl, pydicom, rich, the SOP class tables or the data set spooling shows up as a failure.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ServerFactory

# Modules echoscu must not load for a plain (no TLS, text output) echo.
NOT_ON_THE_ECHO_PATH = (
    "ssl",  # only for TLS
    "pydicom",
    "rich",  # only for tables, progress bars and --help
    "typer",  # the common invocations are parsed without it (dicomnet.cli._startup)
    "click",
    "dataclasses",  # our records are dicomnet._record
    "json",  # only for --format json/jsonl
    "csv",  # only for --format csv
    "tempfile",  # data set spooling (dicomnet.dataset)
    "pathlib",  # with urllib.parse and ipaddress: ~1.5 ms; paths are strings on this path
    "logging",  # ~15 % of an echo's instructions; dicomnet._log loads it for a warning
    "encodings.idna",  # an ASCII host name needs no IDNA codec
    "dicomnet.dataset",
    "dicomnet.part10",
    "dicomnet.sop_class",
    "dicomnet._sop_class_generated",
    "dicomnet.transport.server",
    "dicomnet.tls",
    "sqlalchemy",  # the archive's index (qrscp, storescp --index) only
    "dicomnet.archive",
)

# The report is a repr, read back with ast.literal_eval: importing json would spoil the check.
RUN_ECHOSCU = """
import sys
from dicomnet.cli.app import echoscu_main
try:
    echoscu_main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(repr((code, sorted(sys.modules))), file=sys.stderr)
"""


def _run_echoscu(*args: str) -> tuple[int, set[str], str]:
    # -S: no site-packages .pth files, which may import anything at start-up (sandboxes do);
    # the interpreter's own search path is passed on instead.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run(
        [sys.executable, "-S", "-c", RUN_ECHOSCU, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent,
    )
    code, modules = ast.literal_eval(result.stderr.strip().splitlines()[-1])
    return code, set(modules), result.stdout


def test_echo_loads_only_what_it_needs(dicomnet_server: ServerFactory) -> None:
    server = dicomnet_server()
    port = server.server_address[1]
    code, modules, stdout = _run_echoscu("127.0.0.1", str(port), "--format", "text")
    assert code == 0, stdout
    assert "Success" in stdout
    assert "dicomnet.association" in modules  # it did make the association
    loaded = sorted(name for name in NOT_ON_THE_ECHO_PATH if name in modules)
    assert loaded == []


def test_json_output_loads_json_and_nothing_else(dicomnet_server: ServerFactory) -> None:
    server = dicomnet_server()
    port = server.server_address[1]
    code, modules, stdout = _run_echoscu("127.0.0.1", str(port), "--format", "json")
    assert code == 0, stdout
    assert json.loads(stdout)[0]["result"] == "Success"
    assert "json" in modules
    loaded = sorted(name for name in NOT_ON_THE_ECHO_PATH if name in modules and name != "json")
    assert loaded == []
