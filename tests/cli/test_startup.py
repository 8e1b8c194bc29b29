"""The console scripts' fast start (dicomnet.cli._startup): the same values as the Typer app.

``echoscu``'s common invocations are parsed without Typer; for every option that path accepts,
the command must receive exactly what the Typer app would give it, and whatever it does not
accept must reach the Typer app (its messages, its exit codes). ``--help`` is rendered with
``rich.markdown`` and ``rich.traceback`` deferred: the text must be the same as without.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

import dicomnet.cli.echoscu as echoscu_module
from dicomnet._record import fields
from dicomnet.cli._common import ScuCommon
from dicomnet.cli._startup import echoscu_args
from dicomnet.cli.app import build_single
from tests.cli.conftest import COMMANDS, CliRunner
from tests.conftest import StorescpFactory

ACCEPTED = [
    ["127.0.0.1", "104"],
    ["host.example", "0104", "-aec", "STORESCP", "-aet", " ME "],
    ["h", "11112", "--called-aet", "X", "--calling-aet", "Y", "-r", "3", "-c", "2", "-i", "0"],
    ["h", "1", "-to", "2.5", "-ta", "0.001", "-td", "60", "--connect-timeout", "3"],
    ["h", "1", "--acse-timeout", "7", "--dimse-timeout", "8", "--repeat", "5", "--count", "9"],
    ["-q", "h", "1", "--interval", "0.25", "-v", "-d", "--no-color"],
    ["h", "1", "--quiet", "--verbose", "--debug", "--format", "json"],
    ["h", "1", "--format", "csv", "--format", "jsonl", "-r", "1", "-r", "4"],  # the last wins
    ["h", "65535", "--format", "table"],
]

DECLINED = [
    [],
    ["--help"],
    ["-h"],
    ["--version"],
    ["h"],
    ["h", "1", "2"],
    ["h", "65536"],
    ["h", "x"],
    ["h", "1", "-aet"],
    ["h", "1", "-aetME"],
    ["h", "1", "-aet", "A\\B"],
    ["h", "1", "-aet", "SEVENTEEN-LETTERS"],
    ["h", "1", "-r", "0"],
    ["h", "1", "-r", "-1"],
    ["h", "1", "-to", "0"],
    ["h", "1", "-to", "1e3"],
    ["h", "1", "--format", "JSON"],
    ["h", "1", "--calling-aet=ME"],
    ["h", "1", "-qv"],
    ["h", "1", "--tls-ca", "ca.pem"],
    ["h", "1", "--handler", "m:f"],
    ["h", "1", "--log-file", "x.log"],
    ["h", "1", "--max-pdu", "0"],
    ["--", "h", "1"],
]


def typer_values(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """What the Typer app hands echoscu's run for ``argv``."""
    seen: list[tuple[Any, ...]] = []

    def record(common: ScuCommon, repeat: int, count: int, interval: float) -> int:
        seen.append((common, repeat, count, interval))
        return 0

    monkeypatch.setattr(echoscu_module, "run", record)
    app = build_single("echoscu")
    with pytest.raises(SystemExit) as ended:
        app(args=argv, prog_name="echoscu")
    assert ended.value.code == 0
    (values,) = seen
    return values


def as_dict(values: tuple[Any, ...]) -> dict[str, Any]:
    common, repeat, count, interval = values
    out = {f.name: getattr(common, f.name) for f in fields(ScuCommon)}
    out.update(repeat=repeat, count=count, interval=interval)
    out["handlers"] = tuple(out["handlers"] or ())
    return out


