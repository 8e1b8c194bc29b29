"""The root ``dicomnet`` Typer app and the console-script entry points.

Each tool is a subcommand of ``dicomnet`` and also a console script of its own (``echoscu``,
``storescp``, ``storescu``); both run the same command function, so help text has one source.
``echoscu`` parses its common invocations without Typer (:mod:`dicomnet.cli._startup`); Typer
is imported only when an app is built.
"""

from __future__ import annotations

import functools
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dicomnet.cli._console import (
    EXIT_CODES_HELP,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STDOUT_CLOSED,
    EXIT_USAGE,
    CommandError,
    error,
    stdout_gone,
)

if TYPE_CHECKING:
    import typer

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, one-line summary)
    "echoscu": (
        "dicomnet.cli.echoscu",
        "Check connectivity with C-ECHO and print round-trip times.",
    ),
    "storescp": (
        "dicomnet.cli.storescp",
        "Receive DICOM instances (C-STORE SCP) into a directory.",
    ),
    "storescu": ("dicomnet.cli.storescu", "Send DICOM files and directories (C-STORE SCU)."),
    "findscu": ("dicomnet.cli.findscu", "Query with C-FIND and print the matches."),
    "getscu": ("dicomnet.cli.getscu", "Retrieve with C-GET into a directory."),
    "movescu": ("dicomnet.cli.movescu", "Retrieve with C-MOVE, optionally receiving here."),
    "qrscp": (
        "dicomnet.cli.qrscp",
        "Query/Retrieve archive node: store, index, answer C-FIND/C-GET/C-MOVE.",
    ),
}

EPILOG = EXIT_CODES_HELP


def _outcome(
    name: str,
    func: Callable[..., object],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    passthrough: tuple[type[BaseException], ...] = (),
) -> int:
    """Call ``func``; our errors become one stderr line and the documented exit code, which is
    returned (when it returns: the exit code it returns, if any, else 0). ``passthrough``:
    exceptions raised on as they are."""
    try:
        code = func(*args, **kwargs)
    except CommandError as exc:
        if str(exc):
            error(name, str(exc))
        return exc.code
    except BrokenPipeError:
        stdout_gone()
        return EXIT_STDOUT_CLOSED
    except KeyboardInterrupt:
        error(name, "interrupted")
        return EXIT_INTERRUPTED
    except SystemExit:
        raise
    except Exception as exc:
        if isinstance(exc, passthrough):
            raise
        import logging  # here: --help and a plain run need no logging module

        if logging.getLogger("dicomnet").isEnabledFor(logging.DEBUG):
            logging.getLogger("dicomnet").exception("internal error")
        error(name, f"internal error: {type(exc).__name__}: {exc} (use -d for a traceback)")
        return EXIT_INTERNAL
    return code if isinstance(code, int) else EXIT_OK


def _guard(name: str, func: Callable[..., None]) -> Callable[..., None]:
    """Turn our errors into one stderr line and the documented exit code."""
    import typer

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        code = _outcome(name, func, args, kwargs, (typer.Exit, typer.Abort))
        if code != EXIT_OK:
            raise typer.Exit(code)

    return wrapper


def _command(name: str) -> tuple[Callable[..., None], str]:
    import importlib

    module = importlib.import_module(COMMANDS[name][0])
    return _guard(name, getattr(module, name)), module.HELP


def _settings() -> dict[str, Any]:
    return {
        "add_completion": False,
        "pretty_exceptions_enable": False,
        "no_args_is_help": True,
        "context_settings": {"help_option_names": ["-h", "--help"]},
    }


def build_root(commands: list[str] | None = None, *, listing: bool = False) -> typer.Typer:
    """The ``dicomnet`` app with every (or the given) subcommand. ``listing``: each subcommand
    is only its name and one-line summary, all the root's own help shows of it (for
    :data:`ROOT_ONLY` invocations, which run no subcommand: importing the seven command modules
    and building their options is most of such a start)."""
    import typer

    from dicomnet.cli._options import Version

    root = typer.Typer(
        name="dicomnet",
        help="DICOM network utilities: echoscu, storescp, storescu, findscu, getscu, movescu, "
        "qrscp.",
        epilog=EPILOG,
        **_settings(),
    )

    def main(version: bool = False) -> None:
        """DICOM network utilities on a networking core of their own."""

    main.__annotations__ = {"version": Version, "return": None}  # evaluated: Version is local
    root.callback()(main)

    for name in commands or list(COMMANDS):
        func, help_text = _listed(name) if listing else _command(name)
        root.command(name, help=help_text, epilog=EPILOG, short_help=COMMANDS[name][1])(func)
    return root


#: ``dicomnet`` arguments that run no subcommand: the root's help (also shown when no argument
#: is given) and its version.
ROOT_ONLY = frozenset(("-h", "--help", "--version"))


def _listed(name: str) -> tuple[Callable[..., None], str]:
    def not_run() -> None:
        raise AssertionError(f"{name}: the listing's stand-in was run")  # main() never lets it

    return not_run, COMMANDS[name][1]


def build_single(name: str) -> typer.Typer:
    """A one-command app for the ``name`` console script."""
    import typer

    app = typer.Typer(name=name, epilog=EPILOG, **_settings())
    func, help_text = _command(name)
    app.command(name, help=help_text, epilog=EPILOG)(func)
    # A single registered command makes Typer run it directly (no subcommand word).
    return app


