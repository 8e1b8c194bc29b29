"""qrscp --worklist against DCMTK's wlmscpfs loaded with the same worklist files (DCMTK's own
example worklist, converted with dump2dcm): DCMTK's findscu asks both the same Modality
Worklist queries with Scheduled Procedure Step Sequence keys, and the answers must agree.

Where they differ (not compared here): wlmscpfs does no wildcard matching of Scheduled Station
AE Title (``AA3*`` finds nothing; qrscp follows PS3.4 C.2.2.2.4, which allows it for AE), and
it ignores an entry whose Scheduled Procedure Step Sequence has two items ("incomplete"), where
qrscp matches each item (tests/archive/test_worklist.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.cli.conftest import Running, argv_for, cli_env
from tests.helpers import dcmtk_env, free_port, run_dcmtk, wait_listening

pytestmark = pytest.mark.interop

EXAMPLES = Path("/usr/share/doc/dcmtk/examples/wlistdb/OFFIS")
FINDSCU = "/usr/bin/findscu"
SPS = "ScheduledProcedureStepSequence[0]"


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(wlmscpfs port, qrscp port), both serving DCMTK's example worklist."""
    dumps = sorted(EXAMPLES.glob("*.dump"))
    if not dumps or shutil.which("dump2dcm") is None or shutil.which("wlmscpfs") is None:
        pytest.skip("DCMTK's example worklist (dcmtk package) is not installed")
    base = tmp_path_factory.mktemp("worklist")
    files = base / "WLSCP"  # wlmscpfs: one directory per called AE title
    files.mkdir()
    for dump in dumps:
        made = run_dcmtk("/usr/bin/dump2dcm", dump, files / f"{dump.stem}.wl")
        assert made.returncode == 0, made.stderr
    ours = base / "ours"
    shutil.copytree(files, ours)
    (files / "lockfile").touch()
    port = free_port()
    log = open(base / "wlmscpfs.log", "wb")  # noqa: SIM115 - closed below
    wlm = subprocess.Popen(
        ["/usr/bin/wlmscpfs", "-dfp", str(base), str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dcmtk_env(),
    )  # fmt: skip
    qrscp = Running(
        [*argv_for("qrscp"), "0", "--bind", "127.0.0.1", "-od", str(base / "store"),
         "--worklist", str(ours)],
        base, cli_env(),
    )  # fmt: skip
    try:
        wait_listening(wlm, "127.0.0.1", port)
        line = qrscp.wait_for("listening on")
        our_port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";").rsplit(":")[1])
        yield port, our_port
    finally:
        qrscp.stop()
        wlm.terminate()
        wlm.wait(10)
        log.close()


def answers(port: int, keys: list[str], out: Path) -> list[tuple[str, ...]]:
    """Each response as (PatientID, then step keyword=value for every returned step). Empty
    attributes are left out: for a zero-length item wlmscpfs adds the step keys it knows
    (ScheduledProcedureStepStatus, ...) empty where the file has none, qrscp returns the
    stored items as they are (PS3.4 C.2.2.2.6: the entire sequence)."""
    out.mkdir()
    args: list[str] = []
    for key in ["PatientID", *keys]:
        args += ["-k", key]
    result = run_dcmtk(FINDSCU, "-W", "-aec", "WLSCP", *args, "-X", "-od", out,
                       "127.0.0.1", str(port))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    found = []
    for path in sorted(out.glob("rsp*.dcm")):
        ds = dcmread(path)
        steps = [
            f"{e.keyword}={e.value}"
            for s in ds.get("ScheduledProcedureStepSequence", [])
            for e in s
            if e.VM  # an empty value has none
        ]
        found.append((str(ds.PatientID), *steps))
    return sorted(found)


@pytest.mark.parametrize(
    "keys",
    [
        [f"{SPS}.Modality=CT", f"{SPS}.ScheduledProcedureStepID"],
        [f"{SPS}.ScheduledProcedureStepID"],
        [f"{SPS}.ScheduledProcedureStepStartDate=19951016-", f"{SPS}.ScheduledProcedureStepID"],
        [f"{SPS}.ScheduledStationAETitle=AA32", f"{SPS}.Modality"],
        ["ScheduledProcedureStepSequence"],
        ["PatientName=V*", f"{SPS}.Modality=MR"],
    ],
)
def test_worklist_answers_as_wlmscpfs_does(
    ports: tuple[int, int], tmp_path: Path, keys: list[str]
) -> None:
    theirs = answers(ports[0], keys, tmp_path / "theirs")
    ours = answers(ports[1], keys, tmp_path / "ours")
    assert theirs, "no matches: the query should have some"
    assert ours == theirs
