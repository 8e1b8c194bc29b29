"""The options the commands share are declared once (dicomnet.cli._shared) and every command of
the app has them, spelled, grouped and ordered alike, in both entry forms (``dicomnet CMD`` and
the ``CMD`` console script).

The commands are taken from the Typer app itself, so a command added without the shared options
fails here; the shared set is taken from the one declaration, so an option added there is
checked on every command with no change here.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner as TyperRunner

from dicomnet._version import __version__
from dicomnet.cli import _shared
from dicomnet.cli._common import ScuCommon
from dicomnet.cli.app import build_root, build_single
from tests.cli.conftest import CliRunner, cli_env

#: What users rely on in every command whatever the declaration says (DCMTK-style aliases too).
EVERY_COMMAND = {
    "--quiet",
    "-q",
    "--verbose",
    "-v",
    "--debug",
    "-d",
    "--log-file",
    "--handler",
    "--no-color",
    "--acse-timeout",
    "-ta",
    "--dimse-timeout",
    "-td",
    "--max-pdu",
    "-pdu",
    "--tls-cert",
    "--tls-key",
    "--tls-ca",
    "--tls-no-verify",
}
EVERY_SCU = {
    "--calling-aet",
    "-aet",
    "--called-aet",
    "-aec",
    "--connect-timeout",
    "-to",
    "--tls-server-name",
}


def _app_commands() -> dict[str, click.Command]:
    group = typer.main.get_command(build_root())
    assert isinstance(group, click.Group)
    return dict(group.commands)


COMMANDS = _app_commands()


def _is_scu(name: str) -> bool:
    return name.endswith("scu")


def _declared(scu: bool) -> list[str]:
    """The parameter names every command (every SCU, with ``scu``) gets from the declaration,
    leaving out those a command asks for (--format, --max-dataset-size)."""
    every = _shared._every(handles="-", scu=scu, dimse_timeout=30.0, results=False, receives=False)
    names = [name for name, _, _ in every]
    if scu:
        arguments, options = _shared._scu("-")
        names = [name for name, _, _ in arguments + options] + names
    return names


def _params(command: click.Command) -> dict[str, click.Parameter]:
    return {p.name: p for p in command.params if p.name}


def _spelling(param: click.Parameter) -> tuple[Any, ...]:
    """What a user sees of a shared option, whichever command it is on."""
    help_text = getattr(param, "help", None)
    return (
        type(param).__name__,
        tuple(param.opts),
        tuple(param.secondary_opts),
        getattr(param, "rich_help_panel", None),
        getattr(param, "is_flag", False),
        # --handler names the command's default event; everything else is word for word.
        None if param.name == "handler" else help_text,
    )


def test_the_app_has_the_commands_and_some_are_scus() -> None:
    assert len(COMMANDS) >= 7
    assert {"echoscu", "storescp", "qrscp"} <= set(COMMANDS)
    assert sum(map(_is_scu, COMMANDS)) >= 5


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_every_shared_option(name: str) -> None:
    params = _params(COMMANDS[name])
    missing = [n for n in _declared(scu=_is_scu(name)) if n not in params]
    assert missing == []
    spellings = {s for p in params.values() for s in (*p.opts, *p.secondary_opts)}
    assert spellings >= EVERY_COMMAND
    if _is_scu(name):
        assert spellings >= EVERY_SCU
        arguments = [p.name for p in COMMANDS[name].params if isinstance(p, click.Argument)]
        assert arguments[:2] == ["peer", "port"]


@pytest.mark.parametrize("scu", [False, True])
def test_shared_options_read_the_same_everywhere(scu: bool) -> None:
    names = _declared(scu)
    commands = [c for n, c in COMMANDS.items() if not scu or _is_scu(n)]
    first = _params(commands[0])
    for command in commands[1:]:
        params = _params(command)
        for name in names:
            assert _spelling(params[name]) == _spelling(first[name]), (command.name, name)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_shared_options_keep_their_order_in_each_panel(name: str) -> None:
    """``--help`` lists each panel's options in declaration order: the shared ones keep the
    declared order on every command."""
    declared = _declared(scu=_is_scu(name))
    order = [p.name for p in COMMANDS[name].params if p.name in declared]
    assert order == declared


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_console_script_and_subcommand_take_the_same_parameters(name: str) -> None:
    single = typer.main.get_command(build_single(name))
    assert [(*_spelling(p), p.name) for p in single.params] == [
        (*_spelling(p), p.name) for p in COMMANDS[name].params
    ]


def test_the_command_gets_the_shared_values_in_one_object() -> None:
    seen: list[tuple[ScuCommon, int]] = []

    @_shared.scu_options("ME", handles="-", dimse_timeout=60.0)
    def probe(common: ScuCommon, extra: int = 0) -> None:
        seen.append((common, extra))

    app = typer.Typer()
    app.command()(probe)
    argv = ["pacs", "104", "-aec", "PACS", "-q", "--handler", "m:f", "--handler", "n:g"]
    result = TyperRunner().invoke(app, [*argv, "--extra", "3", "--tls-no-verify", "-pdu", "0"])
    assert result.exit_code == 0, result.output
    expected = ScuCommon(
        peer="pacs",
        port=104,
        calling_aet="ME",
        called_aet="PACS",
        quiet=True,
        handlers=("m:f", "n:g"),
        tls_no_verify=True,
        max_pdu=0,
        dimse_timeout=60.0,
    )
    assert seen == [(expected, 3)]


def test_a_command_cannot_declare_a_shared_option_again() -> None:
    def command(common: Any, quiet: bool = False) -> None:
        pass

    with pytest.raises(TypeError, match="quiet"):
        _shared.shared_options(handles="-")(command)


def test_a_command_must_take_the_shared_options() -> None:
    def command(other: int = 0) -> None:
        pass

    with pytest.raises(TypeError, match="common"):
        _shared.shared_options(handles="-")(command)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_version_in_both_entry_forms(cli: CliRunner, name: str) -> None:
    """--version, a shared option, before anything else is checked (no PEER PORT here)."""
    alone = cli(name, "--version")
    assert (alone.returncode, alone.stdout, alone.stderr) == (0, f"dicomnet {__version__}\n", "")
    front = subprocess.run(
        [sys.executable, "-m", "dicomnet", name, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
        check=False,
    )
    assert (front.returncode, front.stdout, front.stderr) == (0, alone.stdout, "")
