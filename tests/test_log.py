"""dicomnet._log: module loggers that import logging only when a record could be shown, and
the command line's log set-up that waits for that import (cli._logging.setup)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from dicomnet._log import get_logger


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_below_warning_nothing_is_imported_and_from_warning_up_python_s_defaults_show_it() -> None:
    done = _run(
        "import sys\n"
        "from dicomnet._log import get_logger\n"
        "log = get_logger('dicomnet.test')\n"
        "log.debug('d'); log.info('i')\n"
        "print('logging' in sys.modules, log.isEnabledFor(20))\n"
        "log.warning('w %s', 1)\n"
        "print('logging' in sys.modules, log.isEnabledFor(20), log.isEnabledFor(30))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False False", "True False True"]
    assert done.stderr == "w 1\n"  # logging.lastResort, as without the wrapper


def test_records_name_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("dicomnet.test")
    with caplog.at_level(logging.DEBUG, logger="dicomnet.test"):
        log.debug("one %d", 1)
        log.info("two")
        log.warning("three")
        try:
            raise ValueError("four")
        except ValueError:
            log.exception("caught")
    assert [r.getMessage() for r in caplog.records] == ["one 1", "two", "three", "caught"]
    assert {r.funcName for r in caplog.records} == {"test_records_name_the_caller"}
    assert {r.pathname for r in caplog.records} == {__file__}
    assert caplog.records[-1].exc_info is not None


def test_the_command_line_set_up_waits_for_logging_and_then_applies() -> None:
    done = _run(
        "import sys\n"
        "from dicomnet.cli import _logging\n"
        "_logging.setup(_logging.WARNING)\n"
        "print('logging' in sys.modules)\n"
        "from dicomnet._log import get_logger\n"
        "get_logger('dicomnet.assoc').info('not shown')\n"
        "get_logger('dicomnet.assoc').warning('shown %s', 'here')\n"
        "import logging\n"
        "log = logging.getLogger('dicomnet')\n"
        "print(log.level, log.propagate, len(log.handlers))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False", "30 False 1"]
    assert done.stderr == "W: shown here\n"


def test_any_import_of_logging_applies_the_waiting_set_up() -> None:
    done = _run(
        "from dicomnet.cli import _logging\n"
        "_logging.setup(_logging.ERROR)\n"
        "import logging\n"  # e.g. a --handler module's
        "logging.getLogger('dicomnet.user').warning('dropped: -q')\n"
        "logging.getLogger('dicomnet.user').error('kept')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "E: kept\n"


@pytest.mark.parametrize("level", [10, 20])
def test_verbose_levels_set_up_at_once(level: int) -> None:
    done = _run(
        "import sys\n"
        "from dicomnet.cli import _logging\n"
        f"_logging.setup({level})\n"
        "print('logging' in sys.modules)\n"
        "from dicomnet._log import get_logger\n"
        "get_logger('dicomnet.assoc').info('shown')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True\n"
    assert done.stderr == "I: shown\n"