def _check_glued(prog: str, argv: list[str]) -> None:
    from dicomnet.cli._options import GLUED_ALIASES, GLUED_IDENTITY_ALIASES

    for arg in argv:
        if arg == "--":
            return
        for alias in (*GLUED_ALIASES, *GLUED_IDENTITY_ALIASES):
            if arg.startswith(alias) and arg != alias and not arg.startswith("--"):
                rest = arg[len(alias) :]
                if rest.startswith("="):
                    continue
                shown = (rest, arg) if alias != "-pwd" else ("PASSWORD", "-pwd...")  # unechoed
                error(
                    prog,
                    f"option {alias} takes its value as a separate argument: "
                    f"write '{alias} {shown[0]}' (got {shown[1]!r})",
                )
                raise SystemExit(EXIT_USAGE)


def _tls_profile_flags(argv: list[str]) -> list[str]:
    """DCMTK's profile flags (+py, +px, +pz, +pa) as --tls-profile (before any ``--``)."""
    from dicomnet.cli._options import DCMTK_TLS_PROFILES

    if not any(arg in DCMTK_TLS_PROFILES for arg in argv):
        return argv
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [
        f"--tls-profile={DCMTK_TLS_PROFILES[a]}" if a in DCMTK_TLS_PROFILES else a
        for a in argv[:end]
    ]
    return flags + argv[end:]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _rewrite_equals(argv: list[str]) -> list[str]:
    """DCMTK's ``-x=``/``+x=`` as the long options they stand for (up to ``--``)."""
    from dicomnet.cli._options import EQUALS_ALIASES

    if "--" in argv:
        cut = argv.index("--")
        return [EQUALS_ALIASES.get(a, a) for a in argv[:cut]] + argv[cut:]
    return [EQUALS_ALIASES.get(a, a) for a in argv]


def _run(app: typer.Typer, prog: str) -> None:
    argv = _rewrite_equals(_tls_profile_flags(sys.argv[1:]))
    _check_glued(prog, argv)
    _start()
    if "NO_COLOR" in os.environ:
        # rich's own NO_COLOR support drops colours but keeps bold and dim. Typer's help and
        # usage errors get no style at all when its rich console is not a terminal; the flag is
        # read when typer.rich_utils is first imported (lazily, so setting it here costs
        # nothing). Our own consoles use color_system=None (_console.console).
        os.environ.setdefault("_TYPER_FORCE_DISABLE_TERMINAL", "1")
    from dicomnet.cli._startup import defer_rich_extras

    defer_rich_extras()  # help and usage errors: typer.rich_utils without markdown-it, pygments
    _started()
    stdout_before = _identity(1)
    try:
        app(args=argv, prog_name=prog)
    except BrokenPipeError:  # --help or --version into a closed pipe
        stdout_gone()
        raise SystemExit(EXIT_STDOUT_CLOSED) from None
    except SystemExit as exc:
        # Click and rich end with exit 1 when they meet a closed stdout (help text, usage
        # errors), having pointed fd 1 at /dev/null (rich) or wrapped sys.stdout (click): the
        # same event as ours, so the same code.
        replaced = (
            _identity(1) != stdout_before or type(sys.stdout).__name__ == "PacifyFlushWrapper"
        )
        if exc.code == 1 and replaced:
            stdout_gone()
            raise SystemExit(EXIT_STDOUT_CLOSED) from None
        raise


def _start() -> None:
    # One rule for interruption: SIGTERM is handled as SIGINT (Ctrl-C). SCUs cancel, abort and
    # exit 130; storescp installs its own handlers and stops cleanly with 0.
    signal.signal(signal.SIGTERM, _interrupt)


def _starting() -> None:
    # Start-up allocates many objects and frees few (modules, classes, Typer's parameters):
    # no collection can free anything then, so none runs until _started (about 3 ms of a
    # one-shot echoscu).
    gc.disable()
    from dicomnet.cli._pixels import console_script

    console_script()


def _started() -> None:
    # What start-up has built so far (Typer, click, typing, our modules) lives until exit: take
    # it out of the garbage collector's sight, so that neither later collections nor the final
    # one at interpreter exit walk it again (about 7 ms of a one-shot command's run). Objects
    # made from here on, the user's handlers' included, are collected as usual.
    gc.freeze()
    gc.enable()


def _run_fast(prog: str, func: Callable[..., object], *args: Any) -> None:
    """Run a command whose options :mod:`dicomnet.cli._startup` parsed, as the Typer app would:
    the same guard, signals and exit codes."""
    _start()
    _started()
    raise SystemExit(_outcome(prog, func, args, {}))


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def main() -> None:
    """``dicomnet`` console script."""
    _starting()
    argv = sys.argv[1:]
    if all(arg in ROOT_ONLY for arg in argv):
        _run(build_root(listing=True), "dicomnet")
        return
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else None
    _run(build_root(wanted), "dicomnet")


def echoscu_main() -> None:
    _starting()
    from dicomnet.cli._startup import echoscu_args

    parsed = echoscu_args(sys.argv[1:])
    if parsed is None:
        _run(build_single("echoscu"), "echoscu")
    else:
        import dicomnet.ae  # noqa: F401  (what the echo needs, loaded while no collection runs)
        from dicomnet.cli._echo import run

        _run_fast("echoscu", run, *parsed)


def storescp_main() -> None:
    _starting()
    _run(build_single("storescp"), "storescp")


def storescu_main() -> None:
    _starting()
    _run(build_single("storescu"), "storescu")


def findscu_main() -> None:
    _starting()
    _run(build_single("findscu"), "findscu")


def getscu_main() -> None:
    _starting()
    _run(build_single("getscu"), "getscu")


def movescu_main() -> None:
    _starting()
    _run(build_single("movescu"), "movescu")


def qrscp_main() -> None:
    _starting()
    _run(build_single("qrscp"), "qrscp")
