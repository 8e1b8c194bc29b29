"""``--handler [EVENT=]module:function[:arg1,arg2,...]`` on every command: loading by dotted name
(from the current directory) and by ``.py`` path, default events, extra arguments, every way to
get it wrong (exit 2, one line naming --handler), handlers that raise at run time, and the
composition with the built-in storage handler (built-in first, then the user's in order; the
first failure status wins, else the first warning)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import (
    HANDLER_MODS,
    CliResult,
    CliRunner,
    StorescpStarter,
    closed_port,
)
from tests.helpers import STORESCU, dataset_bytes, run_dcmtk, sop_instance_of

pytestmark = pytest.mark.interop

HOOKS = "handler_mods.hooks"


def _send(cli: CliRunner, port: int, *paths: Path, extra: tuple[str, ...] = ()) -> CliResult:
    """Our storescu, JSON rows on stdout."""
    return cli("storescu", "127.0.0.1", str(port), *paths, "--format", "json", *extra)


def _rows(result: CliResult) -> list[dict[str, Any]]:
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


# --- every way to get it wrong -------------------------------------------------------------

BAD_SPECS = [
    ("nocolon", "expected [EVENT=]module:function"),
    (":record", "expected [EVENT=]module:function"),
    ("EVT_C_STORE=", "expected [EVENT=]module:function"),
    (f"{HOOKS}:", "is not a function name"),
    (f"{HOOKS}:not-a-name", "is not a function name"),
    (f"NOT_AN_EVENT={HOOKS}:record", "unknown event 'NOT_AN_EVENT'"),
    ("no_such_top_level_module_xyz:record", "module 'no_such_top_level_module_xyz' not found"),
    ("handler_mods.no_such_module:record", "module 'handler_mods.no_such_module' not found"),
    ("no_such_pkg_xyz.sub:record", "module 'no_such_pkg_xyz.sub' not found"),
    (f"{HOOKS}:no_such_function", f"module '{HOOKS}' has no function 'no_such_function'"),
    (f"{HOOKS}:NOT_A_FUNCTION", "is not callable"),
    ("handler_mods.import_fails:on_store", "dicomnet_test_missing_dependency"),
    ("handler_mods.raises_on_import:on_store", "RuntimeError: configuration missing"),
    ("handler_mods/no_such_file.py:on_store", "not found"),
    ("handler_mods/raises_on_import.py:on_store", "RuntimeError: configuration missing"),
    ("handler_mods/standalone.py:nothing_here", "has no function 'nothing_here'"),
]


def _command_args(command: str, tmp_path: Path, ct_file: Path) -> list[str]:
    port = str(closed_port())
    if command == "storescp":
        return ["0", "--bind", "127.0.0.1", "-od", str(tmp_path / "od")]
    if command == "storescu":
        return ["127.0.0.1", port, str(ct_file)]
    return ["127.0.0.1", port]


@pytest.mark.parametrize(("spec", "problem"), BAD_SPECS, ids=[s for s, _ in BAD_SPECS])
def test_bad_handler_exits_2_with_one_line(
    cli: CliRunner, tmp_path: Path, ct_files: list[Path], spec: str, problem: str
) -> None:
    result = cli("storescp", *_command_args("storescp", tmp_path, ct_files[0]), "--handler", spec)
    assert result.returncode == 2, result
    assert len(result.stderr_lines) == 1, result
    line = result.stderr_lines[0]
    assert line.startswith(f"storescp: error: --handler {spec!r}: "), result
    assert problem in line, result
    assert "listening" not in result.stderr


@pytest.mark.parametrize("command", ["echoscu", "storescu", "storescp"])
def test_bad_handler_exits_2_on_every_command(
    cli: CliRunner, tmp_path: Path, ct_files: list[Path], command: str
) -> None:
    for spec, problem in [
        ("nocolon", "expected"),
        (f"{HOOKS}:no_such_function", "has no function"),
        ("handler_mods.import_fails:on_store", "importing"),
    ]:
        result = cli(command, *_command_args(command, tmp_path, ct_files[0]), "--handler", spec)
        assert result.returncode == 2, result
        assert len(result.stderr_lines) == 1, result
        assert f"{command}: error: --handler {spec!r}" in result.stderr, result
        assert problem in result.stderr, result


def test_missing_import_inside_module_is_not_reported_as_module_not_found(
    cli: CliRunner, tmp_path: Path, ct_files: list[Path]
) -> None:
    """The module exists; what it imports does not (and that name is a prefix of the
    module's own name): say so, instead of claiming the handler module is missing."""
    spec = "handler_mods.hooks_needs_helper:on_store"
    result = cli("storescp", *_command_args("storescp", tmp_path, ct_files[0]), "--handler", spec)
    assert result.returncode == 2, result
    assert "importing 'handler_mods.hooks_needs_helper' failed" in result.stderr, result
    assert "handler_mods.hooks_needs" in result.stderr
    assert "module 'handler_mods.hooks_needs_helper' not found" not in result.stderr


def test_second_bad_handler_is_named(cli: CliRunner, tmp_path: Path, ct_files: list[Path]) -> None:
    log = tmp_path / "log.txt"
    good = f"{HOOKS}:record:{log}"
    bad = f"{HOOKS}:nope"
    result = cli(
        "storescp",
        *_command_args("storescp", tmp_path, ct_files[0]),
        "--handler",
        good,
        "--handler",
        bad,
    )
    assert result.returncode == 2, result
    assert f"--handler {bad!r}" in result.stderr and good not in result.stderr, result


# --- loading and binding -------------------------------------------------------------------


def test_default_event_of_storescp_is_c_store_with_args(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    scp = our_storescp("--handler", f"{HOOKS}:record:{log},alpha,beta")
    result = _send(cli, scp.port or 0, *ct_files[:2])
    assert result.returncode == 0, result
    uids = [sop_instance_of(p) for p in ct_files[:2]]
    assert _lines(log) == [f"EVT_C_STORE alpha beta {uid}" for uid in uids]


def test_explicit_events_any_spelling(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    scp = our_storescp(
        "--handler",
        f"EVT_ACCEPTED={HOOKS}:record:{log}",
        "--handler",
        f"c_store={HOOKS}:record:{log}",
        "--handler",
        f"released={HOOKS}:record:{log}",
    )
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 0, result
    # The server sees the release as storescu exits: wait for the handler to have run.
    scp.wait_for("hook: EVT_RELEASED")
    assert _lines(log) == [
        "EVT_ACCEPTED ",
        f"EVT_C_STORE {sop_instance_of(ct_files[0])}",
        "EVT_RELEASED ",
    ]


def test_handler_by_py_path_relative_and_absolute(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    absolute = HANDLER_MODS / "standalone.py"
    scp = our_storescp(
        "--handler",
        f"handler_mods/standalone.py:on_store:{log}",
        "--handler",
        f"{absolute}:on_store:{log}",
    )
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 0, result
    uid = sop_instance_of(ct_files[0])
    assert _lines(log) == [f"standalone {uid}", f"standalone {uid}"]


def test_handler_by_py_path_can_import_modules_beside_it(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    scp = our_storescp(
        "--handler", f"{HANDLER_MODS / 'by_path' / 'uses_sibling.py'}:on_store:{log}"
    )
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 0, result
    assert _lines(log) == [f"sibling {sop_instance_of(ct_files[0])}"]


def test_dotted_module_is_imported_from_the_current_directory(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    """A module next to where the user runs the command, not on any path."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "site_hooks.py").write_text(
        "def on_store(event, path):\n"
        "    with open(path, 'a') as out:\n"
        "        out.write('site ' + str(event.request.AffectedSOPInstanceUID) + '\\n')\n"
        "    return 0\n"
    )
    log = tmp_path / "seen.txt"
    scp = our_storescp("--handler", f"site_hooks:on_store:{log}", cwd=workdir)
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 0, result
    assert _lines(log) == [f"site {sop_instance_of(ct_files[0])}"]
    # ... and the same name from elsewhere is not found.
    elsewhere = cli(
        "storescp",
        "0",
        "--bind",
        "127.0.0.1",
        "-od",
        tmp_path / "od2",
        "--handler",
        "site_hooks:on_store",
        cwd=tmp_path,
    )
    assert elsewhere.returncode == 2 and "module 'site_hooks' not found" in elsewhere.stderr


def test_default_event_of_echoscu_is_each_dimse_message_received(
    cli: CliRunner, our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    scp = our_storescp()
    result = cli(
        "echoscu", "127.0.0.1", str(scp.port), "--repeat", "2", "--handler", f"{HOOKS}:record:{log}"
    )
    assert result.returncode == 0, result
    assert _lines(log) == ["EVT_DIMSE_RECV C_ECHO_RSP"] * 2


def test_default_event_of_storescu_is_each_dimse_message_received(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    scp = our_storescp()
    result = _send(cli, scp.port or 0, *ct_files[:3], extra=("--handler", f"{HOOKS}:record:{log}"))
    assert result.returncode == 0, result
    assert _lines(log) == ["EVT_DIMSE_RECV C_STORE_RSP"] * 3


# --- composition with the built-in storage handler -----------------------------------------


def test_builtin_storage_runs_first_then_user_handlers_in_order(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    presence = tmp_path / "presence.txt"
    od = tmp_path / "od"
    scp = our_storescp(
        "--handler",
        f"{HOOKS}:record:{log},first",
        "--handler",
        f"{HOOKS}:stored_file_exists:{od},{presence}",
        "--handler",
        f"{HOOKS}:record:{log},second",
        output_dir=od,
    )
    result = _send(cli, scp.port or 0, *ct_files[:2])
    assert result.returncode == 0, result
    uids = [sop_instance_of(p) for p in ct_files[:2]]
    assert _lines(log) == [
        f"EVT_C_STORE first {uids[0]}",
        f"EVT_C_STORE second {uids[0]}",
        f"EVT_C_STORE first {uids[1]}",
        f"EVT_C_STORE second {uids[1]}",
    ]
    # When the user's handler runs, the file is already written.
    assert _lines(presence) == [f"{uid} present" for uid in uids]


def test_user_warning_reaches_the_peer_and_file_is_stored(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("--handler", f"{HOOKS}:status:0xB000", output_dir=od)
    result = _send(cli, scp.port or 0, *ct_files[:2])
    assert result.returncode == 0, result  # warnings still exit 0
    assert [r["status"] for r in _rows(result)] == ["0xB000", "0xB000"]
    assert "sent 2, failed 0, skipped 0, not sent 0, warnings 2" in result.stderr
    assert len(list(od.glob("*.dcm"))) == 2


def test_first_failure_wins_and_every_handler_runs(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "calls.txt"
    scp = our_storescp(
        "--handler",
        f"{HOOKS}:status:0xB000,{log}",
        "--handler",
        f"{HOOKS}:status:0xA700,{log}",
        "--handler",
        f"{HOOKS}:status:0xC001,{log}",
    )
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 6, result
    assert [r["status"] for r in _rows(result)] == ["0xA700"]
    assert "sent 0, failed 1, skipped 0" in result.stderr
    uid = sop_instance_of(ct_files[0])
    assert _lines(log) == [f"status 0xB000 {uid}", f"status 0xA700 {uid}", f"status 0xC001 {uid}"]


def test_builtin_failure_wins_over_a_later_user_failure(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp(
        "--on-duplicate", "fail", "--handler", f"{HOOKS}:status:0xC001", output_dir=od
    )
    first = _send(cli, scp.port or 0, ct_files[0])
    assert [r["status"] for r in _rows(first)] == ["0xC001"], first
    second = _send(cli, scp.port or 0, ct_files[0])
    assert second.returncode == 6, second
    assert [r["status"] for r in _rows(second)] == ["0xA7FE"], second


def test_raising_handler_gives_failure_and_server_keeps_serving(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "seen.txt"
    od = tmp_path / "od"
    scp = our_storescp(
        "--handler", f"{HOOKS}:boom", "--handler", f"{HOOKS}:record:{log}", output_dir=od
    )
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 6, result
    row = _rows(result)[0]
    assert row["status"] == "0xC211" and row["result"] == "failure", row
    scp.wait_for("RuntimeError: boom from a user handler")
    assert "Traceback (most recent call last)" in scp.stderr
    # The later handler still ran; the built-in stored the file; the server goes on.
    assert _lines(log) == [f"EVT_C_STORE {sop_instance_of(ct_files[0])}"]
    echo = cli("echoscu", "127.0.0.1", str(scp.port))
    assert echo.returncode == 0, echo
    again = _send(cli, scp.port or 0, ct_files[1])
    assert again.returncode == 6 and _rows(again)[0]["status"] == "0xC211", again
    assert scp.process.poll() is None


def test_raising_handler_alone_with_no_store(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    scp = our_storescp("--no-store", "--handler", f"{HOOKS}:boom")
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 6, result
    assert _rows(result)[0]["result"] == "failure"
    scp.wait_for("boom from a user handler")
    assert "Traceback" in scp.stderr
    assert cli("echoscu", "127.0.0.1", str(scp.port)).returncode == 0


def test_raising_notification_handler_does_not_break_the_association(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("--handler", f"EVT_ACCEPTED={HOOKS}:boom", output_dir=od)
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 0, result
    assert len(list(od.glob("*.dcm"))) == 1
    scp.wait_for("boom from a user handler")


def test_no_store_leaves_storage_to_the_user(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    mine = tmp_path / "mine"
    mine.mkdir()
    scp = our_storescp("--no-store", "--handler", f"{HOOKS}:save_as_uid:{mine}", output_dir=od)
    assert "not storing (--no-store)" in scp.stderr
    result = _send(cli, scp.port or 0, *ct_files[:2])
    assert result.returncode == 0, result
    for source in ct_files[:2]:
        uid = sop_instance_of(source)
        assert (mine / f"{uid}.raw").read_bytes() == dataset_bytes(source)
        assert dataset_bytes(mine / f"{uid}.dcm") == dataset_bytes(source)
    assert not od.exists() or not any(od.iterdir())


def test_no_store_without_handler_refuses_instances(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    scp = our_storescp("--no-store")
    assert "--no-store without --handler" in scp.stderr
    result = _send(cli, scp.port or 0, ct_files[0])
    assert result.returncode == 6, result
    assert _rows(result)[0]["status"] == "0x0122"


def test_dcmtk_storescu_sees_the_user_handlers_failure(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    scp = our_storescp("--handler", f"{HOOKS}:status:0xA700")
    done = run_dcmtk(STORESCU, "-v", "127.0.0.1", str(scp.port), ct_files[0])
    assert "Received Store Response (Refused: OutOfResources)" in done.stderr, done
