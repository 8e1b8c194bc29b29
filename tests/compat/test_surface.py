"""pynetdicom 3.0's public names, at the same paths in dicomnet, with the same values,
signatures and defaults (pynetdicom itself is the reference, imported here as a test peer)."""

from __future__ import annotations

import inspect
import logging
import subprocess
import sys

import pytest

import dicomnet
from dicomnet import presentation
from dicomnet import sop_class as ours

pynetdicom = pytest.importorskip("pynetdicom")
from pynetdicom import sop_class as theirs  # noqa: E402

#: Names of pynetdicom's __all__ that are about pynetdicom itself, not its API.
NOT_OURS = {
    "PYNETDICOM_UID_PREFIX",
    "PYNETDICOM_IMPLEMENTATION_VERSION",
    "PYNETDICOM_IMPLEMENTATION_UID",
}


def test_every_top_level_name_is_here() -> None:
    wanted = [n for n in pynetdicom.__all__ if n not in NOT_OURS]
    missing = [n for n in wanted if not hasattr(dicomnet, n)]
    assert missing == []
    assert set(wanted) <= set(dicomnet.__all__)


def test_context_list_names_agree_with_the_presentation_module() -> None:
    lists = [n for n in dicomnet.__all__ if n.endswith("PresentationContexts")]
    assert sorted(lists) == presentation.context_list_names()


@pytest.mark.parametrize(
    "name", sorted(n for n in pynetdicom.__all__ if n.endswith("PresentationContexts"))
)
def test_context_lists(name: str) -> None:
    mine = [cx.abstract_syntax for cx in getattr(dicomnet, name)]
    reference = [cx.abstract_syntax for cx in getattr(pynetdicom, name)]
    if name == "AllStoragePresentationContexts":
        # ours also has the retired storage classes pydicom knows: acceptors receive them
        assert set(reference) <= set(mine)
    else:
        assert mine == reference
    first = getattr(dicomnet, name)[0]
    assert first.transfer_syntax == list(pynetdicom.DEFAULT_TRANSFER_SYNTAXES)


def test_context_lists_are_fresh_each_time() -> None:
    first = dicomnet.StoragePresentationContexts
    first[0].scp_role = True
    again = dicomnet.StoragePresentationContexts
    assert again is not first and again[0].scp_role is None


def test_every_sop_class_name_is_here_with_the_same_uid() -> None:
    names = {k: str(v) for k, v in vars(theirs).items() if isinstance(v, theirs.SOPClass)}
    assert len(names) > 200
    wrong = {k: v for k, v in names.items() if str(getattr(ours, k, None)) != v}
    assert wrong == {}
    # pynetdicom's own spellings are aliases of the DICOM keywords
    assert ours.ModalityWorklistInformationFind is ours.ModalityWorklistInformationModelFind


def test_well_known_instances() -> None:
    for name in ("DisplaySystemInstance", "PrinterInstance", "StorageCommitmentPushModelInstance"):
        assert getattr(ours, name) == getattr(theirs, name)


def test_transfer_syntax_lists() -> None:
    assert list(pynetdicom.DEFAULT_TRANSFER_SYNTAXES) == dicomnet.DEFAULT_TRANSFER_SYNTAXES
    assert set(pynetdicom.ALL_TRANSFER_SYNTAXES) <= set(dicomnet.ALL_TRANSFER_SYNTAXES)
    assert dicomnet.ALL_TRANSFER_SYNTAXES[:4] == dicomnet.DEFAULT_TRANSFER_SYNTAXES


@pytest.mark.parametrize("name", ["build_role", "build_context", "register_uid", "debug_logger"])
def test_signatures_and_defaults(name: str) -> None:
    mine = inspect.signature(getattr(dicomnet, name)).parameters
    reference = inspect.signature(getattr(pynetdicom, name)).parameters
    assert list(mine) == list(reference)
    assert [p.default for p in mine.values()] == [p.default for p in reference.values()]


def test_build_role_proposes_what_pynetdicom_proposes() -> None:
    uid = ours.CTImageStorage
    for kwargs in (
        {},
        {"scp_role": True},
        {"scu_role": True},
        {"scu_role": True, "scp_role": True},
    ):
        mine = dicomnet.build_role(uid, **kwargs)
        reference = pynetdicom.build_role(uid, **kwargs)
        assert (mine.sop_class_uid, mine.scu_role, mine.scp_role) == (
            reference.sop_class_uid,
            reference.scu_role,
            reference.scp_role,
        )


