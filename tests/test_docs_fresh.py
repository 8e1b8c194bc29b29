"""The committed man pages and shell completions match the Typer app (tools/gen_docs.py).

Fails when ``man/`` or ``completions/`` are stale: run ``python tools/gen_docs.py`` and commit.
Also checks what a reader sees: every page carries the exit-code table, the pages render with
``man``/``groff`` without warnings, the examples parse with the real commands, and the
completion scripts complete option names in the shells that are installed.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
import typer

from dicomnet.cli._console import EXIT_CODE_TABLE
from dicomnet.cli.app import COMMANDS, build_root, build_single

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = ["dicomnet", *COMMANDS]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "tools" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, cwd=REPO, check=False, **kwargs
    )


# --- freshness ---------------------------------------------------------------------------------


def test_committed_files_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    code = gen.main(["--check"])
    err = capsys.readouterr().err
    assert code == 0, f"man/ or completions/ are stale; run python tools/gen_docs.py\n{err}"


def test_check_lists_stale_missing_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gen.main([], base=tmp_path) == 0
    capsys.readouterr()
    assert gen.main(["--check"], base=tmp_path) == 0

    page = tmp_path / "man" / "storescp.1"
    page.write_text(page.read_text() + '.\\" edited by hand\n')
    (tmp_path / "completions" / "bash" / "echoscu").unlink()
    (tmp_path / "man" / "oldtool.1").write_text("stale\n")
    capsys.readouterr()
    assert gen.main(["--check"], base=tmp_path) == 1
    err = capsys.readouterr().err
    assert "man/storescp.1 (out of date)" in err
    assert "completions/bash/echoscu (missing)" in err
    assert "man/oldtool.1 (not generated" in err

    # Writing again repairs what it generates; the extra file is only reported.
    gen.main([], base=tmp_path)
    assert page.read_text() == gen.render_all()["man/storescp.1"]


@pytest.mark.parametrize("seed", ["1", "2"])
def test_check_passes_in_a_fresh_interpreter(seed: str) -> None:
    # A new process with another hash seed: catches output that depends on set ordering.
    env = dict(os.environ, PYTHONHASHSEED=seed)
    result = _run([sys.executable, "tools/gen_docs.py", "--check"], env=env)
    assert result.returncode == 0, result.stderr


def test_output_is_deterministic_and_covers_every_command() -> None:
    first, second = gen.render_all(), gen.render_all()
    assert first == second
    for prog in PROGRAMS:
        for rel in (
            f"man/{prog}.1",
            f"completions/bash/{prog}",
            f"completions/zsh/_{prog}",
            f"completions/fish/{prog}.fish",
        ):
            assert rel in first, rel
    assert all(text.isascii() for rel, text in first.items() if rel.startswith("man/"))


# --- man pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prog", PROGRAMS)
def test_man_page_has_sections_and_exit_code_table(prog: str) -> None:
    text = (REPO / "man" / f"{prog}.1").read_text()
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SEE ALSO"):
        assert f".SH {section}\n" in text, section
    table = text.split(".SH EXIT STATUS\n", 1)[1].split(".TE\n", 1)[0]
    assert table.startswith(".TS\n")
    for code, meaning in EXIT_CODE_TABLE:
        assert f"{code}@T{{\n{gen.roff(meaning)}\nT}}" in table, code
    assert "\\fBNO_COLOR\\fR" in text


def test_readme_exit_code_table_matches_the_commands() -> None:
    readme = (REPO / "README.md").read_text()
    for code, meaning in EXIT_CODE_TABLE:
        assert f"| {code} | {meaning} |" in readme, code
    assert "python tools/gen_docs.py" in readme


def test_option_aliases_and_defaults_are_in_the_pages() -> None:
    echoscu = (REPO / "man" / "echoscu.1").read_text()
    assert "\\fB\\-\\-calling\\-aet\\fR, \\fB\\-aet\\fR \\fITEXT\\fR" in echoscu
    assert "Default: \\fBECHOSCU\\fR" in echoscu
    assert "\\fB\\-\\-max\\-pdu\\fR, \\fB\\-pdu\\fR" in echoscu
    storescu = (REPO / "man" / "storescu.1").read_text()
    assert "\\fB\\-\\-recursive\\fR, \\fB+r\\fR" in storescu


def _manpage_text(page: Path) -> str | None:
    env = dict(os.environ, MANWIDTH="100", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    if shutil.which("man"):
        result = _run(["man", "-l", str(page)], env=env)
    elif shutil.which("groff"):
        result = _run(["groff", "-t", "-man", "-Tutf8", str(page)], env=env)
    else:
        return None
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result.stdout


def test_storescp_page_renders() -> None:
    text = _manpage_text(REPO / "man" / "storescp.1")
    if text is None:
        pytest.skip("neither man nor groff is installed")
    assert "storescp - Receive DICOM instances" in text
    assert "--handler" in text
    assert "--output-dir, -od PATH" in text
    assert "EXIT STATUS" in text
    # The tbl table was processed: codes and meanings side by side, no tbl source left.
    assert any(line.split()[:2] == ["130", "interrupted:"] for line in text.splitlines())
    assert any(line.split()[:2] == ["141", "stdout"] for line in text.splitlines())
    assert "T{" not in text
    assert "storescp 11112 -od /srv/dicom --handler mymod:on_store" in text


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("prog", PROGRAMS)
def test_every_page_formats_without_warnings(prog: str) -> None:
    result = _run(["groff", "-t", "-man", "-Tutf8", "-ww", "-z", f"man/{prog}.1"])
    assert result.returncode == 0
    assert result.stderr == ""


# --- examples ----------------------------------------------------------------------------------


def _parse(argv: list[str]) -> None:
    """Parse a command line with the real Click command (nothing runs)."""
    prog, args = argv[0], argv[1:]
    app = build_root() if prog == "dicomnet" else build_single(prog)
    command = typer.main.get_command(app)
    try:
        with command.make_context(prog, args) as ctx:
            if isinstance(command, click.Group):
                # What the group left for its subcommand: args minus the group's own options.
                rest = args[args.index(next(a for a in args if a in command.commands)) :]
                name, sub, sub_args = command.resolve_command(ctx, rest)
                assert sub is not None, name
                sub.make_context(name, sub_args, parent=ctx)
    except click.exceptions.Exit as exc:  # --help, --version
        assert exc.exit_code == 0


@pytest.mark.parametrize(
    "command", [c for examples in gen.EXAMPLES.values() for _, c in examples], ids=str
)
def test_examples_parse_with_the_real_commands(command: str) -> None:
    argv = shlex.split(command)
    assert argv[0] in PROGRAMS
    _parse(argv)


def test_a_wrong_example_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        _parse(["echoscu", "pacs", "104", "--no-such-option"])


# --- completions -------------------------------------------------------------------------------


BASH_DRIVER = """
source "completions/bash/$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
func=$(complete -p "$1" | sed -E 's/.* -F ([^ ]+) .*/\\1/')
"$func" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def _bash(script: str, *words: str) -> list[str]:
    result = _run(["bash", "-c", BASH_DRIVER, "driver", script, *words])
    assert result.returncode == 0, result.stderr
    return sorted(line for line in result.stdout.splitlines() if line)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_options_values_and_subcommands() -> None:
    assert _bash("echoscu", "echoscu", "--cal") == ["--called-aet", "--calling-aet"]
    assert _bash("echoscu", "echoscu", "-ae") == ["-aec", "-aet"]
    assert _bash("storescu", "storescu", "pacs", "104", "--format", "js") == ["json", "jsonl"]
    assert _bash("storescu", "storescu", "pacs", "104", "+") == ["+r", "+sd"]
    assert _bash("storescu", "storescu", "pacs", "104", "-aec", "X", "man/storesc") == [
        "man/storescp.1",
        "man/storescu.1",
    ]
    assert _bash("dicomnet", "dicomnet", "stor") == ["storescp", "storescu"]
    assert "--exit-after" in _bash("dicomnet", "dicomnet", "storescp", "11112", "--ex")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.parametrize("prog", PROGRAMS)
def test_zsh_scripts_are_valid(prog: str) -> None:
    result = _run(["zsh", "-n", f"completions/zsh/_{prog}"])
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_options() -> None:
    script = (
        "source completions/fish/dicomnet.fish; source completions/fish/storescu.fish; "
        "complete -C'storescu pacs 104 -a'; complete -C'dicomnet storescu --form'; "
        "complete -C'dicomnet echo'"
    )
    result = _run(["fish", "--no-config", "-c", script])
    assert result.returncode == 0, result.stderr
    names = {line.split("\t")[0] for line in result.stdout.splitlines()}
    assert {"-aec", "-aet", "--format", "echoscu"} <= names
