"""``echoscu PEER PORT``: C-ECHO connectivity check with round-trip times.

``--repeat N`` sends N echoes on one association; ``--count N`` repeats the whole check (connect,
associate, echo, release) N times, ``--interval`` seconds apart, for monitoring. Kept free of
pydicom and rich on its normal path so a check starts fast.
"""

# No `from __future__ import annotations` here: Typer reads the command's signature at every
# start, and string annotations would each be eval()ed (about a millisecond in all).

from typing import Annotated

import typer

from dicomnet.cli._common import ScuCommon
from dicomnet.cli._echo import run
from dicomnet.cli._shared import scu_options

HELP = """Check DICOM connectivity with C-ECHO (Verification) and print round-trip times.

--handler without EVENT= handles each DIMSE message received (EVT_DIMSE_RECV)."""


@scu_options("ECHOSCU", handles="each DIMSE message received")
def echoscu(
    common: ScuCommon,
    repeat: Annotated[
        int, typer.Option("--repeat", "-r", min=1, help="C-ECHOs per association.")
    ] = 1,
    count: Annotated[
        int, typer.Option("--count", "-c", min=1, help="Associations to make (monitoring).")
    ] = 1,
    interval: Annotated[
        float, typer.Option("--interval", "-i", min=0.0, help="Seconds between associations.")
    ] = 1.0,
) -> None:
    code = run(common, repeat, count, interval)
    if code:
        raise typer.Exit(code)
