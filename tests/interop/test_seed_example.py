"""The user's specification, run as written: the example of ``seed/event-handlers.rst`` with only
its import lines changed must serve DCMTK ``echoscu`` and ``storescu``.

The example is kept here verbatim (``SEED_EXAMPLE``, with pynetdicom's imports as in the
specification). The test changes the two import lines, and the ``start_server`` call to a free
port without blocking (the issue allows that), then executes the rest exactly as written. To see
the handlers being called, the two functions the example defines are wrapped (recording their
arguments, return value or exception) before the example's ``handlers`` list is built from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ECHOSCU, STORESCU, run_dcmtk, sop_instance_of

pytestmark = pytest.mark.interop

# Verbatim from seed/event-handlers.rst (the literal block after "should be a list of ...").
SEED_EXAMPLE = """\
from pynetdicom import evt, AE
from pynetdicom.sop_class import Verification, CTImageStorage

def handle_echo(event):
    # Because we used a 2-tuple to bind `handle_echo` we
    #   have no extra parameters
    return 0x0000

def handle_store(event, arg1, arg2):
    # Because we used a 3-tuple to bind `handle_store` we
    #   have optional extra parameters
    assert arg1 == 'optional'
    assert arg2 == 'parameters'
    return 0x0000

handlers = [
    (evt.EVT_C_ECHO, handle_echo),
    (evt.EVT_C_STORE, handle_store, ['optional', 'parameters']),
]

ae = AE()
ae.add_supported_context(Verification)
ae.add_supported_context(CTImageStorage)
ae.start_server(("127.0.0.1", 11112), evt_handlers=handlers)
"""

IMPORTS = {
    "from pynetdicom import evt, AE\n": "from dicomnet import evt, AE\n",
    "from pynetdicom.sop_class import Verification, CTImageStorage\n": (
        "from dicomnet.sop_class import Verification, CTImageStorage\n"
    ),
}
START_SERVER = 'ae.start_server(("127.0.0.1", 11112), evt_handlers=handlers)\n'
START_SERVER_HERE = (
    'server = ae.start_server(("127.0.0.1", 0), evt_handlers=handlers, block=False)\n'
)
SPEC = Path(__file__).resolve().parents[3] / "shared" / "seed" / "event-handlers.rst"


@dataclass
class Call:
    """One call of a seed handler as the association thread made it."""

    handler: str
    event: str
    args: tuple[Any, ...]
    result: Any = None
    error: BaseException | None = None
    calling_ae_title: str = ""
    sop_instance_uid: str | None = None


def recorded(name: str, func: Callable[..., Any], calls: list[Call]) -> Callable[..., Any]:
    """Wrap ``func`` so that each call (arguments, result or exception) lands in ``calls``."""

    def wrapper(event: Any, *args: Any) -> Any:
        call = Call(
            name,
            event.event.name,
            args,
            calling_ae_title=event.assoc.requestor.ae_title.strip(),
            sop_instance_uid=getattr(
                getattr(event, "request", None), "AffectedSOPInstanceUID", None
            ),
        )
        calls.append(call)
        try:
            call.result = func(event, *args)
        except BaseException as exc:
            call.error = exc
            raise
        return call.result

    return wrapper


def adapted_seed() -> tuple[str, str]:
    """The example with our imports and a free, non-blocking server, split where ``handlers``
    is built: (the part defining the handler functions, the rest)."""
    text = SEED_EXAMPLE
    for old, new in [*IMPORTS.items(), (START_SERVER, START_SERVER_HERE)]:
        assert text.count(old) == 1, f"the seed example no longer contains {old!r}"
        text = text.replace(old, new)
    definitions, marker, rest = text.partition("handlers = [\n")
    assert marker, "the seed example no longer builds a 'handlers' list"
    return definitions, marker + rest


@pytest.fixture
def seed_server() -> Iterator[tuple[Any, list[Call]]]:
    """Run the adapted seed example; yield (the running server, the recorded handler calls)."""
    definitions, rest = adapted_seed()
    namespace: dict[str, Any] = {"__name__": "seed_example"}
    calls: list[Call] = []
    exec(compile(definitions, "<seed example: handlers>", "exec"), namespace)
    for name in ("handle_echo", "handle_store"):
        namespace[name] = recorded(name, namespace[name], calls)
    exec(compile(rest, "<seed example: AE>", "exec"), namespace)
    server = namespace["server"]
    try:
        yield server, calls
    finally:
        namespace["ae"].shutdown()


def literal_blocks(rst: str) -> list[str]:
    """The ``::`` literal blocks of a reStructuredText text, dedented."""
    blocks: list[str] = []
    lines = rst.splitlines()
    for i, line in enumerate(lines):
        if not line.rstrip().endswith("::"):
            continue
        body: list[str] = []
        for following in lines[i + 1 :]:
            if following.strip() and not following.startswith("    "):
                break
            body.append(following[4:] if following.startswith("    ") else "")
        blocks.append("\n".join(body).strip("\n") + "\n")
    return blocks


@pytest.mark.skipif(not SPEC.is_file(), reason="the specification is not beside the checkout")
def test_embedded_example_is_the_specification_verbatim() -> None:
    assert SEED_EXAMPLE in literal_blocks(SPEC.read_text(encoding="utf-8"))


def test_adaptation_changes_only_imports_and_the_server_address() -> None:
    definitions, rest = adapted_seed()
    original = SEED_EXAMPLE.splitlines()
    adapted = (definitions + rest).splitlines()
    changed = [(a, b) for a, b in zip(original, adapted, strict=True) if a != b]
    assert [a for a, _ in changed] == [*(k.rstrip("\n") for k in IMPORTS), START_SERVER.rstrip()]
    assert all(re.match(r"(from dicomnet|server = ae\.start_server)", b) for _, b in changed)


def test_seed_example_serves_dcmtk_echoscu_and_storescu(
    seed_server: tuple[Any, list[Call]], ct_files: list[Path]
) -> None:
    server, calls = seed_server
    port = str(server.server_address[1])

    echo = run_dcmtk(ECHOSCU, "-v", "-aet", "SEEDECHO", "127.0.0.1", port)
    assert echo.returncode == 0, echo.stderr
    assert "Received Echo Response (Success)" in echo.stderr

    store = run_dcmtk(STORESCU, "-v", "-aet", "SEEDSTORE", "127.0.0.1", port, *ct_files)
    assert store.returncode == 0, store.stderr
    assert store.stderr.count("Received Store Response (Success)") == len(ct_files)

    echoes = [c for c in calls if c.handler == "handle_echo"]
    stores = [c for c in calls if c.handler == "handle_store"]
    assert len(echoes) == 1
    assert echoes[0].event == "EVT_C_ECHO"
    assert echoes[0].args == ()
    assert echoes[0].calling_ae_title == "SEEDECHO"
    assert echoes[0].error is None and echoes[0].result == 0x0000

    assert len(stores) == len(ct_files)
    for call in stores:
        assert call.event == "EVT_C_STORE"
        # The 3-tuple's extra arguments reached the handler, and its asserts passed.
        assert call.args == ("optional", "parameters")
        assert call.error is None and call.result == 0x0000
        assert call.calling_ae_title == "SEEDSTORE"
    assert [c.sop_instance_uid for c in stores] == [sop_instance_of(p) for p in ct_files]