@pytest.mark.parametrize("argv", ACCEPTED, ids=" ".join)
def test_the_fast_path_gives_what_typer_gives(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = echoscu_args(argv)
    assert fast is not None, "this invocation should take the fast path"
    expected = as_dict(typer_values(argv, monkeypatch))
    assert as_dict(fast) == expected
    assert type(fast[3]) is type(expected["interval"])


@pytest.mark.parametrize("argv", DECLINED, ids=" ".join)
def test_everything_else_goes_to_typer(argv: list[str]) -> None:
    assert echoscu_args(argv) is None


@pytest.mark.interop
def test_declined_invocations_keep_typer_messages_and_codes(cli: CliRunner) -> None:
    bad_aet = cli("echoscu", "127.0.0.1", "104", "-aet", "A\\B")
    assert bad_aet.returncode == 2, bad_aet
    assert "backslash" in bad_aet.stderr
    zero = cli("echoscu", "127.0.0.1", "104", "-r", "0")
    assert zero.returncode == 2, zero
    assert "--repeat" in zero.stderr


@pytest.mark.interop
def test_fast_and_typer_paths_answer_alike(cli: CliRunner, dcmtk_storescp: StorescpFactory) -> None:
    scp = dcmtk_storescp()
    port = str(scp.port)
    fast = cli("echoscu", "127.0.0.1", port, "-aec", "STORESCP", "--format", "csv")
    # --log-file is not on the fast path: the same check through the Typer app.
    slow = cli(
        "echoscu",
        "127.0.0.1",
        port,
        "-aec",
        "STORESCP",
        "--format",
        "csv",
        "--log-file",
        os.devnull,
    )
    for result in (fast, slow):
        assert result.returncode == 0, result
        assert result.stdout.splitlines()[0] == "peer,port,message_id,status,result,rtt_ms"
        assert ",0x0000,Success," in result.stdout
    refused = cli("echoscu", "127.0.0.1", port, "-aec", "STORESCP", "-aet", "  ")
    assert refused.returncode == 2, refused


HELP = """
import sys
from dicomnet.cli.app import build_single
if sys.argv[1] == "deferred":
    from dicomnet.cli._startup import defer_rich_extras
    defer_rich_extras()
try:
    build_single(sys.argv[2])(args=["--help"], prog_name=sys.argv[2])
except SystemExit:
    pass
print("rich.markdown" in sys.modules, "markdown_it" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_the_same_without_markdown_and_pygments(command: str) -> None:
    env = dict(os.environ, COLUMNS="100", TERMINAL_WIDTH="100")
    outputs = {}
    for mode in ("deferred", "normal"):
        done = subprocess.run(
            [sys.executable, "-c", HELP, mode, command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        outputs[mode] = (done.stdout, done.stderr.split()[-2:])
    assert outputs["deferred"][0] == outputs["normal"][0]
    assert "--help" in outputs["deferred"][0]
    assert outputs["deferred"][1] == ["False", "False"]  # neither was loaded
    assert outputs["normal"][1] == ["True", "True"]


def test_a_deferred_name_loads_the_real_one() -> None:
    code = (
        "from dicomnet.cli._startup import defer_rich_extras\n"
        "defer_rich_extras()\n"
        "import sys, typer.rich_utils as r\n"
        "assert 'rich.markdown' not in sys.modules\n"
        "md = r.Markdown('# x')\n"
        "import rich.markdown\n"
        "assert isinstance(md, rich.markdown.Markdown)\n"
        "assert r.Traceback.from_exception == rich.traceback.Traceback.from_exception\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == "ok\n", done.stderr


ROOT = """
import sys
from dicomnet.cli.app import build_root
from dicomnet.cli._startup import defer_rich_extras
defer_rich_extras()
try:
    build_root(listing=sys.argv[1] == "listing")(args=sys.argv[2:], prog_name="dicomnet")
except SystemExit as exc:
    print("exit", exc.code)
"""


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"], ["--version"], ["--version", "-h"]])
@pytest.mark.parametrize("colour", [False, True])
def test_the_root_listing_shows_what_the_full_app_shows(argv: list[str], colour: bool) -> None:
    """``dicomnet`` with only ROOT_ONLY arguments builds its subcommands as names and summaries:
    the output (help or version, plain or styled, and the exit status) is the full app's."""
    from dicomnet.cli.app import ROOT_ONLY

    assert set(argv) <= ROOT_ONLY
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env |= {"COLUMNS": "117", "FORCE_COLOR": "1"} if colour else {"COLUMNS": "80"}
    outputs = {}
    for mode in ("listing", "full"):
        done = subprocess.run(
            [sys.executable, "-c", ROOT, mode, *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        outputs[mode] = (done.stdout, done.stderr)
    assert outputs["listing"] == outputs["full"]
    if argv[:1] != ["--version"]:  # the help (else the version, unstyled)
        assert "storescu" in outputs["full"][0]
        assert ("\x1b[" in outputs["full"][0]) == colour


def test_dicomnet_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['dicomnet', '--help']\n"
        "from dicomnet.cli.app import COMMANDS, main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "loaded = sorted(m for m, _ in COMMANDS.values() if m in sys.modules)\n"
        "print(code, loaded, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "storescu" in done.stdout  # the listing names every command
    assert done.stderr.splitlines()[-1] == "0 []", done.stderr