def test_debug_logger_prints_level_letters_on_stderr() -> None:
    script = (
        "import logging\n"
        "from dicomnet import debug_logger\n"
        "debug_logger(); debug_logger()\n"
        "logging.getLogger('dicomnet.assoc').debug('detail')\n"
        "logging.getLogger('dicomnet').info('Association Accepted')\n"
        "logging.getLogger('dicomnet').error('bad')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["D: detail", "I: Association Accepted", "E: bad"]


def test_debug_logger_sets_the_dicomnet_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    from dicomnet import _compat

    # debug_logger() is process-wide: undo all of it for the tests that follow
    monkeypatch.setattr(_compat, "_tracing", _compat._tracing)
    logger = logging.getLogger("dicomnet")
    before = (logger.level, list(logger.handlers))
    try:
        dicomnet.debug_logger()
        assert logger.level == logging.DEBUG
        assert len([h for h in logger.handlers if isinstance(h, logging.StreamHandler)]) >= 1
        assert _compat.tracing()
    finally:
        logger.setLevel(before[0])
        logger.handlers = before[1]


REGISTER = """
import dicomnet
from dicomnet.service_class import StorageServiceClass

uid = "1.2.246.352.70.1.70"
dicomnet.register_uid(uid, "FooStorage", StorageServiceClass)
from dicomnet.sop_class import FooStorage, uid_name

assert FooStorage == uid and uid_name(uid) == "FooStorage"
assert uid in [cx.abstract_syntax for cx in dicomnet.AllStoragePresentationContexts]
for args, wanted in (
    (("1.2.246.352.70.1.71", "FooFind", "QueryRetrieveServiceClass"), "dimse_msg_type"),
    (("1.2.246.352.70.1.72", "class", StorageServiceClass), "keyword"),
    (("1.2.x", "BarStorage", StorageServiceClass), "not a valid UID"),
):
    try:
        dicomnet.register_uid(*args)
    except ValueError as exc:
        assert wanted in str(exc), exc
    else:
        raise AssertionError(args)
dicomnet.register_uid("1.2.246.352.70.1.73", "FooMove", "QueryRetrieveServiceClass", "C-MOVE")
from dicomnet.sop_class import QueryRetrieveClasses
assert "1.2.246.352.70.1.73" in QueryRetrieveClasses
print("ok")
"""


def test_register_uid() -> None:
    """In a fresh interpreter: registering changes the SOP class tables of the process."""
    done = subprocess.run(
        [sys.executable, "-c", REGISTER], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


TRACED = """
from dicomnet import AE, debug_logger
from dicomnet.sop_class import Verification

debug_logger()
scp = AE("SCP")
scp.add_supported_context(Verification)
server = scp.start_server(("127.0.0.1", 0), block=False)
ae = AE()
ae.add_requested_context(Verification)
assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="SCP")
print(hex(assoc.send_c_echo().Status))
assoc.release()
server.shutdown()
"""


def test_debug_logger_traces_associations() -> None:
    """After debug_logger(), the associations an AE makes report their steps (INFO) and PDUs
    (DEBUG), as pynetdicom's do; before it, nothing."""
    done = subprocess.run(
        [sys.executable, "-c", TRACED], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "0x0\n"
    lines = done.stderr.splitlines()
    for wanted in (
        "I: Requesting Association with SCP at 127.0.0.1:",
        "I: Association Received from DICOMNET",
        "I: Association Accepted (1 presentation context(s) accepted)",
        "I: Sending C-ECHO-RQ: MessageID 1",
        "I: Received C-ECHO-RSP: MessageIDBeingRespondedTo 1, Status 0x0000",
        "D: Sent P-DATA-TF: context 1 command (last), ",
        "I: Association Released",
    ):
        assert any(line.startswith(wanted) for line in lines), (wanted, done.stderr)
    quiet = TRACED.replace("debug_logger()\n", "")
    done = subprocess.run(
        [sys.executable, "-c", quiet], capture_output=True, text=True, timeout=60, check=True
    )
    assert (done.stdout, done.stderr) == ("0x0\n", "")


#: Defaults we differ on, on purpose (README, "Coming from pynetdicom"): numbered message IDs,
#: medium priority; max_pdu None means the AE's maximum_pdu_size (16382 by default, as theirs).
DIFFERENT_DEFAULTS = {"msg_id", "priority", "max_pdu"}

METHODS = [
    ("AE", name)
    for name in (
        "associate",
        "start_server",
        "make_server",
        "add_requested_context",
        "add_supported_context",
        "remove_requested_context",
        "remove_supported_context",
        "shutdown",
    )
] + [
    ("Association", name)
    for name in (
        "send_c_echo",
        "send_c_store",
        "send_c_find",
        "send_c_get",
        "send_c_move",
        "send_c_cancel",
        "send_n_action",
        "send_n_create",
        "send_n_delete",
        "send_n_event_report",
        "send_n_get",
        "send_n_set",
        "release",
        "bind",
        "unbind",
        "get_events",
        "get_handlers",
    )
]


@pytest.mark.parametrize(("cls", "name"), METHODS)
def test_method_parameters(cls: str, name: str) -> None:
    """Their parameters, in their order and with their defaults, lead ours (we may add more
    after them): positional and keyword calls written for pynetdicom work."""
    import dicomnet.association

    mine_cls = dicomnet.AE if cls == "AE" else dicomnet.association.Association
    theirs_cls = pynetdicom.AE if cls == "AE" else pynetdicom.association.Association
    mine = list(inspect.signature(getattr(mine_cls, name)).parameters.values())
    reference = list(inspect.signature(getattr(theirs_cls, name)).parameters.values())
    reference = [p for p in reference if p.kind is not p.VAR_KEYWORD]
    assert [p.name for p in mine[: len(reference)]] == [p.name for p in reference]
    for ours_p, theirs_p in zip(mine, reference, strict=False):
        if ours_p.name not in DIFFERENT_DEFAULTS:
            assert (ours_p.default is ours_p.empty) == (theirs_p.default is theirs_p.empty), (
                ours_p.name
            )
            if theirs_p.default is not theirs_p.empty and not isinstance(
                theirs_p.default, str | int | bool | type(None)
            ):
                continue
            assert ours_p.default == theirs_p.default or theirs_p.default is theirs_p.empty, (
                ours_p.name,
                ours_p.default,
                theirs_p.default,
            )
